"""The FinOps Foundation's `focus-converter` 1.0.0 as a benchmark peer: its own pinned venv, one
AWS legacy-CUR conversion (provider `aws-cur`) timed in a subprocess, and a CUR CSV generator.

    python bench/focus_peer.py [--rows 100000] [--parquet] [--keep DIR]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from datetime import datetime, timedelta, timezone
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


def run_focus_converter(input_path: Path, output_dir: Path, venv: Path = DEFAULT) -> float:
    """Convert one AWS legacy-CUR input to FOCUS Parquet under `output_dir`; wall seconds."""
    return run_focus_converter_measured(input_path, output_dir, venv)["seconds"]


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


def csv_to_parquet(src: Path, dst: Path, venv: Path = DEFAULT) -> Path:
    """Parquet copy of a CUR CSV with numbers and timestamps typed (pyarrow's inference) and
    IDs kept as text; focus-converter's SQL plans fail on numbers stored as strings."""
    code = ("import sys, pyarrow as pa, pyarrow.csv as c, pyarrow.parquet as pq\n"
            "names = open(sys.argv[1]).readline().rstrip('\\r\\n').split(',')\n"
            "text = [n for n in names if n.endswith(('AccountId', 'Id', 'ARN', 'RateId'))]\n"
            "t = c.read_csv(sys.argv[1], convert_options=c.ConvertOptions("
            "column_types={n: pa.string() for n in text}, strings_can_be_null=True))\n"
            "pq.write_table(t, sys.argv[2])")
    venv_python(venv, code, str(src), str(dst))
    return dst


CUR_COLUMNS = [
    "identity/LineItemId", "identity/TimeInterval",
    "bill/InvoiceId", "bill/InvoicingEntity", "bill/BillingEntity", "bill/BillType",
    "bill/PayerAccountId", "bill/BillingPeriodStartDate", "bill/BillingPeriodEndDate",
    "lineItem/UsageAccountId", "lineItem/LineItemType", "lineItem/UsageStartDate",
    "lineItem/UsageEndDate", "lineItem/ProductCode", "lineItem/UsageType", "lineItem/Operation",
    "lineItem/AvailabilityZone", "lineItem/ResourceId", "lineItem/UsageAmount",
    "lineItem/CurrencyCode", "lineItem/UnblendedRate", "lineItem/UnblendedCost",
    "lineItem/BlendedRate", "lineItem/BlendedCost", "lineItem/LineItemDescription",
    "lineItem/LegalEntity",
    "product/ProductName", "product/region", "product/regionCode", "product/sku",
    "product/PurchaseOption",
    "pricing/RateCode", "pricing/RateId", "pricing/unit", "pricing/publicOnDemandRate",
    "pricing/publicOnDemandCost", "pricing/term",
    "reservation/ReservationARN", "reservation/EffectiveCost", "reservation/TotalReservedUnits",
    "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod", "reservation/UnusedRecurringFee",
    "savingsPlan/SavingsPlanARN", "savingsPlan/SavingsPlanEffectiveCost",
    "savingsPlan/TotalCommitmentToDate", "savingsPlan/UsedCommitment",
    "resourceTags/user:team", "resourceTags/user:env",
]

_SERVICES = [  # product code, product name, usage type, operation, unit, rate, resource prefix
    ("AmazonEC2", "Amazon Elastic Compute Cloud", "BoxUsage:m5.large", "RunInstances", "Hrs",
     0.096, "arn:aws:ec2:{r}:{a}:instance/i-{h}"),
    ("AmazonEC2", "Amazon Elastic Compute Cloud", "EBS:VolumeUsage.gp3", "CreateVolume-Gp3",
     "GB-Mo", 0.08, "arn:aws:ec2:{r}:{a}:volume/vol-{h}"),
    ("AmazonS3", "Amazon Simple Storage Service", "TimedStorage-ByteHrs", "PutObject", "GB-Mo",
     0.023, "bucket-{h}"),
    ("AmazonRDS", "Amazon Relational Database Service", "InstanceUsage:db.r5.large",
     "CreateDBInstance:0014", "Hrs", 0.25, "arn:aws:rds:{r}:{a}:db:db-{h}"),
    ("AWSLambda", "AWS Lambda", "Lambda-GB-Second", "Invoke", "Lambda-GB-Second", 0.0000166667,
     "arn:aws:lambda:{r}:{a}:function:fn-{h}"),
    ("AmazonCloudWatch", "AmazonCloudWatch", "CW:MetricMonitorUsage", "MetricStorage", "Metrics",
     0.3, ""),
]
_REGIONS = [("us-east-1", "US East (N. Virginia)"), ("eu-west-1", "Europe (Ireland)"),
            ("ap-southeast-2", "Asia Pacific (Sydney)")]
_TYPES = (["Usage"] * 84 + ["DiscountedUsage"] * 4 + ["SavingsPlanCoveredUsage"] * 5
          + ["SavingsPlanNegation"] * 2 + ["Tax", "Fee", "RIFee", "SavingsPlanRecurringFee",
                                           "Credit"])


def _fmt(x: float) -> str:
    return repr(round(x, 10))


def generate_cur_csv(path: Path, rows: int, seed: int = 7) -> Path:
    """A legacy CUR CSV (slash-named columns, ISO-8601 `Z` timestamps) of `rows` line items in
    one billing period; the columns not applying to a row are empty, as in a real CUR."""
    rnd = random.Random(seed)
    start = datetime(2024, 3, 1, tzinfo=timezone.utc)
    iso = "%Y-%m-%dT%H:%M:%SZ"
    period = (start.strftime(iso), datetime(2024, 4, 1, tzinfo=timezone.utc).strftime(iso))
    payer = "012345678901"
    accounts = [payer, "111122223333", "098765432109", "444455556666"]
    ri_arn = f"arn:aws:ec2:us-east-1:{payer}:reserved-instances/4f0e-ri"
    sp_arn = f"arn:aws:savingsplans::{payer}:savingsplan/8c1d-sp"
    teams = ["", "data", "web", "platform", "ml"]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(CUR_COLUMNS)
        for i in range(rows):
            kind = rnd.choice(_TYPES)
            code, name, utype, op, unit, rate, res = rnd.choice(_SERVICES)
            region, region_name = rnd.choice(_REGIONS)
            acct = rnd.choice(accounts)
            hour = start + timedelta(hours=rnd.randrange(744))
            amount = rnd.uniform(0.001, 24.0)
            cost = amount * rate
            od_cost = cost
            resource = res.format(r=region, a=acct, h=f"{rnd.getrandbits(48):012x}") if res else ""
            az = f"{region}{rnd.choice('abc')}" if code in ("AmazonEC2", "AmazonRDS") else ""
            ri = ["", "", "", "", ""]
            sp = ["", "", "", ""]
            purchase = "On-Demand"
            if kind == "DiscountedUsage":
                cost, purchase = 0.0, "Reserved Instances"
                ri = [ri_arn, _fmt(od_cost * 0.6), _fmt(amount), "", ""]
            elif kind == "SavingsPlanCoveredUsage":
                sp = [sp_arn, _fmt(od_cost * 0.7), "", ""]
            elif kind == "SavingsPlanNegation":
                cost = -od_cost
                sp = [sp_arn, "", "", ""]
            elif kind == "RIFee":
                amount, cost, resource, az = 744.0, 52.08, "", ""
                ri = [ri_arn, "", "1", _fmt(rnd.uniform(0, 5)), _fmt(rnd.uniform(0, 5))]
            elif kind == "SavingsPlanRecurringFee":
                amount, cost, resource, az = 1.0, 72.0, "", ""
                used = rnd.uniform(50, 72)
                sp = [sp_arn, "", "72.0", _fmt(used)]
            elif kind in ("Tax", "Fee", "Credit"):
                amount, resource, az, od_cost = 0.0, "", "", 0.0
                cost = {"Tax": 1, "Fee": 1, "Credit": -1}[kind] * rnd.uniform(0.01, 50)
            desc = f"${rate} per {unit} for {utype} in {region_name}"
            w.writerow([
                f"li{i:012d}", f"{hour.strftime(iso)}/{(hour + timedelta(hours=1)).strftime(iso)}",
                "EUINGB24-1234", "Amazon Web Services, Inc.", "AWS",
                "Purchase" if kind.endswith("Fee") else "Anniversary",
                payer, *period,
                acct, kind, hour.strftime(iso), (hour + timedelta(hours=1)).strftime(iso),
                code, utype, op, az, resource, _fmt(amount),
                "USD", _fmt(rate), _fmt(cost), _fmt(rate), _fmt(cost), desc,
                "Amazon Web Services, Inc.",
                name, region, region, f"SKU{zlib.crc32(f'{code}{utype}{region}'.encode()) & 0xFFFFFF:06X}",
                purchase,
                f"SKU.{utype[:6]}.JRTCKXETXF", f"{rnd.getrandbits(32)}", unit, _fmt(rate),
                _fmt(od_cost), "Reserved" if kind == "DiscountedUsage" else "OnDemand",
                *ri, *sp, rnd.choice(teams), rnd.choice(["prod", "dev", ""]),
            ])
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--parquet", action="store_true", help="also convert a Parquet copy")
    ap.add_argument("--venv", type=Path, default=DEFAULT)
    ap.add_argument("--keep", type=Path, help="work in this directory and keep it")
    args = ap.parse_args()
    t0 = time.perf_counter()
    ensure_venv(args.venv)
    print(f"venv ready in {time.perf_counter() - t0:.1f}s: {args.venv}")
    work = args.keep or Path(tempfile.mkdtemp(prefix="focus-peer-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        src = work / f"cur-{args.rows}.csv"
        if not src.exists():
            generate_cur_csv(src, args.rows)
        inputs = [src]
        if args.parquet:
            pq = work / f"cur-{args.rows}.parquet"
            if not pq.exists():
                csv_to_parquet(src, pq, args.venv)
            inputs.append(pq)
        for inp in inputs:
            out = work / f"out-{inp.suffix[1:]}"
            m = run_focus_converter_measured(inp, out, args.venv)
            n = count_output_rows(out, args.venv)
            rss = m["peak_tree_rss_mib"]
            print(f"focus-converter {inp.name}: {m['seconds']:.2f}s, {n} rows out, "
                  f"{n / m['seconds']:,.0f} rows/s"
                  + (f", peak RSS tree={rss:.0f} MiB max-proc={m['peak_proc_rss_mib']:.0f} MiB"
                     if rss else ""))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
