"""Bad rightsizing rules files are refused with an error naming the file, the rule and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from multicloud.config.rightsizing import load_rightsizing_rules, load_rule_sets
from multicloud.core.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[2]
GOOD = {"name": "idle-cpu", "kind": "vm", "finding": "idle", "action": "stop",
        "source": "https://example.com/rule", "when": [
            {"metric": "cpu_utilization", "statistic": "p95", "op": "lt", "threshold": 5}]}


def write(tmp_path: Path, rules: list[dict], name: str = "rules.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"name": "test-set", "rules": rules}))
    return path


def rule(**changes) -> dict:
    out = {**GOOD, **changes}
    return {k: v for k, v in out.items() if v is not None}


def condition(**changes) -> dict:
    return rule(when=[{**GOOD["when"][0], **changes}])


def test_shipped_rule_sets_load():
    paths = sorted((ROOT / "deployments" / "rightsizing").glob("*.yaml"))
    assert {p.stem for p in paths} >= {"aws-trusted-advisor", "aws-compute-optimizer", "azure-advisor",
                                       "gcp-recommender", "waste"}
    assert all(r.source.startswith("https://") for r in load_rule_sets(paths))


def test_a_good_file_loads(tmp_path):
    loaded = load_rightsizing_rules(write(tmp_path, [rule()]))
    assert loaded.rules[0].when[0].statistic == "p95" and loaded.rules[0].missing_data == "unknown"


@pytest.mark.parametrize("bad,expected", [
    (condition(metric="cpu_percent"), "rule 'idle-cpu' (rules[0]) when.0.metric: Input should be 'cpu_utilization'"),
    (condition(op="below"), "rule 'idle-cpu' (rules[0]) when.0.op: Input should be 'lt'"),
    (condition(statistic="median"), "rule 'idle-cpu' (rules[0]) when.0.statistic: Value error, unknown statistic 'median'"),
    (condition(statistic="p0"), "unknown statistic 'p0'"),
    (condition(statistic="p101"), "unknown statistic 'p101'"),
    (condition(period_statistic="p95"), "when.0.period_statistic: Input should be 'average'"),
    (rule(kind="bucket"), "rule 'idle-cpu' (rules[0]) kind: Input should be 'vm', 'disk', 'ip', 'snapshot' or 'database'"),
    (rule(missing_data="ignore"), "missing_data: Input should be 'skip', 'zero' or 'unknown'"),
    (rule(source="not a url"), "source: Value error, not an http(s) URL with a host"),
    (condition(threshold=None), "metric condition on cpu_utilization needs a `threshold`"),
    (rule(when=[{"attribute": "attached", "op": "lt", "value": False}]), "attached takes op eq or ne, not lt"),
    (rule(when=[{"attribute": "age_days", "op": "gt", "value": "old"}]), "age_days is compared to a int/float"),
    (rule(when=[{"attribute": "colour", "op": "eq", "value": "red"}]), "when.0.attribute: Input should be 'state'"),
    (rule(when=[{"attribute": "attached", "op": "eq", "value": False, "threshold": 1}]),
     "attribute condition on attached may not set threshold"),
    (rule(when=[{"metric": "cpu_utilization", "attribute": "attached", "op": "eq", "threshold": 1}]),
     "exactly one of `metric` or `attribute`"),
    (rule(when=[]), "when: List should have at least 1 item"),
    (condition(unknown_field=1), "when.0.unknown_field: Extra inputs are not permitted"),
    (condition(metric="network_io_bytes", period_statistic="average"), "network_io_bytes is derived"),
    (rule(days_matching=15), "days_matching 15 exceeds window_days 14"),
    (rule(days_matching=4, period_minutes=7), "period_minutes 7 does not divide a day"),
    (rule(days_matching=4, min_data_hours=30), "days_matching rules judge each day"),
    (rule(missing_data="zero", min_data_hours=30), "missing_data zero fills every missing period"),
    (rule(min_data_hours=400), "min_data_hours 400 exceeds the window of 14 days"),
    (condition(last_days=20), "last_days exceeds window_days 14"),
    (rule(name="Bad Name"), "rule 'Bad Name' (rules[0]) name: String should match pattern"),
    (rule(name=None), "rule rules[0] name: Field required"),
])
def test_bad_rules_are_refused_naming_file_rule_and_field(tmp_path, bad, expected):
    path = write(tmp_path, [bad])
    with pytest.raises(InvalidInput) as err:
        load_rightsizing_rules(path)
    assert expected in str(err.value)
    assert err.value.target == str(path)


def test_the_bad_rule_is_named_among_good_ones(tmp_path):
    path = write(tmp_path, [rule(name="first"), {**condition(op="around"), "name": "second"}])
    with pytest.raises(InvalidInput, match=r"rule 'second' \(rules\[1\]\) when\.0\.op"):
        load_rightsizing_rules(path)


@pytest.mark.parametrize("text,expected", [
    ("name: x\nrules: [\n", "not valid YAML"),
    ("", "name: Field required"),
    ("name: x\nrules: {}\n", "rules: Input should be a valid list"),
])
def test_broken_files(tmp_path, text, expected):
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    with pytest.raises(InvalidInput, match=expected) as err:
        load_rightsizing_rules(path)
    assert str(path) in str(err.value)


def test_missing_file_and_duplicates(tmp_path):
    with pytest.raises(InvalidInput, match="rightsizing rules file not found"):
        load_rightsizing_rules(tmp_path / "nope.yaml")
    with pytest.raises(InvalidInput, match="repeated: idle-cpu"):
        load_rightsizing_rules(write(tmp_path, [rule(), rule()]))
    first, second = write(tmp_path, [rule()], "a.yaml"), write(tmp_path, [rule()], "b.yaml")
    with pytest.raises(InvalidInput, match=f"rule 'idle-cpu' is also defined in {first}") as err:
        load_rule_sets([first, second])
    assert err.value.target == str(second)
