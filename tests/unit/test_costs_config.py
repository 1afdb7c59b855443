"""The costs configuration refuses a bad store URL in every URL field at load, naming the file and the field."""

from __future__ import annotations

import pytest

from multicloud.config.costs import CostsConfig, load_costs_config
from multicloud.core.errors import InvalidInput

GOOD = {"url": "s3://billing/cur", "amortized_url": "az://billing/amortized", "dataset": "s3://finops/focus",
        "reports": "gs://finops/reports"}


def write(tmp_path, **urls):
    values = GOOD | urls
    path = tmp_path / "costs.yaml"
    path.write_text(f"""sources:
  - {{name: azure, kind: azure-cost-details, url: "{values['url']}", amortized_url: "{values['amortized_url']}"}}
dataset: "{values['dataset']}"
reports: "{values['reports']}"
""")
    return path


def test_good_urls_load_normalised(tmp_path):
    config = load_costs_config(write(tmp_path))
    assert (config.sources[0].url, config.sources[0].amortized_url, config.dataset, config.reports) == (
        "s3://billing/cur/", "az://billing/amortized/", "s3://finops/focus/", "gs://finops/reports/")
    assert config.reports_url == "gs://finops/reports/"
    unset = CostsConfig(sources=config.sources, dataset="s3://finops/focus")
    assert unset.reports is None and unset.reports_url == "s3://finops/focus/reports"


@pytest.mark.parametrize("field,url,location,why", [
    ("url", "ftp://billing/cur", "sources.0.url", "unknown store scheme 'ftp'"),
    ("amortized_url", "az://billing/amortized?sig=x", "sources.0.amortized_url", "takes no query"),
    ("dataset", "finops/focus", "dataset", "scheme://bucket/prefix"),
    ("reports", "file://relative/reports", "reports", "file:///absolute/path"),
])
def test_a_bad_url_is_refused_naming_the_file_and_the_field(tmp_path, field, url, location, why):
    path = write(tmp_path, **{field: url})
    with pytest.raises(InvalidInput) as info:
        load_costs_config(path)
    assert info.value.target == str(path)
    assert f"{location}: " in str(info.value) and why in str(info.value)
