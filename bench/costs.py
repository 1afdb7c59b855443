"""Cost aggregation speed and memory: generated exports of all three providers (1M and 10M rows by
default) read, mapped to FOCUS, reconciled, published and aggregated, each size in a fresh process
(so peak RSS is that run's own); and, on one shared AWS CUR CSV, the same pipeline side by side
with the FinOps Foundation's focus-converter 1.0.0 in its own virtual environment.

    python bench/costs.py [--rows 1000000 10000000] [--peer-rows 1000000 | 0] [--data DIR]

Last line: `costs: rows=N seconds=S peak_rss_mib=M vs_focus_converter_ratio=R`, N the largest
size, R = our seconds ÷ focus-converter's seconds on the shared input."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from benchlib import peak_rss_mib  # noqa: E402

GENERATOR_VERSION = "2"  # bump when multicloud.testing.cost_samples changes what it writes


def generate(directory: Path, rows: int, mixed: bool) -> list[dict]:
    """Exports for one run (reused when already there), and the sources that read them."""
    from multicloud.testing import cost_samples as samples

    stamp = directory / ".complete"
    want = json.dumps({"rows": rows, "mixed": mixed, "version": GENERATOR_VERSION})
    parts = samples.mixed(rows) if mixed else [("aws-cur", rows)]
    if not (stamp.exists() and stamp.read_text() == want):
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        started = time.perf_counter()
        for n, (kind, count) in enumerate(parts):
            samples.write_export(kind, count, directory, prefix=f"{kind}/", seed=n,
                                 compress=mixed)  # the shared input is plain CSV: the peer reads no gzip
        stamp.write_text(want)
        print(f"  generated {rows:,} rows in {time.perf_counter() - started:.0f}s under {directory}", flush=True)
    sources = []
    for kind, _ in parts:
        if kind == "azure-ea":
            sources.append({"name": kind, "kind": "azure-cost-details", "url": f"file://{directory}/{kind}/actual",
                            "amortized_url": f"file://{directory}/{kind}/amortized"})
        else:
            sources.append({"name": kind, "kind": {"aws-cur": "aws-cur", "gcp-standard": "gcp-billing-export"}[kind],
                            "url": f"file://{directory}/{kind}"})
    return sources


def run_ours(sources: list[dict], work: Path) -> dict:
    """The costs flow's work without the orchestrator, through the same engine and core calls as
    its tasks: ingest and stage every source (one thread each), reconcile, decide, publish the
    partitions, and build the daily, tag, month-to-date, movers and anomaly views. Returns
    seconds and this process's peak RSS."""
    from multicloud.engine import dataset as ds
    from multicloud.clouds import open_store
    from multicloud.engine.cost_ingest import ingest, reconcile_results, staged, tag_views
    from multicloud.config import CostSource
    from multicloud.core.costs import aggregate, decisions

    configs = [CostSource(**s) for s in sources]
    (work / "dataset").mkdir()
    url = f"file://{work / 'dataset'}"
    started = time.perf_counter()
    with ThreadPoolExecutor(len(configs)) as pool:
        results = list(pool.map(lambda source: ingest(source, url, "bench", tag_keys=["team"]), configs))
    table = reconcile_results(results)
    store = open_store(url)
    wanted = ds.staged_sources(staged(results))
    decision = decisions.publish_decision(table, sum(r.rows_quarantined for r in results), False,
                                          decisions.ownership_problems(wanted, ds.stored_sources(store, list(wanted))))
    if decision.publish:
        ds.publish(store, staged(results), "bench")
    else:
        ds.discard(store, staged(results))
    as_of = date(2026, 10, 31)
    daily = ds.daily_history(store, decisions.months_before(as_of))
    by_team = tag_views(results, ["team"])["team"]
    aggregate.month_to_date(daily, as_of)
    aggregate.top_movers(daily, as_of)
    anomalies = aggregate.anomalies(daily)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_rss_mib": peak_rss_mib(), "rows": sum(r.rows_written for r in results),
            "read": sum(r.rows_read for r in results), "statuses": sorted(set(table["status"])),
            "published": decision.publish, "daily_rows": len(daily), "tag_rows": len(by_team),
            "anomalies": len(anomalies)}


def measure_ours(sources: list[dict]) -> dict:
    """`run_ours` in a fresh interpreter, so the peak RSS is this run's alone."""
    work = Path(tempfile.mkdtemp(prefix="bench-costs-"))
    try:
        out = subprocess.run([sys.executable, __file__, "--ours", json.dumps(sources), str(work)],
                             capture_output=True, text=True, cwd=REPO)
        if out.returncode != 0:
            raise SystemExit(f"our pipeline failed:\n{out.stderr[-3000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(work, ignore_errors=True)


def compare_with_peer(data: Path, peer_rows: int) -> float:
    """Ours and focus-converter on one shared AWS CUR CSV; returns our seconds ÷ theirs."""
    import focus_peer

    print("focus-converter venv:", focus_peer.ensure_venv(), flush=True)
    shared = data / f"shared-cur-{peer_rows}"
    sources = generate(shared, peer_rows, mixed=False)
    csv_file = next(shared.rglob("*.csv"))
    ours = measure_ours(sources)
    peer_out = Path(tempfile.mkdtemp(prefix="bench-focus-converter-"))
    try:
        peer = focus_peer.run_focus_converter_measured(csv_file, peer_out)
        peer_rows_out = focus_peer.count_output_rows(peer_out)
    finally:
        shutil.rmtree(peer_out, ignore_errors=True)
    ratio = ours["seconds"] / peer["seconds"]
    print(f"shared AWS CUR CSV, {peer_rows:,} rows ({csv_file.stat().st_size / 2**20:.0f} MiB):")
    print(f"  ours            {ours['seconds']:7.2f}s  peak RSS {ours['peak_rss_mib']:7.0f} MiB  "
          f"{ours['rows']:,} FOCUS rows, reconciliation {ours['statuses']}")
    print(f"  focus-converter {peer['seconds']:7.2f}s  peak RSS {peer['peak_tree_rss_mib'] or 0:7.0f} MiB  "
          f"{peer_rows_out:,} rows (process tree)")
    print(f"  ratio (ours / focus-converter) = {ratio:.2f}", flush=True)
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--peer-rows", type=int, default=1_000_000,
                        help="rows of the shared AWS CUR CSV (focus-converter holds a CSV in memory: ~3 GB per 1M rows); "
                        "0: no side-by-side run")
    parser.add_argument("--data", type=Path, default=REPO / ".local" / "bench-costs")
    parser.add_argument("--ours", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ours:
        print(json.dumps(run_ours(json.loads(args.ours[0]), Path(args.ours[1]))))
        return

    ratio = float("nan")
    if args.peer_rows:  # 0: no side-by-side run (a quick check of our pipeline only)
        ratio = compare_with_peer(args.data, args.peer_rows)

    last = None
    for rows in args.rows:
        sources = generate(args.data / f"mixed-{rows}", rows, mixed=True)
        result = measure_ours(sources)
        print(f"mixed {rows:,} rows (AWS CUR csv.gz 40%, Azure EA actual+amortized csv 30%, GCP export parquet 30%): "
              f"{result['seconds']:.1f}s, peak RSS {result['peak_rss_mib']:.0f} MiB, {result['rows']:,} FOCUS rows "
              f"from {result['read']:,} read, reconciliation {result['statuses']}, "
              f"{result['rows'] / result['seconds']:,.0f} rows/s", flush=True)
        last = (rows, result)
    rows, result = last
    print(f"costs: rows={rows} seconds={result['seconds']:.1f} peak_rss_mib={result['peak_rss_mib']:.0f} "
          f"vs_focus_converter_ratio={ratio:.2f}")


if __name__ == "__main__":
    main()
