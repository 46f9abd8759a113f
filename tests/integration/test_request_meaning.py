"""What Directus 12.4.0 answers to requests it used to read otherwise than the caller meant
(issue 15 §1): each test shows the difference in the server's answer (the comments say what it
answered before). ``import_file`` and the registry's filter example were read as meant already:
their tests check that they stay so. The requests themselves are checked by
tests/unit/test_request_meaning.py.

Most tests run on the session's server. The others share one server of their own (``special``):
an LDAP provider whose directory is unreachable and an OAuth 2.0 provider in JSON mode, a fake
extensions registry that records what Directus asks it, imports from loopback allowed, and its
SQLite database at hand.
"""

import contextlib
import json
import os
import re
import sqlite3
import uuid
from urllib.parse import parse_qsl, urlsplit

import pytest

from pydirectus import DirectusClient, ForbiddenError, ServerError
from tests.conftest import COLLECTION_FIELDS, remove_collection
from tests.fakeserver import FakeServer, reply
from tests.integration.groups_support import png_bytes, png_size, upload
from tests.integration.test_files import FileHost
from tests.rest import call

SPECIAL_SETTINGS = {
    "PYDIRECTUS_PURPOSE": "request-meaning",
    "AUTH_PROVIDERS": "ldap,github",
    # an LDAP directory nobody listens for: a login that passes validation fails to connect
    "AUTH_LDAP_DRIVER": "ldap",
    "AUTH_LDAP_CLIENT_URL": "ldap://127.0.0.1:9",
    "AUTH_LDAP_BIND_DN": "cn=admin,dc=example,dc=org",
    "AUTH_LDAP_BIND_PASSWORD": "not-used",
    "AUTH_LDAP_USER_DN": "ou=users,dc=example,dc=org",
    # an OAuth 2.0 provider in JSON mode: not a session provider
    "AUTH_GITHUB_DRIVER": "oauth2",
    "AUTH_GITHUB_CLIENT_ID": "pydirectus",
    "AUTH_GITHUB_CLIENT_SECRET": "not-used",
    "AUTH_GITHUB_AUTHORIZE_URL": "http://127.0.0.1:9/authorize",
    "AUTH_GITHUB_ACCESS_URL": "http://127.0.0.1:9/token",
    "AUTH_GITHUB_PROFILE_URL": "http://127.0.0.1:9/profile",
    "AUTH_GITHUB_MODE": "json",
    "IMPORT_IP_DENY_LIST": "169.254.169.254",  # lets the server import from 127.0.0.1
}
PK = {"field": "id", "type": "integer", "meta": {"hidden": True},
      "schema": {"is_primary_key": True, "has_auto_increment": True}}


@pytest.fixture(scope="module")
def registry():
    """A fake extensions registry: what Directus asks it is in ``registry.requests``."""
    def handler(seen):
        if seen.target == "/version":  # the registry API version Directus 12.4.0 requires
            return reply(200, {"version": "2024-01-29"})
        return reply(200, {"meta": {"filter_count": 0}, "data": []})
    with FakeServer(handler) as server:
        yield server


@pytest.fixture(scope="module")
def special(directus_factory, registry):
    return directus_factory(SPECIAL_SETTINGS, MARKETPLACE_REGISTRY=registry.url)


@contextlib.contextmanager
def sso_in_use(server):
    """An active user of the LDAP provider meanwhile.

    An unlicensed Directus 12 hides its SSO providers (``GET /auth`` lists none, their login routes
    answer 404) unless its Core license is "locked", which SSO users in use make it
    (license/utils/compute-license-status.js, is-sso-bypass-allowed.js): the state of a server that
    uses SSO without the license for it. The API refuses to give a user another provider, so the user
    is written into the database; Directus caches its SSO check until a user is deleted through the
    API (services/users.js deleteMany), so one is. A locked server refuses items, files and assets:
    only auth tests run inside.
    """
    user = str(uuid.uuid4())
    database = os.path.join(server.data_dir, "data.db")
    with contextlib.closing(sqlite3.connect(database, timeout=30)) as connection, connection:
        connection.execute("INSERT INTO directus_users (id, email, status, provider, external_identifier) "
                           "VALUES (?, ?, 'active', 'ldap', ?)", (user, user + "@example.com", "cn=" + user))
    try:
        throwaway = call(server.url, "POST", "/users", {"email": "t-%s@example.com" % uuid.uuid4().hex},
                         token=server.token)
        assert throwaway.status == 200, throwaway
        assert call(server.url, "DELETE", "/users/" + throwaway.body["data"]["id"], token=server.token).status == 204
        yield
    finally:
        assert call(server.url, "DELETE", "/users/" + user, token=server.token).status == 204


def create_collection(server, name, fields, meta=None):
    reply_ = call(server.url, "POST", "/collections", {"collection": name, "meta": meta or {}, "schema": {},
                                                       "fields": fields}, token=server.token)
    assert reply_.status == 200, reply_


# ------------------------------------------------------------------ 1. many-to-any fields

@pytest.fixture
def pages(directus):
    """A page with a many-to-any "sections" relation to a heading and a paragraph, as
    (pages collection, heading collection, paragraph collection, page id)."""
    suffix = uuid.uuid4().hex[:8]
    pages, headings, paragraphs = "pages_" + suffix, "headings_" + suffix, "paragraphs_" + suffix
    junction = "pages_sections_" + suffix
    made = []
    try:
        for name, fields, meta in (
                (pages, [PK, {"field": "title", "type": "string"}], None),
                (headings, [PK, {"field": "title", "type": "string"}, {"field": "level", "type": "integer"}], None),
                (paragraphs, [PK, {"field": "body", "type": "text"}], None),
                (junction, [PK, {"field": "pages_id", "type": "integer"}, {"field": "item", "type": "string"},
                            {"field": "collection", "type": "string"}], {"hidden": True})):
            create_collection(directus, name, fields, meta)
            made.append(name)
        for path, body in (
                ("/fields/" + pages, {"field": "sections", "type": "alias",
                                      "meta": {"special": ["m2a"], "interface": "list-m2a"}}),
                ("/relations", {"collection": junction, "field": "item", "related_collection": None,
                                "meta": {"one_allowed_collections": [headings, paragraphs],
                                         "one_collection_field": "collection", "junction_field": "pages_id"}}),
                ("/relations", {"collection": junction, "field": "pages_id", "related_collection": pages,
                                "meta": {"one_field": "sections", "junction_field": "item"},
                                "schema": {"on_delete": "SET NULL"}})):
            created = call(directus.url, "POST", path, body, token=directus.token)
            assert created.status == 200, created
        page = call(directus.url, "POST", "/items/" + pages, {"title": "Home", "sections": [
            {"collection": headings, "item": {"title": "Welcome", "level": 1}},
            {"collection": paragraphs, "item": {"body": "Hello"}}]}, token=directus.token)
        assert page.status == 200, page
        yield pages, headings, paragraphs, page.body["data"]["id"]
    finally:
        for name in reversed(made):
            remove_collection(directus, name)


def test_many_to_any_fields_read_each_collection_s_own_fields(client, pages):
    collection, headings, paragraphs, page_id = pages
    page = client.read_item(collection, page_id, fields=[
        "title", {"sections": [{"item": {headings: ["title", "level"], paragraphs: ["body"]}}]}])
    # sent as sections.item.<collection>.field, Directus answered [{"item": 1}, {"item": 1}]: the keys
    assert page["title"] == "Home"
    assert sorted(page["sections"], key=json.dumps) == [{"item": {"body": "Hello"}},
                                                        {"item": {"level": 1, "title": "Welcome"}}]


# ------------------------------------------------------------------ 2. flags Directus reads by presence

def test_session_only_false_lists_every_provider(special):
    with sso_in_use(special), DirectusClient(hostname=special.url) as client:
        def names(providers):
            return sorted(provider["name"] for provider in providers)
        assert names(client.read_auth_providers()) == ["github", "ldap"]
        assert names(client.read_auth_providers(session_only=False)) == ["github", "ldap"]  # was ["ldap"]
        assert names(client.read_auth_providers(session_only=True)) == ["ldap"]  # github is in JSON mode


def test_clear_cache_without_system_keeps_the_schema_cache(special):
    name = "t_" + uuid.uuid4().hex[:12]
    create_collection(special, name, COLLECTION_FIELDS)
    try:
        assert call(special.url, "POST", "/items/" + name, {"title": "one"}, token=special.token).status == 200
        # a column added behind Directus's back is unknown until the schema cache is cleared
        with contextlib.closing(sqlite3.connect(os.path.join(special.data_dir, "data.db"), timeout=30)) as db, db:
            db.execute("ALTER TABLE %s ADD COLUMN added TEXT DEFAULT 'behind'" % name)
        with DirectusClient(hostname=special.url, static_token=special.token) as client:
            client.clear_cache(system=False)  # was ?system=false: Directus cleared the system cache
            with pytest.raises(ForbiddenError, match="added"):
                client.read_items(name, fields=["added"])
            client.clear_cache(system=True)
            assert [item["added"] for item in client.read_items(name, fields=["added"])] == ["behind"]
    finally:
        remove_collection(special, name)


def test_without_enlargement_false_enlarges(client):
    record = upload(client, png_bytes(4, 4), "small.png", "image/png")
    try:
        enlarged = client.read_asset(record["id"], width=8, height=8, without_enlargement=False)
        assert png_size(enlarged) == (8, 8)  # was ?withoutEnlargement=false: Directus kept 4 x 4
        kept = client.read_asset(record["id"], width=8, height=8, without_enlargement=True)
        assert png_size(kept) == (4, 4)
    finally:
        client.delete_file(record["id"])


# ------------------------------------------------------------------ 3. LDAP login

def test_an_ldap_login_is_sent_as_directus_ldap_driver_reads_it(special, make_client):
    with sso_in_use(special):
        client = make_client(hostname=special.url, username="jdoe", password="secret", provider="ldap", retries=0)
        with pytest.raises(ServerError) as caught:
            client.login()
    # the body passed validation (it was 400 INVALID_PAYLOAD '"identifier" is required'): the
    # server went on to its directory, which does not answer
    error = caught.value
    assert (error.status, error.code) == (503, "SERVICE_UNAVAILABLE") and "ldap" in error.message, error


# ------------------------------------------------------------------ 4. the query of an upload

def test_uploads_answer_the_fields_asked_for(directus, make_client):
    client = make_client(hostname=directus.url, static_token=directus.token)
    made = []
    try:
        record = client.upload_file(b"hello", filename="a.txt", title="A", fields=["id", "title"])
        made.append(record.id)
        # fields went as a form field, which Directus ignored: the whole record came back
        assert (record.title, record.filename_download, record.filesize) == ("A", None, None)
        replaced = client.replace_file(record.id, b"hello again", fields=["id", "filesize"])
        assert (replaced.id, replaced.filesize, replaced.title) == (record.id, 11, None)
        several = client.upload_files([b"1", b"22"], fields=["id", "filesize"])
        made.extend(file.id for file in several)
        assert sorted(file.filesize for file in several) == [1, 2] and {file.type for file in several} == {None}
    finally:
        for key in made:
            call(directus.url, "DELETE", "/files/" + key, token=directus.token)


def test_import_file_answers_the_fields_asked_for(special, make_client):
    client = make_client(hostname=special.url, static_token=special.token)
    with FileHost(png_bytes(2, 2), "image/png") as host:
        record = client.import_file("http://127.0.0.1:%d/i.png" % host.server_address[1], fields=["id", "type"])
    try:
        assert (record.type, record.filesize, record.filename_download) == ("image/png", None, None)
    finally:
        call(special.url, "DELETE", "/files/" + record.id, token=special.token)


# ------------------------------------------------------------------ 5. the two routes without a method

def test_the_permissions_on_a_singleton(client, directus):
    name = "s_" + uuid.uuid4().hex[:10]
    create_collection(directus, name, [PK, {"field": "site_name", "type": "string"}], {"singleton": True})
    try:
        # a singleton has no id to put in /permissions/me/{collection}/{id}
        assert client.read_singleton_permissions(name) == {
            "update": {"access": True}, "delete": {"access": True}, "share": {"access": True}}
    finally:
        remove_collection(directus, name)


def test_the_graphql_sdl_of_the_system_collections(client):
    system = client.read_graphql_system_sdl().decode("utf-8")
    items = client.read_graphql_sdl().decode("utf-8")
    assert "type Query {" in system and "server_info" in system and "server_info" not in items


# ------------------------------------------------------------------ 6. examples in docstrings

def test_the_registry_filter_example_filters_the_marketplace(special, registry):
    doc = next(p.doc for p in DirectusClient.operations["read_registry_extensions"].query_params.values()
               if p.name == "filter")
    example = json.loads(re.search(r"e\.g\. (\{.*?\}\}|\{.*?\})", doc).group(1))
    with DirectusClient(hostname=special.url, static_token=special.token) as client:
        before = len(registry.requests)
        assert client.read_registry_extensions(filter=example) == []
    asked = [seen for seen in registry.requests[before:] if urlsplit(seen.target).path == "/extensions"]
    # Directus passes filter.type._eq on to the marketplace as ?type=
    assert [dict(parse_qsl(urlsplit(seen.target).query)).get("type") for seen in asked] == ["interface"]
    with DirectusClient(hostname=special.url, static_token=special.token) as client:
        before = len(registry.requests)
        client.read_registry_extensions(filter={"type": "interface"}, search="x")  # the shorthand: the same
        client.read_registry_extensions(filter={"name": {"_eq": "x"}})  # not read: nothing passed on
    asked = [dict(parse_qsl(urlsplit(seen.target).query)) for seen in registry.requests[before:]
             if urlsplit(seen.target).path == "/extensions"]
    assert [(query.get("type"), query.get("search")) for query in asked] == [("interface", "x"), (None, None)]


def test_an_export_returns_the_file_it_asked_for(each_client, collection):
    """export="csv" (and xml, yaml) answers a file, not JSON: the method returns its bytes; it
    raised a JSONDecodeError before. export="json" still returns the items."""
    each_client.create_items(collection, [{"title": "exported", "views": 3}])
    csv = each_client.read_items(collection, fields=["title", "views"], export="csv")
    assert isinstance(csv, bytes) and csv.splitlines()[0].replace(b'"', b"") == b"title,views"
    assert b"exported" in csv
    users = each_client.read_users(fields=["email"], export="yaml")
    assert isinstance(users, bytes) and b"email:" in users
    rows = each_client.read_items(collection, fields=["title"], export="json")
    assert [row["title"] for row in rows] == ["exported"]
