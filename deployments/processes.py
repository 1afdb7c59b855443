"""Background services started by PID file: start in their own process group, health-check
over HTTP, stop by PID. Used by the local cloud stack and the demo."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

# The machine's CA variables break some tools against plain-HTTP loopback endpoints.
_CA_VARS = ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")


@dataclass
class ManagedProcess:
    name: str
    command: list[str]
    health_url: str | None
    state_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    port: int | None = None
    # A process that may bind port 0 writes its bound port here; `health_url` then says `{port}`.
    port_file: Path | None = None

    def __post_init__(self) -> None:
        self._asked_port = self.port

    @property
    def pidfile(self) -> Path:
        return self.state_dir / f"{self.name}.pid"

    @property
    def logfile(self) -> Path:
        return self.state_dir / "logs" / f"{self.name}.log"

    def pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return pid if alive(pid) else None

    def bound_health_url(self) -> str | None:
        """The health URL on the bound port (`port` updated from `port_file`); None while unknown."""
        if self.port_file is None:
            return self.health_url
        if self.port_file.exists():
            self.port = int(self.port_file.read_text())
        return self.health_url.format(port=self.port) if self.port else None

    def healthy(self) -> bool:
        if self.health_url is None:
            return self.pid() is not None
        url = self.bound_health_url()
        if url is None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return resp.status < 500
        except urllib.error.HTTPError as exc:
            return exc.code < 500
        except OSError:
            return False

    def start(self) -> None:
        self.logfile.parent.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in _CA_VARS}
        env.update(self.env)
        if self.port_file is not None:
            self.port_file.unlink(missing_ok=True)
            self.port = self._asked_port
        with open(self.logfile, "ab") as log:
            proc = subprocess.Popen(
                self.command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, env=env, cwd=self.cwd,
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
        url = self.bound_health_url() or self.health_url
        raise RuntimeError(f"{self.name} did not answer {url} within {timeout:.0f}s; see {self.logfile}")

    def ensure(self, timeout: float = 60) -> bool:
        """Start unless already running and healthy; True if this call started it."""
        if self.pid() is not None and self.healthy():
            return False
        if self.health_url and self.healthy():
            raise RuntimeError(f"{self.health_url} is answered by a process this project did not start ({self.name})")
        self.stop()
        self.start()
        self.wait_healthy(timeout)
        return True

    def stop(self, grace: float = 10) -> bool:
        """SIGTERM the process group, SIGKILL after `grace` seconds; True if it was running."""
        pid = self.pid()
        self.pidfile.unlink(missing_ok=True)
        if self.port_file is not None:
            self.port_file.unlink(missing_ok=True)
        if pid is None:
            return False
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and alive(pid):
            time.sleep(0.1)
        if alive(pid):
            _signal_group(pid, signal.SIGKILL)
        return True


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def alive(pid: int) -> bool:
    """True for a running process; a zombie (exited, not yet reaped) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


#: `sqlite` (the default: a file under the state folder, no set-up) or `postgresql` (a PostgreSQL
#: server of the project's own, started and stopped with the Prefect server).
PREFECT_DB_ENV = "MULTICLOUD_PREFECT_DB"
PREFECT_DB_KINDS = ("sqlite", "postgresql")
PREFECT_DATABASE = "prefect"
# Prefect's migrations index names by trigrams; the pgserver wheel lacks the extension.
PREFECT_EXTENSIONS = ("pg_trgm",)
# Flow runs say they are alive this often (Prefect's minimum), so the crash automation that
# deployments.bootstrap creates can mark a run crashed when its worker's machine is gone.
HEARTBEAT_SECONDS = 30


def prefect_database_kind() -> str:
    """The database the local Prefect server runs on, from MULTICLOUD_PREFECT_DB."""
    kind = os.environ.get(PREFECT_DB_ENV, "").strip().lower() or "sqlite"
    if kind not in PREFECT_DB_KINDS:
        raise ValueError(f"{PREFECT_DB_ENV}={kind!r}: expected one of {', '.join(PREFECT_DB_KINDS)}")
    return kind


def local_prefect_postgres(state_dir: Path):
    """The PostgreSQL server of a local Prefect server, its cluster kept under `state_dir/postgres`
    (the shared `LocalPostgres` helper)."""
    from multicloud.testing.postgres import LocalPostgres

    return LocalPostgres(root=state_dir / "postgres", extensions=PREFECT_EXTENSIONS)


def prefect_database_url(postgres) -> str:
    """The `prefect` database on a running `LocalPostgres` (created when missing), as the SQLAlchemy
    asyncpg URL that PREFECT_API_DATABASE_CONNECTION_URL takes."""
    dsn = postgres.create_database(PREFECT_DATABASE, exist_ok=True)
    return "postgresql+asyncpg://" + dsn.split("://", 1)[1]


def local_prefect_env(state_dir: Path, port: int, host: str = "127.0.0.1") -> dict[str, str]:
    """Environment of a local Prefect server (SQLite under `state_dir`) and of its clients,
    flows on the local clouds, heartbeats on, no telemetry."""
    from deployments.paths import local_state_dir

    return {
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_SECONDS),
        "PREFECT_HOME": str(state_dir / "prefect-home"),
        "PREFECT_API_URL": f"http://{host}:{port}/api",
        "PREFECT_SERVER_API_HOST": host,
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "MULTICLOUD_PROFILE": "local",
        "MULTICLOUD_LOCAL_DIR": str(local_state_dir()),
    }


def local_prefect_server(state_dir: Path, port: int, host: str = "127.0.0.1", database_url: str | None = None,
                         settings: dict[str, str] | None = None) -> ManagedProcess:
    """`prefect server start` on host:port with every server service, health-checked at
    /api/health, stopped by PID; on SQLite under `state_dir`, or on `database_url` (only the
    server's environment holds it: it carries the database password). `settings`: more
    PREFECT_* variables for the server."""
    import sys

    from deployments.paths import REPO_ROOT

    env = local_prefect_env(state_dir, port, host)
    if database_url:
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = database_url
    return ManagedProcess("prefect-server", [str(Path(sys.executable).parent / "prefect"), "server", "start"],
                          f"http://{host}:{port}/api/health", state_dir,
                          env={**env, **(settings or {})}, cwd=REPO_ROOT, port=port)
