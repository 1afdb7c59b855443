"""The contract suite runs once per registered backend; each backend's registry entry says how to
get a fresh store of it. No per-backend branch here: adding a backend adds its runs."""

from __future__ import annotations

import pytest

from multicloud.clouds import open_store, registry
from multicloud.clouds.registry import Backend, ContractEnv


@pytest.fixture(params=[b.scheme for b in registry.backends()])
def backend(request) -> Backend:
    return registry.backend(request.param)


@pytest.fixture(scope="module")
def contract_env(request, tmp_path_factory) -> ContractEnv:
    def profile():
        # 1,000 a page everywhere, so the > 2,500-key listing crosses pages on every cloud.
        local = request.getfixturevalue("local_profile")
        return local.model_copy(update={"connections": [
            c.model_copy(update={"list_page_size": 1000}) for c in local.connections]})

    return ContractEnv(tmp_dir=lambda: str(tmp_path_factory.mktemp("store")), profile=profile)


@pytest.fixture(scope="module")
def open_url(contract_env):
    """Opens a URL of a backend with the contract profile (read only for cloud backends)."""
    return lambda backend, url: open_store(url, profile=contract_env.profile() if backend.cloud else None)


@pytest.fixture(scope="module")
def new_store(contract_env, open_url):
    """Returns a function giving a new, empty store (own bucket) of a backend, at an optional prefix."""

    def make(backend: Backend, prefix: str = ""):
        return open_url(backend, backend.contract.fresh(contract_env, backend).rstrip("/") + "/" + prefix)

    return make


@pytest.fixture
def make_store(backend, new_store):
    return lambda prefix="": new_store(backend, prefix)


@pytest.fixture
def store(make_store):
    s = make_store()
    yield s
    s.close()
