"""One fixture per backend; adding a backend is one entry here plus its module."""

from __future__ import annotations

import pytest

from multicloud.clouds import create_bucket, open_store
from tests.support import unique_name

BACKENDS = ["mem", "file", "s3", "az", "gs"]
_CLOUD = {"s3": "aws", "az": "azure", "gs": "gcp"}


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def make_store(backend, tmp_path_factory, request):
    """Returns a function giving a fresh, empty store (own bucket) on `backend`, at an optional prefix."""

    def make(prefix: str = ""):
        return new_store(backend, request, tmp_path_factory, prefix)

    return make


def new_store(backend, request, tmp_path_factory, prefix: str = ""):
    name = unique_name("c")
    if backend == "mem":
        return open_store(f"mem://{name}/{prefix}")
    if backend == "file":
        root = tmp_path_factory.mktemp("store")
        return open_store(f"file://{root}/{prefix}".rstrip("/"))
    # 1,000 a page everywhere, so the > 2,500-key listing crosses pages on every cloud.
    local = request.getfixturevalue("local_profile")
    profile = local.model_copy(update={"connections": [
        c.model_copy(update={"list_page_size": 1000}) for c in local.connections]})
    conn = profile.connection_for(_CLOUD[backend])
    create_bucket(conn, name)
    return open_store(f"{backend}://{name}/{prefix}", profile=profile)


@pytest.fixture
def store(make_store):
    s = make_store()
    yield s
    s.close()
