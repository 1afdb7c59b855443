"""The huge case's Azurite preload (bench/azurite_at_scale.js) changes how fast Azurite answers,
never what: the same uploads, snapshots, deletes of every kind, batch deletes and block commits
leave the same blobs, listings and errors on a preloaded Azurite as on a stock one."""

from __future__ import annotations

from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import BlobServiceClient

from deployments import cloudstack
from deployments.loop import free_port
from deployments.paths import REPO_ROOT
from deployments.processes import ManagedProcess
from multicloud.clouds.azure.session import AZURITE_KEY

PRELOAD = REPO_ROOT / "bench" / "azurite_at_scale.js"


@pytest.fixture(scope="module")
def azurites(tmp_path_factory):
    started = []
    try:
        for name, env in (("stock", {}), ("at-scale", {"NODE_OPTIONS": f"--require {PRELOAD}"})):
            state = tmp_path_factory.mktemp(name)
            port = free_port()
            command, health = cloudstack.azurite_command(port, state / "data", in_memory=True)
            process = ManagedProcess(f"azurite-{name}", command, health, state, cwd=state, port=port, env=env)
            process.start()
            started.append(process)
            process.wait_healthy()
            started[-1].service = BlobServiceClient(cloudstack.azurite_connection(port).endpoint, credential={
                "account_name": cloudstack.AZURITE_ACCOUNT, "account_key": AZURITE_KEY})
        yield [p.service for p in started]
    finally:
        for process in started:
            process.stop()


def error(call) -> str | None:
    try:
        call()
    except HttpResponseError as exc:
        return exc.error_code or str(exc.status_code)
    return None


def exercise(service: BlobServiceClient) -> dict:
    """Every kind of write and delete Azurite offers a client, and what is left afterwards."""
    container = service.create_container("scale")
    for i in range(200):
        container.upload_blob(f"k/{i:04d}", f"body {i}".encode())
    snapshots = {i: container.get_blob_client(f"k/{i:04d}").create_snapshot()["snapshot"] for i in range(10)}
    container.get_blob_client("k/0003").create_snapshot()
    outcomes = {
        "include": error(lambda: container.delete_blob("k/0001", delete_snapshots="include")),
        "only": error(lambda: container.delete_blob("k/0002", delete_snapshots="only")),
        "one snapshot": error(lambda: container.get_blob_client("k/0003", snapshot=snapshots[3]).delete_blob()),
        "base with snapshots": error(lambda: container.delete_blob("k/0004")),
        "plain": error(lambda: container.delete_blob("k/0050")),
        "missing": error(lambda: container.delete_blob("k/9999")),
        "again": error(lambda: container.delete_blob("k/0050")),
    }
    batch = [r.status_code for r in container.delete_blobs(*[f"k/{i:04d}" for i in range(20, 60)],
                                                           raise_on_any_failure=False)]
    container.upload_blob("k/0100", b"replaced, longer", overwrite=True)
    blocks = container.get_blob_client("b/blocks")
    blocks.stage_block("AAAA", b"one ")
    blocks.stage_block("BBBB", b"two")
    blocks.commit_block_list(["AAAA", "BBBB"])
    staged = container.get_blob_client("b/staged")
    staged.stage_block("CCCC", b"never committed")
    # Names come in order; a blob's snapshots and base have no order of their own in stock Azurite
    # (its index keeps them newest first until a batch removal rebuilds it in insertion order), so
    # the entries of one name are compared as a set.
    listed = [(b.name, b.size, bool(b.snapshot)) for b in container.list_blobs(include=["snapshots"])]
    assert [name for name, _, _ in listed] == sorted(name for name, _, _ in listed)
    listed.sort()
    return {"outcomes": outcomes, "batch": batch, "listed": listed,
            "bodies": [container.download_blob(k).readall() for k in ("k/0000", "k/0100", "b/blocks", "k/0199")],
            "blocks": [b.id for b in staged.get_block_list("uncommitted")[1]],
            "prefix": [b.name for b in container.list_blobs(name_starts_with="k/006")]}


def test_a_preloaded_azurite_answers_as_a_stock_one(azurites):
    stock, at_scale = (exercise(service) for service in azurites)
    assert at_scale == stock
    names = [name for name, _, snapshot in stock["listed"] if not snapshot]
    assert "k/0001" not in names and "k/0050" not in names and "k/0030" not in names and "k/0004" in names
    assert stock["outcomes"]["base with snapshots"] == "SnapshotsPresent" and stock["outcomes"]["missing"] == "BlobNotFound"
    assert stock["batch"] == [202] * 30 + [404] + [202] * 9 and stock["bodies"][2] == b"one two" and stock["blocks"] == ["CCCC"]
