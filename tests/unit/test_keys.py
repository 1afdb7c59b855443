"""Key and metadata-name encoding as values: exact round trips for every key and every rule set,
keys stored raw where a store can hold them, and the planner matching both sides by original name."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import multicloud.clouds  # noqa: F401  registers every scheme's rules
from multicloud.core.keys import ESCAPE, decode_key, decode_metadata, encode_key, encode_metadata
from multicloud.core.objects import ObjectMeta
from multicloud.core.replication import ShardReport, plan
from multicloud.core.schemes import KeyRules, MetadataRules, scheme_rules

P = ESCAPE
T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)
SCHEMES = ["s3", "az", "gs", "file", "mem"]
# Characters that trip some rule, the escape itself, and hex digits so that literal escapes appear.
key_text = st.text(alphabet=st.sampled_from(f"a/.\\\t {P}2E4F1B"), min_size=1, max_size=10)
rule_sets = st.builds(KeyRules, *(st.booleans() for _ in range(7)))
name_text = st.text(alphabet=st.sampled_from("aZ_-.9mcenc_6f"), min_size=1, max_size=12)


@settings(max_examples=500, deadline=None)
@given(key_text, rule_sets)
def test_every_key_round_trips_under_every_rule_set(key, rules):
    stored = encode_key(key, rules)
    assert decode_key(stored, rules) == key


@settings(max_examples=300, deadline=None)
@given(st.lists(key_text, min_size=2, max_size=12, unique=True), rule_sets)
def test_no_two_keys_share_a_stored_form(keys, rules):
    assert len({encode_key(k, rules) for k in keys}) == len(keys)


@settings(max_examples=300, deadline=None)
@given(key_text, st.sampled_from(SCHEMES), st.sampled_from(SCHEMES))
def test_a_key_leaves_s3_and_comes_back_byte_exact(key, middle, last):
    """S3 holds every key as it is, so whatever path the key takes, S3 gets back the same bytes."""
    on_middle = encode_key(decode_key(key, "s3"), middle)
    on_last = encode_key(decode_key(on_middle, middle), last)
    assert encode_key(decode_key(on_last, last), "s3") == key


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("key", ["plain/key.txt", f"50{P} off", f"x{P}41", f"{P}", f"x{P}EF{P}BC{P}85"])
def test_keys_a_store_can_hold_are_stored_raw(scheme, key):
    """A literal escape that does not spell another key is left alone, on every store."""
    assert encode_key(key, scheme) == key
    assert decode_key(key, scheme) == key


def test_literal_escapes_that_spell_an_encoded_key_are_escaped_where_the_store_encodes():
    assert encode_key("a.", "az") == f"a{P}2E"
    assert decode_key(f"a{P}2E", "az") == "a."
    # On Azure a literal "％2E" would read back as ".", so its escape is escaped; S3 keeps it raw.
    assert encode_key(f"a{P}2E", "az") == f"a{P}EF{P}BC{P}852E"
    assert decode_key(f"a{P}EF{P}BC{P}852E", "az") == f"a{P}2E"
    assert encode_key(f"a{P}2E", "s3") == f"a{P}2E"
    assert decode_key(f"a{P}2E", "s3") == f"a{P}2E"


def test_a_stored_key_that_is_not_utf8_once_unescaped_is_taken_as_it_is():
    assert decode_key(f"a{P}FF", "az") == f"a{P}FF"


@settings(max_examples=300, deadline=None)
@given(key_text, rule_sets)
def test_stored_keys_hold_nothing_the_rules_refuse(key, rules):
    stored = encode_key(key, rules)
    if rules.control_chars:
        assert "\t" not in stored
    if rules.backslash:
        assert "\\" not in stored
    if rules.trailing_dot:
        assert not stored.endswith(".")
    if rules.dot_segments:
        assert not set(stored.split("/")) & {".", ".."}


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(name_text, st.text(max_size=3), max_size=6), st.sampled_from(SCHEMES),
       st.sampled_from(SCHEMES))
def test_metadata_names_leave_s3_and_come_back_byte_exact(metadata, middle, last):
    start = {k.lower(): v for k, v in metadata.items() if scheme_rules("s3").metadata.accepts(k.lower())}
    hops = start
    for scheme_from, scheme_to in (("s3", middle), (middle, last), (last, "s3")):
        names, _ = decode_metadata(hops, scheme_from)
        hops, _ = encode_metadata(names, scheme_to)
        assert all(scheme_rules(scheme_to).metadata.accepts(n) for n in hops)
    assert hops == start


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(name_text, st.text(max_size=3), max_size=6),
       st.sampled_from([MetadataRules(), MetadataRules(r"[a-z0-9_.\-]+"), MetadataRules(r"[A-Za-z_][A-Za-z0-9_]*")]))
def test_metadata_names_round_trip_and_count(metadata, rules):
    stored, encoded = encode_metadata(metadata, rules)
    assert len(stored) == len(metadata)
    names, decoded = decode_metadata(stored, rules)
    assert names == metadata and decoded == encoded


def test_a_raw_mcenc_name_is_kept_as_it_is_unless_it_spells_another():
    assert encode_metadata({"mcenc_6869": "1"}, "az") == ({"mcenc_6869": "1"}, 0)
    assert decode_metadata({"mcenc_6869": "1"}, "az") == ({"mcenc_6869": "1"}, 0)
    spelled = "mcenc_" + "Owner".encode().hex()  # what S3 stores for "Owner"
    assert encode_metadata({"Owner": "1"}, "s3") == ({spelled: "1"}, 1)
    assert decode_metadata({spelled: "1"}, "s3") == ({"Owner": "1"}, 1)
    assert decode_metadata({spelled: "1"}, "gs") == ({spelled: "1"}, 0)  # GCS never encodes names


# ---- the planner matches both sides by original name ----------------------------------------

names = st.dictionaries(key_text, st.integers(0, 2), max_size=15)


def listing(objects: dict[str, int], scheme: str) -> list[ObjectMeta]:
    out = [ObjectMeta(key=encode_key(k, scheme), size=s, hashes={"sha256": str(s)}, last_modified=T0)
           for k, s in objects.items()]
    return sorted(out, key=lambda m: m.key)


@settings(max_examples=300, deadline=None)
@given(names, names, st.sampled_from(SCHEMES), st.sampled_from(SCHEMES))
def test_plan_matches_by_original_name_whatever_each_side_encodes(src, dst, src_scheme, dst_scheme):
    decisions = list(plan(listing(src, src_scheme), listing(dst, dst_scheme), source_scheme=src_scheme,
                          target_scheme=dst_scheme))
    got = {d.key: d.action for d in decisions}
    assert len(got) == len(decisions)
    expected = {k: "copy" if k not in dst or dst[k] != src[k] else "skip" for k in src}
    expected.update({k: "delete" for k in dst if k not in src})
    assert got == expected
    for d in decisions:
        assert d.target_key == encode_key(d.key, dst_scheme)
        if d.source is not None:
            assert d.source_key == encode_key(d.key, src_scheme)


def test_a_key_coming_back_from_azure_is_planned_as_the_original_and_a_rerun_is_a_noop():
    on_azure = listing({"trailing.": 1, "dot/./seg": 1, f"lit{P}2E": 1, "plain": 1}, "az")
    first = list(plan(on_azure, [], source_scheme="az", target_scheme="s3"))
    assert sorted(d.target_key for d in first) == sorted(["trailing.", "dot/./seg", f"lit{P}2E", "plain"])
    report = ShardReport("s3://x")
    list(report.tally(first, [], 0))
    assert (report.decoded_keys, report.encoded_keys) == (3, 0)
    back_on_s3 = sorted((ObjectMeta(key=d.target_key, size=1, hashes={"sha256": "1"}, last_modified=T0)
                         for d in first), key=lambda m: m.key)
    again = list(plan(on_azure, back_on_s3, source_scheme="az", target_scheme="s3"))
    assert {d.action for d in again} == {"skip"}
    # and a mirror never takes the encoded object on the other side for a target-only one
    assert not [d for d in plan(back_on_s3, on_azure, source_scheme="s3", target_scheme="az")
                if d.action != "skip"]
