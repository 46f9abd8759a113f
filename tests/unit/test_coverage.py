"""Coverage: every live REST endpoint of Directus 12.4.0 is an operation of the spec, or is left out
with its reason written down (spec/upstream/endpoints-12.4.0.json is the checklist)."""

import json
import os
import re

from pydirectus.spec import left_out, load_spec

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHECKLIST = os.path.join(ROOT, "spec", "upstream", "endpoints-12.4.0.json")


def shape(method, path):
    """``GET /items/{}``: a method and a path template with its parameter names erased."""
    return "%s %s" % (method, re.sub(r"{[^}]*}", "{}", path.rstrip("/") or "/"))


def live_pairs():
    with open(CHECKLIST) as handle:
        rows = json.load(handle)["endpoints"]
    return {shape(row["method"], row["path"]) for row in rows if row["status"] == "live"}


def covered_pairs():
    pairs = set()
    for operation in load_spec():
        pairs.add(shape(operation.method, operation.path))
        pairs.update(shape(operation.method, variant) for variant in operation.path_variants)
    return pairs


def left_out_pairs():
    return {shape(entry["method"], entry["path"]) for entry in left_out()}


def test_the_checklist_has_296_live_pairs():
    assert len(live_pairs()) == 296


def test_every_live_endpoint_is_covered_or_justified():
    missing = live_pairs() - covered_pairs() - left_out_pairs()
    assert sorted(missing) == []


def test_nothing_is_both_covered_and_left_out():
    assert covered_pairs() & left_out_pairs() == set()


def test_every_operation_targets_a_live_endpoint():
    # a typo in a path would cover nothing and call a route that does not exist
    assert sorted(covered_pairs() - live_pairs()) == []


def test_left_out_endpoints_are_only_browser_or_mcp_oauth_flows():
    for entry in left_out():
        assert entry["path"].startswith(("/auth/login/{provider}", "/.well-known/", "/mcp-oauth/")), entry
        assert len(entry["reason"]) > 20


def test_coverage_figures():
    live = live_pairs()
    covered = live & covered_pairs()
    assert len(covered) + len(live & left_out_pairs()) == len(live)
    assert len(covered) >= 283
