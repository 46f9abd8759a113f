"""The spec's ``versions`` against the session's real server, whatever Directus it runs (10.13.4, 11.17.4
or 12.4.0: PYDIRECTUS_TEST_DIRECTUS_VERSION), on both clients: what the server's version lacks raises
UnsupportedOperationError (before sending when the client knows the version, from the server's 404
ROUTE_NOT_FOUND when it does not), what it has works, and every operation agrees with the server's
own routing."""

import pytest

from pydirectus import DirectusClient, NotFoundError, UnsupportedOperationError
from pydirectus._core.spec import server_major
from tests.rest import call

# The conformance core: runs against every supported Directus version (tests/conftest.py).
pytestmark = pytest.mark.conformance


@pytest.fixture
def client(each_client):
    return each_client


def _version_text(directus_version):
    return ".".join(str(part) for part in directus_version)


def test_server_info_tells_the_client_its_version(client, directus_version):
    assert client.server_version is None
    info = client.server_info()
    assert client.server_version == _version_text(directus_version)
    assert info["version"] == client.server_version


def test_policies_by_version_without_knowing_it(client, directus_version):
    if directus_version[0] < 11:
        with pytest.raises(UnsupportedOperationError) as raised:
            client.read_policies()
        error = raised.value
        assert (error.status, error.code, error.server_version) == (404, "ROUTE_NOT_FOUND", None)
        assert str(error).startswith("read_policies needs Directus 11 or 12 (policies came with Directus 11); ")
        assert isinstance(error, NotFoundError)
    else:
        policies = client.read_policies(fields=["id", "admin_access"])
        assert any(policy["admin_access"] for policy in policies)  # the administrator's


def test_policies_by_version_knowing_it(directus, directus_version, make_client):
    version = _version_text(directus_version)
    client = make_client(hostname=directus.url, static_token=directus.token, server_version=version)
    if directus_version[0] < 11:
        with pytest.raises(UnsupportedOperationError) as raised:
            client.create_policy({"name": "never sent"})
        assert str(raised.value) == ("create_policy needs Directus 11 or 12 (policies came with Directus 11); "
                                     "this server is %s" % version)
        assert raised.value.status is None  # nothing was sent
    else:
        policy = client.create_policy({"name": "versions test", "app_access": False})
        try:
            assert client.read_policy(policy["id"], fields=["name"])["name"] == "versions test"
        finally:
            client.delete_policy(policy["id"])


def test_operations_every_version_has_work_with_the_version_known(directus, directus_version, make_client):
    client = make_client(hostname=directus.url, static_token=directus.token,
                         server_version=_version_text(directus_version))
    assert client.read_me(fields=["id"])["id"]
    assert client.read_roles(fields=["id"], limit=1)
    assert client.read_permissions(limit=1) is not None


def test_every_restricted_operation_is_routed_exactly_where_the_spec_says(directus, directus_version):
    """For each operation with ``versions`` the server is sent its method and path, as
    spec/capture_versions.py does, and answers ROUTE_NOT_FOUND exactly when the spec says that its
    major lacks it. Only reads are sent (GET, SEARCH): the session's server is shared."""
    major = server_major(_version_text(directus_version))
    checked = 0
    for operation in DirectusClient.operations.values():
        if operation.versions is None or operation.method not in ("GET", "SEARCH") or operation.path_params:
            continue
        if operation.group in ("metrics", "mcp", "mcp-oauth", "ai"):  # switched off on the session's server
            continue
        if operation.name in ("read_my_roles", "read_my_permissions"):  # shadowed by /{id} on 10: see below
            continue
        answer = call(directus.url, operation.method, operation.path, {} if operation.method == "SEARCH" else None,
                      token=directus.token)
        errors = answer.body.get("errors") if isinstance(answer.body, dict) else None
        code = errors[0].get("extensions", {}).get("code") if errors else None
        routed = not (answer.status == 404 and code == "ROUTE_NOT_FOUND")
        assert routed == (major in operation.versions), (operation.name, answer.status, code)
        checked += 1
    assert checked >= 5
    for name in ("read_my_roles", "read_my_permissions"):
        operation = DirectusClient.operations[name]
        answer = call(directus.url, "GET", operation.path, token=directus.token)
        assert (answer.status == 200) == (major in operation.versions), (name, answer.status)
