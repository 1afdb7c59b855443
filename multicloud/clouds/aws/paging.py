"""EC2 and RDS reads shared by the rightsizing readers (inventory, shape catalog, spot prices): every
listing through boto3's paginator, each page counted as one request, and SDK errors raised as the
taxonomy naming the service and operation."""

from __future__ import annotations

from collections import Counter
from typing import Iterator

from botocore.exceptions import BotoCoreError, ClientError

from multicloud.clouds.aws.errors import map_error


def pages(api, operation: str, key: str, requests: Counter, page_size: int, **params) -> Iterator[dict]:
    """The items under `key` of every page of `operation`, `page_size` a page; each page adds one to
    `requests[operation]`."""
    paginator = api.get_paginator(operation).paginate(**params, PaginationConfig={"PageSize": page_size})
    try:
        for page in paginator:
            requests[operation] += 1
            yield from page.get(key, [])
    except (ClientError, BotoCoreError) as exc:
        raise _mapped(api, operation, exc) from exc


def call(api, operation: str, requests: Counter, **params) -> dict:
    """One request of `operation`, counted."""
    requests[operation] += 1
    try:
        return getattr(api, operation)(**params)
    except (ClientError, BotoCoreError) as exc:
        raise _mapped(api, operation, exc) from exc


def _mapped(api, operation: str, exc: Exception) -> Exception:
    return map_error(exc, target=f"{api.meta.service_model.service_name}:{operation}",
                     service=str(api.meta.service_model.service_id))
