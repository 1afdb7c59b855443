"""Repository passwords of backup plans, from where the plan says: an environment variable (here), a
Prefect Secret block or a KMS-wrapped password stored beside the repository."""

from __future__ import annotations

import os

from multicloud.config import Profile
from multicloud.config.backups import PasswordSource
from multicloud.core.errors import InvalidInput


def repository_password(source: PasswordSource, profile: Profile, repository: str, plan: str) -> str:
    """The password of `repository` of `plan`. Raises InvalidInput naming the plan and the source when
    it is missing or empty."""
    if source.env is not None:
        value = os.environ.get(source.env, "")
        if not value:
            raise InvalidInput(f"environment variable {source.env} (password.env) is not set or empty",
                               target=f"plan {plan}, repository {repository}")
        return value
    raise InvalidInput("this password source (password.secret / password.kms) is not available in this build",
                       target=f"plan {plan}, repository {repository}")
