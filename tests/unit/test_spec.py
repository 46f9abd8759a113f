"""The endpoint spec: the packaged one is sound, and the linter catches each kind of mistake."""

from pydirectus.client import packaged_spec
import copy
import json
import os
import pkgutil

import pytest

from pydirectus import DirectusClient
from pydirectus import models
from pydirectus._core import query, spec as vocabulary
from pydirectus._core.interpreter import describe, install_operations
from pydirectus._core.records import Request, Response, decode_result
from pydirectus._core.spec import (METHODS, OPERATION_METHODS, PATH_KINDS, PAYLOAD_KINDS, PAYLOADS, QUERY_KINDS,
                                   QUERY_TYPES, RESULT_KINDS, RESULTS, ResultKind, lint_spec, load_spec, path_kind)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def packaged_spec():
    return json.loads(pkgutil.get_data("pydirectus", "endpoints.json"))


def test_packaged_spec_is_sound():
    assert lint_spec(packaged_spec()) == []


def test_every_operation_is_a_client_method():
    missing = []
    for operation in load_spec(packaged_spec()):
        method = getattr(DirectusClient, operation.name, None)
        if operation.hand_written:
            if not callable(method):
                missing.append(operation.name)
            elif operation.method + " " + operation.path not in (method.__doc__ or ""):
                missing.append(operation.name + " (its docstring must show %s %s)" % (operation.method, operation.path))
        else:
            assert method.operation.name == operation.name and method.operation.path == operation.path
    assert missing == [], "hand-written operations the client lacks"


def test_json_schema_allows_exactly_the_kinds_of_the_vocabulary():
    # spec/generate.py writes these enums from the vocabulary; test_stub checks that it was run
    with open(os.path.join(ROOT, "spec", "schema.json")) as handle:
        schema = json.load(handle)
    op = schema["$defs"]["operation"]["properties"]
    assert op["method"]["enum"] == list(METHODS)
    assert op["payload"]["enum"] == list(PAYLOAD_KINDS)
    assert op["result"]["enum"] == list(RESULT_KINDS)
    assert schema["$defs"]["query_param"]["properties"]["type"]["enum"] == list(QUERY_TYPES)


def _with(change):
    spec = packaged_spec()
    change(spec["operations"][0], spec)
    return lint_spec(spec)


@pytest.mark.parametrize("change, expected", [
    (lambda op, s: op.update(name="read-items"), "public Python identifier"),
    (lambda op, s: op.update(name="class"), "public Python identifier"),
    (lambda op, s: op.update(name=s["operations"][1]["name"]), "not unique"),
    (lambda op, s: op.update(method="FETCH"), "method 'FETCH'"),
    (lambda op, s: op.update(path="/items/{collection}/{id}"), "do not match the template"),
    (lambda op, s: op.update(path_params=["name"]), "do not match the template"),
    (lambda op, s: op.update(payload="xml"), "payload 'xml'"),
    (lambda op, s: op.update(result="thing"), "result 'thing'"),
    (lambda op, s: op.update(auth="yes"), "auth must be"),
    (lambda op, s: op.update(doc=""), "doc must be"),
    (lambda op, s: op.update(doc="two\nlines"), "doc must be"),
    (lambda op, s: op.update(query=["@nope"]), "not defined"),
    (lambda op, s: op.update(query=[{"name": "x", "type": "float"}]), "type 'float'"),
    (lambda op, s: op.update(query=["@global", {"name": "limit", "type": "integer"}]), "used twice"),
    (lambda op, s: op.update(query=[{"name": "model", "type": "string"}]), "reserved"),
    (lambda op, s: op.update(query=[{"name": "x", "type": "string", "presence": True}]), "presence"),
    (lambda op, s: op.update(query=[{"name": "x", "type": "boolean", "presence": "yes"}]), "presence"),
])
def test_lint_catches(change, expected):
    problems = _with(change)
    assert problems and any(expected in p for p in problems), problems


def test_linter_leaves_its_input_alone():
    spec = packaged_spec()
    before = copy.deepcopy(spec)
    lint_spec(spec)
    assert spec == before


def test_every_boolean_query_parameter_says_whether_directus_reads_its_presence():
    # Some controllers read ?flag=false as yes (spec/README.md, "presence"): for each boolean the
    # packaged spec says which kind it is, as read in the server's code, so none is guessed.
    spec = packaged_spec()
    params = [("query set " + name, p) for name, ps in spec["query_sets"].items() for p in ps]
    params += [(op["name"], p) for op in spec["operations"] for p in op["query"] if isinstance(p, dict)]
    unsaid = [(where, p["name"]) for where, p in params if p["type"] == "boolean" and "presence" not in p]
    assert unsaid == []


# --- the vocabulary (spec.py): every kind's entry names what the other places know

def test_every_method_kind_says_what_requests_say_of_idempotence():
    for kind in OPERATION_METHODS.values():
        assert Request(kind.name, "http://directus.test/").idempotent is kind.idempotent, kind


def test_every_query_kind_names_an_encoder_and_a_search_form():
    for kind in QUERY_KINDS.values():
        assert kind.encoding in query.ENCODERS and kind.search in ("text", "json", "value"), kind


def test_every_result_kind_names_a_decoding_and_a_record_class():
    for kind in RESULTS.values():
        assert kind.decoding in ("none", "bytes", "stream", "data", "record", "records"), kind
        assert kind.cli in ("json", "bytes", "stream"), kind
        assert (kind.record is None) == (kind.model_stub is None) == (kind.model_bound is None), kind
        assert kind.record is None or isinstance(getattr(models, kind.record), type), kind
        assert (kind.record is not None) == (kind.decoding in ("record", "records")), kind


def test_every_payload_has_a_stub_type_but_none():
    assert [name for name, kind in PAYLOADS.items() if kind.stub is None] == ["none"]


def test_path_kinds():
    assert path_kind("collection").stub == "str" and path_kind("id").stub == "_Id"
    assert path_kind("anything_else") is PATH_KINDS["id"]


def test_a_new_result_kind_is_one_entry_of_the_vocabulary(monkeypatch):
    # a kind that decodes like an existing one: the linter, the interpreter (model=, docstring) and
    # decode_result take it from its entry alone
    monkeypatch.setitem(RESULTS, "folder", ResultKind("folder", "record", "Item", "a folder's Item", "Item",
                                                      record="Item", model_stub="_M", model_bound="_M"))
    entry = {"name": "read_folder_record", "group": "folders", "method": "GET", "path": "/folders/{id}",
             "path_params": ["id"], "query": [], "payload": "none", "result": "folder", "auth": True,
             "doc": "Read a folder."}
    assert lint_spec({"operations": [entry]}) == []
    [operation] = load_spec({"operations": [entry]})
    assert "Returns: a folder's Item." in describe(operation)

    class Client:
        pass
    install_operations(Client, [operation])
    assert "model" in Client.read_folder_record.__kwdefaults__
    answer = Response(200, {"Content-Type": "application/json"}, b'{"data": {"id": "f1", "name": "Photos"}}')
    record = decode_result(operation, answer)
    assert isinstance(record, models.Item) and record.to_dict() == {"id": "f1", "name": "Photos"}
    assert vocabulary.RESULTS is RESULTS
