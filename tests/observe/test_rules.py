"""The shipped alerting rules: `promtool check rules` and promtool's own rule unit tests pass, each
staleness threshold is two schedule periods of its deployments in prefect.yaml, and every alert
names a runbook section of the README."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deployments" / "prometheus" / "rules.yml"
# The flows whose deployments each staleness rule watches.
ENTRYPOINTS = {"replication": "flows/replicate.py:replicate", "backup": "flows/backups.py:backup",
               "backup_drill": "flows/backup_checks.py:backup_drill", "costs": "flows/costs.py:costs",
               "rightsizing": "flows/rightsizing.py:rightsizing"}


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not installed (Debian package `prometheus`: `make tools` installs it as root); "
                    "THE SHIPPED ALERTING RULES ARE NOT CHECKED")
    return path


def rules() -> list[dict]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


def test_promtool_check_rules_passes() -> None:
    done = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules())} rules found" in done.stdout


def test_promtool_rule_unit_tests_pass() -> None:
    """Each alert fires on the series it is about, and not before its time (tests/observe/rules_test.yml)."""
    done = subprocess.run([promtool(), "test", "rules", "rules_test.yml"], capture_output=True, text=True,
                          timeout=60, cwd=Path(__file__).parent)
    assert done.returncode == 0, done.stdout + done.stderr


def period_seconds(schedule: dict) -> float:
    if "interval" in schedule:
        return float(schedule["interval"])
    from cronsim import CronSim

    fires = CronSim(schedule["cron"], datetime(2026, 1, 1, tzinfo=timezone.utc))
    first, second = next(fires), next(fires)
    return (second - first).total_seconds()


def test_staleness_thresholds_are_two_schedule_periods_of_prefect_yaml() -> None:
    deployments = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
    stale = {r["labels"]["pipeline"]: r["expr"] for r in rules() if r.get("alert") == "PipelineStale"}
    assert set(stale) == set(ENTRYPOINTS)
    checked = 0
    for pipeline, expr in stale.items():
        seconds = math.prod(int(n) for n in expr.split(">", 1)[1].split("*"))
        periods = {period_seconds(s) for d in deployments if d["entrypoint"] == ENTRYPOINTS[pipeline]
                   for s in d.get("schedules", [])}
        assert f"multicloud_{pipeline}_last_success_timestamp_seconds" in expr
        if periods:  # rightsizing's deployment may not be in prefect.yaml yet: then its default is daily
            assert periods == {seconds / 2}, (pipeline, periods, seconds)
            checked += 1
    assert checked >= 4


def test_every_alert_names_a_readme_runbook_section() -> None:
    for rule in rules():
        url = rule["annotations"]["runbook_url"]
        assert re.fullmatch(r"README\.md#runbook-[a-z]+", url), url
        assert url.endswith(rule["alert"].lower())
    assert {r["alert"] for r in rules()} >= {"SiteDown", "BackupTooOld", "ReplicationLagAboveRPO",
                                            "CostKeyUnreconciled", "PipelineStale"}
