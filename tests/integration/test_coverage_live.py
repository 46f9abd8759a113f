"""Coverage against the live server: every operation of its own OpenAPI document
(``GET /server/specs/oas``) is an operation of the spec or is left out with its reason.

The document is known to be incomplete (spec/upstream/endpoints-README.md), which is why the unit
test tests/unit/test_coverage.py checks the full checklist; this one catches what a server adds
that neither lists. The document also still describes a few routes that 12.4.0 no longer has: the
checklist marks them ``not-routed``, and this test checks that the server really answers 404 there.
"""

import json
import os
import re

import pytest

import pydirectus
from pydirectus._core.spec import left_out
from pydirectus.client import packaged_spec
from tests.unit.test_coverage import covered_pairs as covered_shapes
from tests.unit.test_coverage import shape as checklist_shape

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHECKLIST = os.path.join(ROOT, "spec", "upstream", "endpoints-12.4.0.json")
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "search")


def shape(method, path):
    """``GET /items/{}``, as the checklist's coverage test writes it."""
    return checklist_shape(method.upper(), path)


def not_routed_rows():
    with open(CHECKLIST) as handle:
        return [row for row in json.load(handle)["endpoints"] if row["status"] == "not-routed"]


def live_shapes(document, collections):
    """The (method, path) shapes of the document, /items/<collection> paths as /items/{collection}."""
    shapes = set()
    for path, item in document["paths"].items():
        for name in collections:
            prefix = "/items/" + name
            if path == prefix or path.startswith(prefix + "/"):
                path = "/items/{collection}" + path[len(prefix):]
                break
        shapes.update(shape(method, path) for method in item if method.lower() in HTTP_METHODS)
    return shapes


def test_every_live_operation_is_covered_or_justified(client, collection):
    document = client.read_openapi_spec()
    collections = [c["collection"] for c in client.read_collections() if not c["collection"].startswith("directus_")]
    assert "/items/" + collection in document["paths"]  # the fixture makes the item routes appear

    live = live_shapes(document, collections)
    assert not any(s.startswith(("GET /items/" + collection, "POST /items/" + collection)) for s in live)
    assert {"GET /items/{}", "PATCH /items/{}/{}", "GET /server/ping"} <= live

    justified = {shape(entry["method"], entry["path"]) for entry in left_out(packaged_spec())}
    stale = {shape(row["method"], row["path"]) for row in not_routed_rows()}
    missing = sorted(live - covered_shapes() - justified - stale)
    assert missing == [], "operations of the live OpenAPI document that the spec neither covers nor leaves out"


def stale_rows():
    """The not-routed rows whose shape no operation has (GET /relations/{id} has the shape of the
    routed GET /relations/{collection}, so a request cannot tell them apart)."""
    covered = covered_shapes()
    return [row for row in not_routed_rows() if shape(row["method"], row["path"]) not in covered]


@pytest.mark.parametrize("row", stale_rows(), ids=lambda row: "%s %s" % (row["method"], row["path"]))
def test_stale_operations_of_the_document_are_not_routed(client, row):
    # were one of them routed after all, it would need an operation in the spec
    path = re.sub(r"{[^}]*}", "pydirectus_probe", row["path"])
    with pytest.raises(pydirectus.DirectusError) as answer:
        client.request(row["method"], path, json={} if row["method"] in ("PATCH", "POST") else None)
    assert (answer.value.status, answer.value.code) == (404, "ROUTE_NOT_FOUND")
