"""Requests that Directus reads as the caller meant (issue 15 §1), checked on what goes out.

Each test looks at the request pydirectus sends: its URL (built by ``records.build_request``, as
the client sends it) or, through a loopback fake server, the whole request of both clients. The
server's side of each case is shown by tests/integration/test_request_meaning.py.
"""

import json
import re
from urllib.parse import unquote, urlsplit

import pytest

from pydirectus import DirectusClient
from pydirectus._core.query import flatten_fields
from tests.fakeserver import FakeServer, reply
from tests.unit.test_async_files import perform  # noqa: F401  (a fixture: both clients)
from tests.unit.test_files import form_parts, upload_server
from tests.unit.test_query import query_of, url_for

OPS = DirectusClient.operations


# ------------------------------------------------------------------ 1. many-to-any fields

M2A_FIELDS = ["title", {"sections": [{"item": {"headings": ["title", "level"], "paragraphs": ["body"]}}]}]
M2A_WIRE = "title,sections.item:headings.title,sections.item:headings.level,sections.item:paragraphs.body"


def test_a_relation_given_a_dict_is_many_to_any_in_directus_scope_syntax():
    assert ",".join(flatten_fields(M2A_FIELDS)) == M2A_WIRE
    url = url_for("read_items", "pages", fields=M2A_FIELDS)
    assert unquote(urlsplit(url).query) == "fields=" + M2A_WIRE
    # the same in the query dict, and with a string or a nested relation inside a collection's fields
    assert query_of(url_for("read_items", "pages", query={"fields": M2A_FIELDS}))["fields"] == M2A_WIRE
    assert flatten_fields([{"item": {"headings": "*", "people": ["name", {"avatar": ["id"]}]}}]) == [
        "item:headings.*", "item:people.name", "item:people.avatar.id"]


def test_the_list_and_relation_forms_are_unchanged():
    assert flatten_fields(["id", {"author": ["name", {"avatar": ["id", "type"]}]}, "title"]) == [
        "id", "author.name", "author.avatar.id", "author.avatar.type", "title"]
    assert flatten_fields({"translations": "*"}) == ["translations.*"]
    assert flatten_fields([{"tags": [{"tags_id": ["name"]}]}]) == ["tags.tags_id.name"]


@pytest.mark.parametrize("fields, message", [
    ([{"item": {}}], "needs at least one collection"),
    ([{"item": {"": ["title"]}}], "non-empty string"),
    ([{"item": {"headings": [3]}}], "expected names"),
])
def test_a_malformed_many_to_any_is_refused_before_sending(fields, message):
    with pytest.raises(TypeError, match=message):
        url_for("read_items", "pages", fields=fields)


# ------------------------------------------------------------------ 2. flags Directus reads by presence

def boolean_params(hand_written=False):
    """(operation name, QueryParam) of every boolean query parameter of the spec's operations; one
    operation for the parameters of a query set (the global set's are shared by 170 operations)."""
    seen = set()
    for operation in OPS.values():
        if operation.hand_written and not hand_written:
            continue
        for param in operation.query_params.values():
            if param.type == "boolean" and (id(param) not in seen or hand_written):
                seen.add(id(param))
                yield operation.name, param


def call_with(name, param, value):
    operation = OPS[name]
    args = ["x"] * len(operation.path_params)
    args += [p.name for p in operation.body_params if p.required]
    if operation.payload != "none" and not operation.body_params:
        args.append({"object": {}, "json": {}, "array": [{}], "multipart": {"file": b"x"}}[operation.payload])
    return url_for(name, *args, **{param.name: value})


@pytest.mark.parametrize("name, param", list(boolean_params()), ids=lambda p: getattr(p, "wire", p))
def test_a_false_flag_is_sent_so_that_directus_reads_false(name, param):
    assert query_of(call_with(name, param, True)).get(param.wire) == "true"
    sent = query_of(call_with(name, param, False))
    if param.presence:  # Directus takes ?flag=false for yes: nothing is sent
        assert param.wire not in sent
    else:  # Directus reads the value: false is sent
        assert sent[param.wire] == "false"


def test_the_reported_flags_are_left_out_when_false():
    assert urlsplit(url_for("read_auth_providers", session_only=False)).query == ""
    assert query_of(url_for("read_auth_providers", session_only=True)) == {"sessionOnly": "true"}
    assert urlsplit(url_for("clear_cache", system=False)).query == ""
    assert query_of(url_for("clear_cache", system=True)) == {"system": "true"}
    assert query_of(url_for("read_asset", "f", width=8, without_enlargement=False, download=False)) == {"width": "8"}
    assert query_of(url_for("stream_asset", "f", download=True)) == {"download": "true"}
    with pytest.raises(TypeError, match="True or False"):  # still checked when it is left out
        url_for("clear_cache", system=0)


def test_the_presence_flags_are_the_ones_the_server_reads_by_presence():
    presence = {(name, param.wire) for name, param in boolean_params(hand_written=True) if param.presence}
    assert presence == {("read_asset", "withoutEnlargement"), ("read_asset", "download"),
                        ("stream_asset", "withoutEnlargement"), ("stream_asset", "download"),
                        ("head_asset", "withoutEnlargement"), ("head_asset", "download"),
                        ("read_auth_providers", "sessionOnly"), ("clear_cache", "system")}


# ------------------------------------------------------------------ 3. logins as each driver reads them

def login_server():
    def handler(seen):
        return reply(200, {"data": {"access_token": "A", "refresh_token": "R", "expires": 900000}})
    return FakeServer(handler)


@pytest.mark.parametrize("arguments, path, body", [
    # the seed API: username is the e-mail of the default provider
    ({"username": "me@example.com", "password": "pw"}, "/auth/login",
     {"email": "me@example.com", "password": "pw", "mode": "json"}),
    ({"email": "me@example.com", "password": "pw"}, "/auth/login",
     {"email": "me@example.com", "password": "pw", "mode": "json"}),
    # an LDAP provider reads "identifier" (and refuses a body without it)
    ({"username": "jdoe", "password": "pw", "provider": "ldap"}, "/auth/login/ldap",
     {"identifier": "jdoe", "password": "pw", "mode": "json"}),
    ({"username": "jdoe", "password": "pw", "provider": "ldap", "otp": "123456"}, "/auth/login/ldap",
     {"identifier": "jdoe", "password": "pw", "mode": "json", "otp": "123456"}),
    # a provider on Directus's local driver reads "email": email= says so
    ({"email": "me@example.com", "password": "pw", "provider": "staff"}, "/auth/login/staff",
     {"email": "me@example.com", "password": "pw", "mode": "json"}),
])
def test_each_login_sends_the_body_its_driver_reads(perform, arguments, path, body):
    with login_server() as server:
        perform(server, lambda client: client.login(), static_token=None, **arguments)
    seen = server.requests[0]
    assert (seen.method, seen.target, seen.json()) == ("POST", path, body)
    assert "authorization" not in seen.headers


def test_the_seed_constructor_is_unchanged():
    with login_server() as server:
        client = DirectusClient(hostname=server.url, username="me@example.com", password="pw", proxies={})
        client.read_me()
        client.close()
    assert [(s.method, s.target) for s in server.requests] == [("POST", "/auth/login"), ("GET", "/users/me")]
    assert server.requests[0].json() == {"email": "me@example.com", "password": "pw", "mode": "json"}


def test_login_arguments_that_cannot_go_together_are_refused():
    with pytest.raises(TypeError, match="not both"):
        DirectusClient(hostname="http://h", username="jdoe", email="j@example.com", password="pw", provider="ldap")
    with pytest.raises(TypeError, match="provider"):
        DirectusClient(hostname="http://h", username="jdoe", password="pw", provider="")


# ------------------------------------------------------------------ 4. the query of an upload is in its URL

def test_upload_file_sends_fields_in_the_url_not_as_a_form_field(perform):
    with upload_server() as server:
        record = perform(server, lambda client: client.upload_file(b"hello", filename="a.txt", title="A",
                                                                   fields=["id", "title"]))
    seen = server.requests[0]
    assert seen.target == "/files?fields=id,title"
    names = [part[0] for part in form_parts(seen)]
    assert names == ["title", "file"] and record.title == "A"


def test_every_upload_sends_the_global_query_in_the_url(perform):
    def handler(seen):
        if seen.method == "GET":  # replace_file reads the current name and type first
            return reply(200, {"data": {"filename_download": "a.txt", "type": "text/plain"}})
        names = [part[0] for part in form_parts(seen)]
        return reply(200, {"data": [{"id": "f-%d" % i} for i in range(names.count("file"))] or None})
    with FakeServer(handler) as server:
        perform(server, lambda client: client.upload_files([b"1", {"file": b"2", "title": "Two"}], folder="d",
                                                           fields="id", deep={"folder": {"_limit": 1}}))
        perform(server, lambda client: client.replace_file("f-1", b"new", fields=["id", {"folder": ["name"]}],
                                                           backlink=False, description="d"))
    uploads = [seen for seen in server.requests if seen.method != "GET"]
    targets = [(urlsplit(seen.target).path, query_of(seen.target)) for seen in uploads]
    assert targets == [("/files", {"fields": "id", "deep": '{"folder":{"_limit":1}}'}),
                       ("/files/f-1", {"fields": "id,folder.name", "backlink": "false"})]
    assert [part[0] for part in form_parts(uploads[0])] == ["folder", "file", "folder", "title", "file"]
    assert [part[0] for part in form_parts(uploads[1])] == ["description", "file"]


def test_a_bad_query_value_or_a_per_file_query_is_refused_before_sending(perform):
    with upload_server() as server:
        with pytest.raises(TypeError, match="fields"):
            perform(server, lambda client: client.upload_file(b"x", fields=[3]))
        with pytest.raises(TypeError, match="query parameter of the whole request"):
            perform(server, lambda client: client.upload_files([{"file": b"x", "fields": ["id"]}]))
    assert server.requests == []


def test_import_file_sends_its_query_in_the_url():
    # POST /files/import was already an operation of the spec: its query was never misread
    url = url_for("import_file", "https://example.com/a.png", fields=["id", "title"])
    assert url.endswith("/files/import?fields=id,title")


# ------------------------------------------------------------------ 5. the two routes without a method

def test_the_singleton_permissions_and_the_system_sdl_have_methods():
    assert url_for("read_singleton_permissions", "site_settings") == "http://h/base/permissions/me/site_settings"
    assert url_for("read_graphql_system_sdl") == "http://h/base/server/specs/graphql/system"
    assert OPS["read_graphql_system_sdl"].result == OPS["read_graphql_sdl"].result == "bytes"


# ------------------------------------------------------------------ 6. examples in docstrings

def documented_example(operation_name, param_name):
    """The JSON after "e.g." in the doc of a query parameter."""
    param = next(p for p in OPS[operation_name].query_params.values() if p.name == param_name)
    found = re.search(r"e\.g\. (\{.*?\}\})", param.doc) or re.search(r"e\.g\. (\{.*?\})", param.doc)
    return json.loads(found.group(1))


def test_the_registry_filter_example_names_what_directus_reads():
    # controllers/extensions.js passes on filter.type._eq and filter.by._eq and nothing else; a bare
    # value is read as _eq (sanitizeFilter -> parseFilter of @directus/utils)
    example = documented_example("read_registry_extensions", "filter")
    assert set(example) <= {"type", "by"} and all(set(value) == {"_eq"} for value in example.values())
    sent = json.loads(query_of(url_for("read_registry_extensions", filter=example))["filter"])
    assert sent == {"type": {"_eq": "interface"}}
