"""The spec's knowledge of Directus versions (an operation's ``versions``), and what the clients do with it:
an operation the server's version lacks raises UnsupportedOperationError before anything is sent when
the version is known, and from its 404 ROUTE_NOT_FOUND when it is not."""

import asyncio
import copy
import importlib.util
import json
import os

import pytest

import pydirectus
from pydirectus import (AsyncDirectusClient, DirectusClient, ForbiddenError, NotFoundError,
                        UnsupportedOperationError)
from pydirectus.client import packaged_spec
from pydirectus._core.spec import DIRECTUS_RELEASES, lint_spec, load_user_spec, server_major
from tests.mocktransport import AsyncMockTransport, MockTransport, json_response

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UPSTREAM = os.path.join(ROOT, "spec", "upstream")
URL = "http://directus.test"
ROUTE_NOT_FOUND = {"errors": [{"message": "Route /policies doesn't exist.",
                               "extensions": {"path": "/policies", "code": "ROUTE_NOT_FOUND"}}]}


def _generate_module():
    spec = importlib.util.spec_from_file_location("spec_generate", os.path.join(ROOT, "spec", "generate.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _routes(release):
    with open(os.path.join(UPSTREAM, "routes-%s.json" % release), encoding="utf-8") as handle:
        return json.load(handle)


# ---------------------------------------------------------------------------------------- the spec

def test_every_tested_release_has_its_routes_and_its_own_openapi_document_pinned():
    for release in DIRECTUS_RELEASES.values():
        routes = _routes(release)
        assert routes["directus"] == release
        assert os.path.exists(os.path.join(UPSTREAM, "oas-%s.json" % release))
        with open(os.path.join(UPSTREAM, "oas-%s.json" % release), encoding="utf-8") as handle:
            assert json.load(handle)["openapi"].startswith("3.")


def test_the_spec_versions_agree_with_the_routes_files():
    spec = packaged_spec()
    wanted = _generate_module().versions_from_routes(spec)
    found = {operation["name"]: operation.get("versions") for operation in spec["operations"]}
    assert found == wanted
    # every routes file covers exactly the spec's operations
    for release in DIRECTUS_RELEASES.values():
        assert set(_routes(release)["operations"]) == set(found)


def test_policies_are_known_to_have_come_with_directus_11():
    operations = DirectusClient.operations
    assert operations["read_policies"].versions == (11, 12)
    assert operations["create_access_rule"].versions == (11, 12)
    assert operations["read_items"].versions is None  # every version
    assert not operations["read_items"].version_aware
    assert operations["server_info"].version_aware and operations["server_info"].versions is None


def test_the_latest_release_routes_every_operation_of_the_spec():
    routes = _routes(DIRECTUS_RELEASES[max(DIRECTUS_RELEASES, key=int)])
    assert [name for name, row in routes["operations"].items() if not row["routed"]] == []


def _with_versions(name, versions):
    spec = copy.deepcopy(packaged_spec())
    for operation in spec["operations"]:
        if operation["name"] == name:
            operation["versions"] = versions
    return spec


@pytest.mark.parametrize("versions, expected", [
    (["11", "12"], None),
    (["12"], None),
    ([], "non-empty list"),
    ("11", "non-empty list"),
    ([11, 12], "non-empty list"),
    (["9", "11"], "not among the tested majors"),
    (["12", "11"], "ascending"),
    (["11", "11"], "ascending"),
    (list(DIRECTUS_RELEASES), "leave it out"),
])
def test_lint_checks_versions(versions, expected):
    problems = [p for p in lint_spec(_with_versions("read_items", versions)) if "versions" in p]
    if expected is None:
        assert problems == []
    else:
        assert len(problems) == 1 and expected in problems[0], problems


def test_lint_refuses_versions_on_a_hand_written_operation():
    problems = lint_spec(_with_versions("login", ["12"]))
    assert [p for p in problems if "hand_written" in p] == [
        "operation 'login': versions on a hand_written operation: the client checks only those it makes"]


def test_schema_allows_exactly_the_tested_majors():
    with open(os.path.join(ROOT, "spec", "schema.json"), encoding="utf-8") as handle:
        schema = json.load(handle)
    assert schema["$defs"]["operation"]["properties"]["versions"]["items"]["enum"] == list(DIRECTUS_RELEASES)


@pytest.mark.parametrize("version, major", [
    ("10.13.4", 10), ("11.17.4", 11), ("12.4.0", 12), ("v11.0.0", 11), ("12", 12), ("13.0.1", 12), ("9.26.0", 10),
    ("", None), ("latest", None), (None, None), (11, None),
])
def test_server_major(version, major):
    assert server_major(version) == major


def test_docstrings_say_which_versions_have_an_operation():
    assert "Only on Directus 11 or 12" in DirectusClient.read_policies.__doc__
    assert "Only on" not in DirectusClient.read_items.__doc__


def test_generated_files_are_fresh_including_the_readme_versions_table():
    generate = _generate_module()
    for path, text in generate.outputs().items():
        with open(path, encoding="utf-8") as handle:
            assert handle.read() == text, "%s is stale: run python3 spec/generate.py" % path
    assert "| all 11 `policies` operations | **no** | yes | yes |" in generate.render_versions_table(packaged_spec())


# -------------------------------------------------------------------------------------- the error

def test_the_error_is_a_not_found_error_exported_by_the_package():
    assert issubclass(UnsupportedOperationError, ForbiddenError)
    assert NotFoundError is ForbiddenError
    assert pydirectus.UnsupportedOperationError is UnsupportedOperationError
    assert "UnsupportedOperationError" in pydirectus.__all__
    assert "UnsupportedOperationError" in pydirectus.errors.__doc__


def _never(request):
    raise AssertionError("nothing may be sent: %s %s" % (request.method, request.url))


def test_known_version_refuses_before_sending():
    transport = MockTransport(_never)
    client = DirectusClient(hostname=URL, static_token="t", transport=transport, server_version="10.13.4")
    with pytest.raises(UnsupportedOperationError) as raised:
        client.read_policies()
    error = raised.value
    assert str(error) == ("read_policies needs Directus 11 or 12 (policies came with Directus 11); "
                          "this server is 10.13.4")
    assert (error.operation, error.versions, error.server_version, error.status) == (
        "read_policies", (11, 12), "10.13.4", None)
    assert transport.requests == []
    with pytest.raises(NotFoundError):  # what existing except clauses catch
        client.create_access_rule({"role": "x", "policy": "y"})
    assert transport.requests == []


def test_async_client_known_version_refuses_before_sending():
    transport = AsyncMockTransport(_never)

    async def main():
        client = AsyncDirectusClient(hostname=URL, static_token="t", transport=transport, server_version="10.13.4")
        with pytest.raises(UnsupportedOperationError, match="read_policies needs Directus 11 or 12"):
            await client.read_policies()
        await client.aclose()

    asyncio.run(main())
    assert transport.requests == []


@pytest.mark.parametrize("version", ["11.17.4", "12.4.0", "13.0.0"])
def test_versions_that_have_it_send(version):
    transport = MockTransport(lambda request: json_response(200, {"data": [{"id": "p"}]}))
    client = DirectusClient(hostname=URL, static_token="t", transport=transport, server_version=version)
    assert [item["id"] for item in client.read_policies()] == ["p"]
    assert transport.requests[0].url == URL + "/policies"


def test_operations_every_version_has_are_untouched_on_any_version():
    for version in (None, "10.13.4", "11.17.4", "12.4.0"):
        transport = MockTransport(lambda request: json_response(200, {"data": [{"id": 1}]}))
        client = DirectusClient(hostname=URL, static_token="t", transport=transport, server_version=version)
        assert [item["id"] for item in client.read_items("articles")] == [1]


def test_unknown_version_sends_and_explains_route_not_found():
    transport = MockTransport(lambda request: json_response(404, ROUTE_NOT_FOUND))
    client = DirectusClient(hostname=URL, static_token="t", transport=transport, retries=0)
    assert client.server_version is None
    with pytest.raises(UnsupportedOperationError) as raised:
        client.read_policies()
    error = raised.value
    assert len(transport.requests) == 1
    assert (error.status, error.code, error.method, error.url) == (404, "ROUTE_NOT_FOUND", "GET", URL + "/policies")
    assert error.server_version is None and error.versions == (11, 12)
    assert str(error).startswith("read_policies needs Directus 11 or 12 (policies came with Directus 11); "
                                 "this server has no route for it")
    assert str(error).endswith("(404 GET %s/policies)" % URL)
    assert isinstance(error.__cause__, ForbiddenError)


def test_async_unknown_version_explains_route_not_found():
    transport = AsyncMockTransport(lambda request: json_response(404, ROUTE_NOT_FOUND))

    async def main():
        client = AsyncDirectusClient(hostname=URL, static_token="t", transport=transport, retries=0)
        with pytest.raises(UnsupportedOperationError):
            await client.read_policy("p")
        await client.aclose()

    asyncio.run(main())
    assert len(transport.requests) == 1


def test_other_404s_and_errors_of_versioned_operations_stay_what_they_were():
    forbidden = {"errors": [{"message": "You don't have permission", "extensions": {"code": "FORBIDDEN"}}]}
    transport = MockTransport(lambda request: json_response(403, forbidden))
    client = DirectusClient(hostname=URL, static_token="t", transport=transport, retries=0)
    with pytest.raises(ForbiddenError) as raised:
        client.read_policy("p")
    assert type(raised.value) is ForbiddenError
    # a 404 ROUTE_NOT_FOUND of an operation every version has is a plain NotFoundError
    transport.handler = lambda request: json_response(404, ROUTE_NOT_FOUND)
    with pytest.raises(ForbiddenError) as raised:
        client.read_items("articles")
    assert type(raised.value) is ForbiddenError
    # the version is known and has the operation: the server's 404 (a feature switched off) stays as it is
    client.server_version = "12.4.0"
    with pytest.raises(ForbiddenError) as raised:
        client.read_policies()
    assert type(raised.value) is ForbiddenError


@pytest.mark.parametrize("info, version", [
    ({"project": {}, "version": "11.17.4"}, "11.17.4"),          # 10.13.4, 11.17.4 and 12.4.0, to an admin
    ({"project": {}, "directus": {"version": "10.13.4"}}, "10.13.4"),  # as some older releases said
    ({"project": {}}, None),                                       # not an admin: nothing learnt
])
def test_server_info_teaches_the_version(info, version):
    answers = []

    def handler(request):
        answers.append(request.url)
        if request.url.endswith("/server/info"):
            return json_response(200, {"data": info})
        return json_response(200, {"data": []})

    client = DirectusClient(hostname=URL, static_token="t", transport=MockTransport(handler))
    assert client.server_info() == info
    assert client.server_version == version
    if version is not None and version.startswith("10."):
        with pytest.raises(UnsupportedOperationError, match="this server is 10.13.4"):
            client.read_policies()
        assert len(answers) == 1


def test_async_server_info_teaches_the_version():
    transport = AsyncMockTransport(lambda request: json_response(200, {"data": {"directus": {"version": "10.13.4"}}}))

    async def main():
        client = AsyncDirectusClient(hostname=URL, static_token="t", transport=transport)
        await client.server_info()
        assert client.server_version == "10.13.4"
        with pytest.raises(UnsupportedOperationError):
            await client.read_policies()
        await client.aclose()

    asyncio.run(main())
    assert len(transport.requests) == 1


def test_server_version_is_checked_and_can_be_changed():
    client = DirectusClient(hostname=URL, static_token="t", transport=MockTransport(_never))
    with pytest.raises(ValueError):
        DirectusClient(hostname=URL, static_token="t", transport=MockTransport(_never), server_version="latest")
    client.server_version = "10.13.4"
    with pytest.raises(UnsupportedOperationError):
        client.read_policies()
    client.server_version = None  # forgotten: sent again
    client.transport.handler = lambda request: json_response(200, {"data": []})
    assert list(client.read_policies()) == []


def test_an_extension_operation_may_say_its_versions():
    operations = load_user_spec([{"name": "greet", "method": "GET", "path": "/greet", "doc": "Greet.",
                                  "versions": ["12"]}], packaged_spec()["query_sets"])
    assert operations[0].versions == (12,) and operations[0].version_aware
    Client = DirectusClient.extend([{"name": "greet", "method": "GET", "path": "/greet", "doc": "Greet.",
                                     "versions": ["12"]}])
    client = Client(hostname=URL, static_token="t", transport=MockTransport(_never), server_version="11.17.4")
    with pytest.raises(UnsupportedOperationError, match=r"^greet needs Directus 12 \(custom came with Directus 12\); "
                                                         r"this server is 11.17.4$"):
        client.greet()


def test_the_capture_sends_shadowed_paths_as_the_admin():
    """spec/capture_versions.py: GET /roles/me and its kin are answered by the {id} route of a server
    that lacks them (Directus 10), so they count as routed only on a 200 to the admin."""
    spec = importlib.util.spec_from_file_location("capture_versions", os.path.join(ROOT, "spec", "capture_versions.py"))
    capture = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(capture)
    operations = packaged_spec()["operations"]
    assert sorted(o["name"] for o in operations if capture.shadowing(o, operations)) == [
        "read_me", "read_my_permissions", "read_my_roles", "update_me"]
    for release in DIRECTUS_RELEASES.values():
        rows = _routes(release)["operations"]
        assert all(rows[name]["as"].startswith("admin, shadowed") for name in ("read_me", "read_my_roles"))
