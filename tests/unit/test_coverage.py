"""Coverage: every live REST endpoint of Directus 12.4.0 is an operation of the spec, or is left out
with its reason written down (spec/upstream/endpoints-12.4.0.json is the checklist)."""

from pydirectus.client import packaged_spec
import json
import os
import re

from pydirectus._core.spec import left_out, load_spec

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHECKLIST = os.path.join(ROOT, "spec", "upstream", "endpoints-12.4.0.json")


def shape(method, path):
    """``GET /items/{}``: a method and a path template with its parameter names erased."""
    return "%s %s" % (method, re.sub(r"{[^}]*}", "{}", path.rstrip("/") or "/"))


def live_rows():
    with open(CHECKLIST) as handle:
        return [row for row in json.load(handle)["endpoints"] if row["status"] == "live"]


def live_pairs():
    return {shape(row["method"], row["path"]) for row in live_rows()}


def live_variants():
    """The other paths a live row's route answers (``path_variants``: ``/permissions/me/{collection}``
    beside ``/permissions/me/{collection}/{id}``, ``/server/specs/graphql/{scope}``, ...), as
    (method, template). They are not counted among the 296 pairs."""
    return {(row["method"], variant) for row in live_rows() for variant in row.get("path_variants", [])}


def serves(template, method, path):
    """Whether the route ``method template`` answers ``method path``: a {parameter} of the template
    matches one segment, literal or {parameter}, of the path."""
    pattern = "/".join("[^/]+" if re.fullmatch(r"{[^}]*}", part) else re.escape(part)
                       for part in template.rstrip("/").split("/"))
    return re.fullmatch(pattern, path.rstrip("/")) is not None


def operation_targets():
    """(method, path) of every path an operation sends to."""
    return {(operation.method, path) for operation in load_spec(packaged_spec())
            for path in (operation.path,) + operation.path_variants}


def covered_pairs():
    pairs = set()
    for operation in load_spec(packaged_spec()):
        pairs.add(shape(operation.method, operation.path))
        pairs.update(shape(operation.method, variant) for variant in operation.path_variants)
    return pairs


def left_out_pairs():
    return {shape(entry["method"], entry["path"]) for entry in left_out(packaged_spec())}


def test_the_checklist_has_296_live_pairs():
    assert len(live_pairs()) == 296


def test_every_live_endpoint_is_covered_or_justified():
    missing = live_pairs() - covered_pairs() - left_out_pairs()
    assert sorted(missing) == []


def test_nothing_is_both_covered_and_left_out():
    assert covered_pairs() & left_out_pairs() == set()


def test_every_operation_targets_a_live_endpoint():
    # a typo in a path would cover nothing and call a route that does not exist
    live, variants = live_pairs(), live_variants()
    stray = [(method, path) for method, path in operation_targets() if shape(method, path) not in live
             and not any(method == m and serves(template, method, path) for m, template in variants)]
    assert sorted(stray) == []


# The path variants of live rows that no operation sends to, and why.
VARIANTS_NOT_CALLED = {
    ("GET", "/assets/{id}/{filename}"): "the same content as /assets/{id}, under a file name for the browser's sake",
    ("HEAD", "/assets/{id}/{filename}"): "the same headers as /assets/{id}, under a file name for the browser's sake",
    ("GET", "/.well-known/oauth-protected-resource/{suffix}"): "MCP OAuth discovery, for MCP clients",
    ("GET", "/.well-known/oauth-authorization-server/{suffix}"): "MCP OAuth discovery, for MCP clients",
}


def test_every_path_variant_of_a_live_row_is_called_or_justified():
    targets = operation_targets()
    called = {(method, template) for method, template in live_variants()
              if any(m == method and serves(template, m, path) for m, path in targets)}
    assert called == {("GET", "/permissions/me/{collection}"), ("GET", "/server/specs/graphql/{scope}")}
    assert live_variants() - called == set(VARIANTS_NOT_CALLED)


def test_left_out_endpoints_are_only_browser_or_mcp_oauth_flows():
    for entry in left_out(packaged_spec()):
        assert entry["path"].startswith(("/auth/login/{provider}", "/.well-known/", "/mcp-oauth/")), entry
        assert len(entry["reason"]) > 20


def test_coverage_figures():
    live = live_pairs()
    covered = live & covered_pairs()
    assert len(covered) + len(live & left_out_pairs()) == len(live)
    assert len(covered) >= 283
