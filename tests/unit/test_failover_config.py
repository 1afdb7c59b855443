"""Failover plans at load: every URL field validated, errors naming the file and the field (and
never repeating a credential), data set sync options."""

from __future__ import annotations

import copy

import pytest
import yaml

from multicloud.config import load_plans
from multicloud.core.errors import InvalidInput

PLAN = {
    "name": "p", "primary": "a", "secondary": "b",
    "sites": [
        {"name": "a", "cloud": "aws", "dns_value": "a.internal", "health_urls": ["http://a.internal/health"],
         "write_switch": {"kind": "http", "url": "https://a.internal/admin"}},
        {"name": "b", "cloud": "azure", "dns_value": "b.internal", "health_urls": ["http://b.internal:8080/health"]},
    ],
    "datasets": [{"name": "orders", "urls": {"a": "s3://orders-a", "b": "az://orders-b"}}],
    "dns": {"kind": "cloud-dns", "project": "p", "managed_zone": "z", "record": "app.internal.",
            "api_endpoint": "http://127.0.0.1:1/dns/v1"},
    "journal": "s3://journal/failover/",
}


def load(tmp_path, change=lambda plan: None):
    plan = copy.deepcopy(PLAN)
    change(plan)
    path = tmp_path / "plans.yaml"
    path.write_text(yaml.safe_dump({"plans": [plan]}))
    return path, load_plans(path).plans[0]


def test_a_good_plan_loads_with_its_urls_normalised_and_sync_defaults(tmp_path):
    _, plan = load(tmp_path)
    ds = plan.datasets[0]
    assert ds.urls == {"a": "s3://orders-a/", "b": "az://orders-b/"}
    assert (ds.compare, ds.tombstone_prefix) == ("hash", ".tombstones/")
    assert plan.site("b").health_urls == ["http://b.internal:8080/health"]


@pytest.mark.parametrize("field,change", [
    ("plans.0.sites.0.health_urls.0", lambda p: p["sites"][0].update(health_urls=["a.internal/health"])),
    ("plans.0.sites.1.health_urls.0", lambda p: p["sites"][1].update(health_urls=["ftp://b.internal/health"])),
    ("plans.0.sites.0.write_switch.http.url", lambda p: p["sites"][0]["write_switch"].update(url="http://:9/admin")),
    ("plans.0.datasets.0.urls.b", lambda p: p["datasets"][0]["urls"].update(b="nope://orders")),
    ("plans.0.journal", lambda p: p.update(journal="/var/journal")),
    ("plans.0.dns.cloud-dns.api_endpoint", lambda p: p["dns"].update(api_endpoint="http://127.0.0.1:port/dns")),
])
def test_a_bad_url_names_the_file_and_the_field(tmp_path, field, change):
    with pytest.raises(InvalidInput) as bad:
        load(tmp_path, change)
    assert str(tmp_path / "plans.yaml") in str(bad.value) and field in str(bad.value)


def test_the_error_never_repeats_a_credential(tmp_path):
    with pytest.raises(InvalidInput) as bad:
        load(tmp_path, lambda p: p["sites"][0].update(health_urls=["gopher://u:s3cret@a.internal/h?token=t0k"]))
    assert "s3cret" not in str(bad.value) and "t0k" not in str(bad.value)
    assert "gopher://<redacted>@a.internal/h?<redacted>" in str(bad.value)


def test_dataset_sync_options(tmp_path):
    _, plan = load(tmp_path, lambda p: p["datasets"][0].update(compare="size", tombstone_prefix=None))
    assert (plan.datasets[0].compare, plan.datasets[0].tombstone_prefix) == ("size", None)
    with pytest.raises(InvalidInput, match="plans.0.datasets.0.compare"):
        load(tmp_path, lambda p: p["datasets"][0].update(compare="mtime"))


def test_a_data_set_glob_that_cannot_compile_is_refused_at_load(tmp_path):
    from pathlib import Path

    data = yaml.safe_load((Path(__file__).resolve().parents[2] / "deployments/failover/plans.yaml").read_text())
    data["plans"][0]["datasets"][0]["include"] = ["orders/[unterminated"]
    path = tmp_path / "plans.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(InvalidInput, match=r"plans\.0\.datasets\.0\.include.*unterminated") as info:
        load_plans(path)
    assert str(path) in str(info.value)
