"""TrafficManagerWeights through the real azure-mgmt-trafficmanager client against a local
fake ARM server (multicloud/testing/fakes/fake_arm.py) on a free port: reads, minimal writes, error mapping, the
failover weight shift, timeouts and retries."""

from __future__ import annotations

import time

import pytest

from multicloud.clouds.azure.dns import TrafficManagerWeights
from multicloud.config import Connection, TrafficManagerProfile
from multicloud.core.errors import InvalidInput, NotFound
from multicloud.core.failover import shift_weights
from multicloud.testing.fakes.fake_arm import FakeArm

SUB, RG, PROFILE = "00000000-0000-0000-0000-000000000001", "rg-ops", "app-tm"
SITES = {"primary": "primary.app.example.com", "secondary": "secondary.app.example.com",
         "tertiary": "tertiary.app.example.com"}
PROFILE_PATH = (f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/"
                f"trafficmanagerprofiles/{PROFILE}")


@pytest.fixture
def fake():
    with FakeArm() as server:
        yield server


def _conn(credentials: str = "emulator", timeout: float = 5.0) -> Connection:
    return Connection(name="azure-test", cloud="azure", credentials=credentials, timeout_seconds=timeout,
                      connect_timeout_seconds=2.0)


def _tm(fake: FakeArm, profile: str = PROFILE, resource_group: str = RG, **conn) -> TrafficManagerWeights:
    dns = TrafficManagerProfile(subscription_id=SUB, resource_group=resource_group, profile=profile,
                                api_endpoint=fake.url, connection="azure-test")
    return TrafficManagerWeights(_conn(**conn), dns, SITES)


def _seed(fake: FakeArm, routing: str = "Weighted", **weights: tuple[int, str]) -> None:
    """Endpoints as site=(weight, status); target = the site's dns_value."""
    fake.add_profile(SUB, RG, PROFILE, routing=routing, endpoints={
        site: {"target": SITES[site], "weight": w, "status": status} for site, (w, status) in weights.items()})


def test_reads_weights_and_values_through_the_sdk(fake):
    _seed(fake, primary=(100, "Enabled"), secondary=(50, "Disabled"))
    tm = _tm(fake)

    assert tm.weights() == {"primary": 100, "secondary": 0}  # Disabled counts as 0
    assert tm.values() == {"primary": [SITES["primary"]], "secondary": [SITES["secondary"]]}

    assert [(r.method, r.path) for r in fake.requests] == [("GET", PROFILE_PATH)] * 2
    first = fake.requests[0]
    assert first.query["api-version"] == ["2026-09-01"]
    assert first.authorization == "Bearer multicloud-emulator-token"


def test_set_weights_patches_only_differing_endpoints_and_reads_back(fake):
    _seed(fake, primary=(60, "Enabled"), secondary=(40, "Enabled"), tertiary=(10, "Disabled"))
    tm = _tm(fake)

    tm.set_weights({"primary": 60, "secondary": 100, "tertiary": 0})
    writes = fake.writes()
    assert [(w.method, w.path) for w in writes] == [("PATCH", f"{PROFILE_PATH}/ExternalEndpoints/secondary")]
    assert writes[0].body == {"properties": {"weight": 100, "endpointStatus": "Enabled"}}
    assert tm.weights() == {"primary": 60, "secondary": 100, "tertiary": 0}

    tm.set_weights({"primary": 60, "secondary": 100, "tertiary": 0})  # nothing differs: no write
    assert len(fake.writes()) == 1

    tm.set_weights({"primary": 0, "tertiary": 5})  # 0 disables; a weight re-enables
    assert [w.body for w in fake.writes()[1:]] == [{"properties": {"endpointStatus": "Disabled"}},
                                                   {"properties": {"weight": 5, "endpointStatus": "Enabled"}}]
    assert tm.weights() == {"primary": 0, "secondary": 100, "tertiary": 5}
    primary = fake.endpoint(SUB, RG, PROFILE, "primary")["properties"]
    assert (primary["endpointStatus"], primary["weight"], primary["target"]) == ("Disabled", 60, SITES["primary"])


def test_missing_profile_or_resource_group_is_not_found(fake):
    _seed(fake, primary=(1, "Enabled"))
    with pytest.raises(NotFound) as exc:
        _tm(fake, profile="no-such-profile").weights()
    assert "no-such-profile" in exc.value.target and "ResourceNotFound" in str(exc.value)
    with pytest.raises(NotFound) as exc:
        _tm(fake, resource_group="rg-missing").set_weights({"primary": 2})
    assert "rg-missing" in exc.value.target and "ResourceGroupNotFound" in str(exc.value)
    assert fake.writes() == []
    # NotFound is not retried: one GET each.
    assert len(fake.requests) == 2


def test_non_weighted_profile_is_invalid_input(fake):
    _seed(fake, routing="Priority", primary=(1, "Enabled"), secondary=(1, "Enabled"))
    tm = _tm(fake)
    with pytest.raises(InvalidInput) as exc:
        tm.weights()
    assert PROFILE in exc.value.target and "Priority" in str(exc.value)
    with pytest.raises(InvalidInput):
        tm.set_weights({"primary": 0, "secondary": 2})
    assert fake.writes() == []


def test_failover_shift_moves_all_weight_from_primary_to_secondary(fake):
    _seed(fake, primary=(100, "Enabled"), secondary=(1, "Disabled"))
    tm = _tm(fake)
    before = tm.weights()
    assert before == {"primary": 100, "secondary": 0}

    target = shift_weights(before, "primary", ["secondary"])
    assert target == {"primary": 0, "secondary": 100}
    tm.set_weights(target)

    assert tm.weights() == target
    assert len(fake.writes()) == 2
    assert fake.endpoint(SUB, RG, PROFILE, "primary")["properties"]["endpointStatus"] == "Disabled"
    assert fake.endpoint(SUB, RG, PROFILE, "secondary")["properties"]["weight"] == 100


def test_bad_weights_and_unknown_endpoints_are_refused_before_any_write(fake):
    _seed(fake, primary=(1000, "Enabled"), secondary=(1000, "Enabled"))
    tm = _tm(fake)
    with pytest.raises(InvalidInput, match="outside 0-1000"):
        tm.set_weights(shift_weights(tm.weights(), "primary", ["secondary"]))  # secondary would be 2000
    with pytest.raises(NotFound, match="no endpoint 'elsewhere'"):
        tm.set_weights({"primary": 5, "elsewhere": 1})
    assert fake.writes() == []


def test_endpoint_pointing_away_from_its_site_gets_no_traffic(fake):
    fake.add_profile(SUB, RG, PROFILE, endpoints={
        "primary": {"target": SITES["primary"], "weight": 100},
        "secondary": {"target": "stale.example.com", "weight": 1, "status": "Disabled"}})
    with pytest.raises(InvalidInput, match="stale.example.com"):
        _tm(fake).set_weights({"primary": 0, "secondary": 100})
    assert fake.writes() == []


def test_throttling_is_retried_by_retried_not_the_sdk(fake):
    _seed(fake, primary=(3, "Enabled"))
    fake.fail_next(1, 503)
    assert _tm(fake).weights() == {"primary": 3}
    assert len(fake.requests) == 2  # the 503, then one retry from retried(): the SDK made none


@pytest.mark.parametrize(("timeout", "requests"), [(0.5, 2), (10.0, 1)], ids=["short", "long"])
def test_read_timeout_comes_from_the_connection(fake, timeout, requests):
    _seed(fake, primary=(3, "Enabled"))
    fake.delay_next(1, 3.0)
    assert _tm(fake, timeout=timeout).weights() == {"primary": 3}
    # Short: the SDK gave up on the 3 s answer and retried (two requests), long: it waited for it.
    assert len(fake.requests) == requests
    deadline = time.monotonic() + 30
    while not fake.late_answers and time.monotonic() < deadline:
        time.sleep(0.05)
    # Short: the retry had arrived before the slow answer was written, so the client had left it.
    assert fake.late_answers == [requests]


def test_unusable_credentials_are_invalid_input(fake):
    with pytest.raises(InvalidInput, match="plain HTTP"):
        _tm(fake, credentials="default")
    with pytest.raises(InvalidInput, match="connection-string-env"):
        _tm(fake, credentials="connection-string-env")
    no_endpoint = TrafficManagerProfile(subscription_id=SUB, resource_group=RG, profile=PROFILE)
    with pytest.raises(InvalidInput, match="api_endpoint"):
        TrafficManagerWeights(_conn(), no_endpoint, SITES)
    assert fake.requests == []
