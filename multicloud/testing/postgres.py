"""A PostgreSQL server of its own for tests, the demo and benchmarks: initdb in a temporary folder
(or a kept one, for the demo's Prefect database), served on 127.0.0.1 on a free port with a password,
stopped by the code that started it. As root (CI) the server runs as an unprivileged user, since
PostgreSQL refuses to run as root."""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from multicloud.engine.postgres import PG_BIN_ENV, QueryResult, pg_tool, run_sql
from multicloud.core.backups.postgres import quote_ident, quote_literal

SUPERUSER = "postgres"
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 30.0
# Used, in this order, for the server process when running as root; both exist on Debian (postgres
# once the postgresql packages are installed).
_UNPRIVILEGED_USERS = ("postgres", "nobody")
# A throwaway server need not survive a crash: no fsync makes initdb and every test faster.
_SETTINGS = {"fsync": "off", "full_page_writes": "off", "synchronous_commit": "off", "max_connections": "50"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _sharedir(bin_dir: Path) -> Path | None:
    try:
        out = subprocess.run([str(bin_dir / "pg_config"), "--sharedir"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return Path(out.stdout.strip())


def server_bin(extensions: tuple[str, ...] = ()) -> Path:
    """The folder of `initdb` and `postgres`: the one `pg_tool` picks (so client and server match),
    unless it lacks one of `extensions`; then the first installation that has them all, of
    $MULTICLOUD_PG_BIN, the pgserver wheel and Debian's /usr/lib/postgresql/<version>/bin (newest
    first). The pgserver wheel ships no contrib extensions (no pg_trgm, which a Prefect server needs)."""
    default = Path(pg_tool("postgres")).parent
    candidates = [default, *(Path(p).parent for p in [os.environ.get(PG_BIN_ENV)] if p),
                  *sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: -int(p.parent.name)
                          if p.parent.name.isdigit() else 0)]
    for folder in candidates:
        share = _sharedir(folder) if extensions else None
        if (folder / "postgres").is_file() and all(
                share and (share / "extension" / f"{name}.control").is_file() for name in extensions):
            return folder
    raise RuntimeError(f"no PostgreSQL installation here has the extension(s) {', '.join(extensions)} "
                       f"(looked in {', '.join(map(str, dict.fromkeys(candidates)))}): install Debian's "
                       f"postgresql and postgresql-contrib, or point {PG_BIN_ENV} at one that has them")


def _server_user() -> pwd.struct_passwd | None:
    """The account the server runs as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in _UNPRIVILEGED_USERS:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError(f"running as root, and none of the users {_UNPRIVILEGED_USERS} exists to run PostgreSQL")


class LocalPostgres:
    """One PostgreSQL server of its own (the `initdb` and `postgres` beside the pg_dump that
    `pg_tool` picks, so client and server match). `with LocalPostgres() as pg:` starts and stops it;
    `pg.dsn(database)` is a URI with the superuser's password; `pg.version` the server's major version.

    `root`: a folder kept between runs instead of a temporary one (the demo's): its cluster and
    password (`root/password`, mode 0600) are reused, a server already running there is attached to
    (its port read from `postmaster.pid`), and `stop()` ends that server from any process, keeping
    the data. `extensions`: contrib extensions the server must offer (see `server_bin`)."""

    def __init__(self, *, base_dir: str | Path | None = None, root: str | Path | None = None,
                 extensions: tuple[str, ...] = ()):
        self._base_dir = base_dir
        self._extensions = extensions
        self._bin: Path | None = None
        self._kept = Path(root).resolve() if root is not None else None
        self.password = secrets.token_urlsafe(18)
        self.root: Path | None = self._kept
        self.port: int | None = None
        self._proc: subprocess.Popen | None = None
        self._user = _server_user()

    # ---- lifecycle ------------------------------------------------------------------------------
    def start(self) -> "LocalPostgres":
        self._bin = server_bin(self._extensions)
        if self._kept is not None:
            return self._start_kept()
        self.root = Path(tempfile.mkdtemp(prefix="multicloud-pg-", dir=self._base_dir))
        try:
            self._initdb()
            self._serve()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_kept(self) -> "LocalPostgres":
        self.root.mkdir(parents=True, exist_ok=True)
        secret = self.root / "password"
        if (self.root / "data" / "PG_VERSION").exists():
            self.password = secret.read_text().strip()
        else:
            shutil.rmtree(self.root / "data", ignore_errors=True)  # a cluster whose initdb did not finish
            secret.touch(mode=0o600)
            secret.write_text(self.password + "\n")
            self._initdb()
        running = self.running_pid()
        if running is not None:
            self.port = int(self._postmaster_lines()[3])
            return self
        self._serve()
        return self

    def _postmaster_lines(self) -> list[str]:
        try:
            return (self.root / "data" / "postmaster.pid").read_text().splitlines()
        except (FileNotFoundError, TypeError):
            return []

    def running_pid(self) -> int | None:
        """The PID of the server serving this folder's cluster (from any process), or None."""
        lines = self._postmaster_lines()
        if len(lines) < 4:
            return None
        try:
            os.kill(int(lines[0]), 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return int(lines[0])

    def _run_as_server(self, args: list[str], **kwargs) -> subprocess.CompletedProcess:
        user = {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []} if self._user else {}
        return subprocess.run(args, cwd=self.root, capture_output=True, text=True, check=True, **user, **kwargs)

    def _initdb(self) -> None:
        if self._user:
            os.chown(self.root, self._user.pw_uid, self._user.pw_gid)
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self._user:
            os.chown(pwfile, self._user.pw_uid, self._user.pw_gid)
        try:
            self._run_as_server([str(self._bin / "initdb"), "-D", str(self.root / "data"), "-U", SUPERUSER,
                                 f"--pwfile={pwfile}", "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C",
                                 "--no-sync"])
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(f"initdb failed: {exc.stderr.strip()[-2000:]}") from None
        finally:
            pwfile.unlink(missing_ok=True)

    def _serve(self) -> None:
        for _ in range(3):  # the free port may be taken between choosing it and binding it
            self.port = _free_port()
            args = [str(self._bin / "postgres"), "-D", str(self.root / "data"), "-p", str(self.port),
                    "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.root}"]
            for name, value in _SETTINGS.items():
                args += ["-c", f"{name}={value}"]
            user = {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []} if self._user else {}
            with open(self.root / "server.log", "ab") as log:
                self._proc = subprocess.Popen(args, cwd=self.root, stdin=subprocess.DEVNULL, stdout=log,
                                              stderr=subprocess.STDOUT, start_new_session=True, **user)
            if self._wait_ready():
                return
            self._proc.wait()
            if "could not bind" not in self.log_tail():
                break
        raise RuntimeError(f"PostgreSQL did not start:\n{self.log_tail()}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False
            ready = subprocess.run([pg_tool("pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port), "-t", "2"],
                                   capture_output=True)
            if ready.returncode == 0:
                return True
            time.sleep(0.1)
        self._proc.kill()
        return False

    def log_tail(self, chars: int = 3000) -> str:
        path = self.root / "server.log" if self.root else None
        return path.read_text(errors="replace")[-chars:] if path and path.exists() else ""

    def stop(self) -> bool:
        """Fast shutdown (SIGINT), a kill if it lingers, then remove the folder (a kept `root` stays).
        True if a server was running."""
        was_running = False
        if self._proc is not None and self._proc.poll() is None:
            was_running = True
            self._proc.send_signal(signal.SIGINT)
            try:
                self._proc.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        elif self._kept is not None and (pid := self.running_pid()) is not None:
            was_running = True
            self._stop_by_pid(pid)
        self._proc = None
        if self.root is not None and self._kept is None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None
        return was_running

    def _stop_by_pid(self, pid: int) -> None:
        """A server another process started (the demo's `up`): same fast shutdown, by its PID."""
        os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while time.monotonic() < deadline and self.running_pid() == pid:
            time.sleep(0.1)
        if self.running_pid() == pid:
            os.kill(pid, signal.SIGKILL)

    def __enter__(self) -> "LocalPostgres":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- use ------------------------------------------------------------------------------------
    def dsn(self, database: str = "postgres") -> str:
        return (f"postgresql://{SUPERUSER}:{quote(self.password, safe='')}@127.0.0.1:{self.port}/"
                f"{quote(database, safe='')}")

    def sql(self, sql: str, database: str = "postgres") -> QueryResult:
        return run_sql(self.dsn(database), sql)

    def create_database(self, name: str, *, exist_ok: bool = False) -> str:
        """Create `name` (from template0); returns its DSN. `exist_ok`: keep one already there."""
        if exist_ok and self.sql(f"SELECT 1 FROM pg_database WHERE datname = {quote_literal(name)}").rows:
            return self.dsn(name)
        self.sql(f"CREATE DATABASE {quote_ident(name)} TEMPLATE template0")
        return self.dsn(name)

    @property
    def version(self) -> int:
        return int(self.sql("SHOW server_version_num").rows[0][0]) // 10000
