"""The FinOps Foundation's `focus-converter` 1.0.0 as a benchmark peer: its own pinned venv and
one AWS legacy-CUR conversion (provider `aws-cur`) timed in a subprocess, with its peak RSS."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

DEFAULT = Path(__file__).resolve().parents[1] / ".local" / "focus-converter-venv"

# focus-converter 1.0.0 pins polars==0.20.10 and pyarrow<15 itself; the three caps below are what
# it needs to import at all (multimethod 2 breaks pandera 0.17, typer >=0.13 / click >=8.2 break
# its typer 0.9 CLI), pinned to concrete releases that work.
PINS = (
    "focus-converter==1.0.0",
    "polars==0.20.10",
    "pyarrow==14.0.2",
    "multimethod==1.12",
    "typer==0.9.4",
    "click==8.1.8",
)
STAMP = ".focus-peer-stamp"

# Legacy CUR (slash-named columns) is provider "aws-cur"; provider "aws" wants the Athena-style
# snake_case names (line_item_unblended_cost, ...).
PROVIDER = "aws-cur"

# Runs the CLI's own typer app, but exits hard on failure: on any error the real entry point
# never returns, as its non-daemon writer processes wait forever on their queue.
_WRAPPER = """
import os, sys, traceback
from focus_converter.main import app
code = 0
try:
    app(prog_name="focus-converter", standalone_mode=False)
except SystemExit as e:
    code = e.code if isinstance(e.code, int) else 1
except BaseException:
    traceback.print_exc()
    code = 1
sys.stdout.flush(); sys.stderr.flush()
os._exit(code)
"""


def ensure_venv(path: Path = DEFAULT) -> Path:
    """Create (once) a venv at `path` with focus-converter and its working pins; return its
    `focus-converter` executable. A stamp holding the pin list makes later calls instant."""
    path = Path(path)
    exe = path / "bin" / "focus-converter"
    stamp = path / STAMP
    want = "\n".join(PINS) + "\n"
    if exe.exists() and stamp.exists() and stamp.read_text() == want:
        return exe
    python3 = shutil.which("python3") or sys.executable
    if not (path / "bin" / "python").exists():
        subprocess.run([python3, "-m", "venv", str(path)], check=True)
    pip = [str(path / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    res = subprocess.run([*pip, *PINS], capture_output=True, text=True)
    if res.returncode != 0 or not exe.exists():
        raise RuntimeError(f"installing focus-converter failed:\n{res.stderr[-3000:]}")
    stamp.write_text(want)
    return exe


def focus_command(input_path: Path, output_dir: Path, *, include_source_columns: bool = False,
                  export_format: str = "parquet") -> list[str]:
    """The `focus-converter convert ...` arguments for one input. A `.csv` file is read as CSV
    (whole file in memory); another file as one Parquet file (also in memory); a directory as a
    Parquet dataset read in 50k-row batches."""
    input_path = Path(input_path)
    args = ["convert", "--provider", PROVIDER, "--data-path", str(input_path)]
    if input_path.is_dir():
        args += ["--data-format", "parquet", "--parquet-data-format", "dataset"]
    elif input_path.suffix.lower() == ".csv":
        args += ["--data-format", "csv"]
    else:
        args += ["--data-format", "parquet", "--parquet-data-format", "file"]
    # CSV export concatenates path and file name without a separator: keep the trailing slash.
    export = str(output_dir) + ("/" if export_format == "csv" else "")
    args += ["--export-path", export, "--export-format", export_format]
    args.append("--export-include-source-columns" if include_source_columns
                else "--no-export-include-source-columns")
    return args


def _tree_rss(pid: int):
    try:
        import psutil
    except ImportError:
        return None
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None
    total = top = 0
    for p in procs:
        try:
            rss = p.memory_info().rss
        except psutil.Error:
            continue
        total += rss
        top = max(top, rss)
    return total, top


def run_focus_converter_measured(input_path: Path, output_dir: Path, venv: Path = DEFAULT, *,
                                 include_source_columns: bool = False,
                                 export_format: str = "parquet",
                                 timeout: float = 3600.0) -> dict:
    """One conversion in a fresh process group: wall seconds, and (with psutil) the peak summed
    RSS of the process tree and the largest single process's RSS, in MiB."""
    exe = ensure_venv(venv)
    output_dir = Path(output_dir)
    if output_dir.exists():
        shutil.rmtree(output_dir)
    output_dir.mkdir(parents=True)
    cmd = [str(exe.parent / "python"), "-c", _WRAPPER,
           *focus_command(input_path, output_dir, include_source_columns=include_source_columns,
                          export_format=export_format)]
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")}
    env["_TYPER_STANDARD_TRACEBACK"] = "1"
    peak = {"tree": 0, "one": 0}
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env,
                                start_new_session=True)
        done = threading.Event()

        def poll() -> None:
            while not done.is_set():
                got = _tree_rss(proc.pid)
                if got:
                    peak["tree"] = max(peak["tree"], got[0])
                    peak["one"] = max(peak["one"], got[1])
                done.wait(0.05)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
        seconds = time.perf_counter() - started
        done.set()
        poller.join()
        try:  # reap writer processes orphaned by a failed run
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        err.seek(0)
        tail = err.read().decode(errors="replace")[-3000:]
    if code is None:
        raise RuntimeError(f"focus-converter timed out after {timeout:.0f}s:\n{tail}")
    if code != 0:
        raise RuntimeError(f"focus-converter exited {code}:\n{tail}")
    mib = 1 << 20
    return {"seconds": seconds, "peak_tree_rss_mib": peak["tree"] / mib or None,
            "peak_proc_rss_mib": peak["one"] / mib or None}


def venv_python(venv: Path, code: str, *args: str) -> str:
    res = subprocess.run([str(Path(venv) / "bin" / "python"), "-c", code, *args],
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(res.stderr[-3000:])
    return res.stdout.strip()


def count_output_rows(output_dir: Path, venv: Path = DEFAULT) -> int:
    code = ("import sys, pyarrow.dataset as ds\n"
            "print(ds.dataset(sys.argv[1], format=sys.argv[2]).count_rows())")
    fmt = "csv" if any(Path(output_dir).glob("*.csv")) else "parquet"
    return int(venv_python(venv, code, str(output_dir), fmt))
