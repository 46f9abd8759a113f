"""Each authentication path against a real Directus: static token, password, expiry and refresh,
a dead refresh token, logout. Many threads across expiries: test_reliability_live.py. Each test runs on
both clients (``make_client``, the conformance suite)."""

import logging
import time
import uuid

import pytest

import pydirectus
from tests.rest import call

# The conformance core: runs against every supported Directus version (tests/conftest.py).
pytestmark = pytest.mark.conformance


@pytest.fixture
def client(each_client):
    return each_client


@pytest.fixture
def password_client(each_password_client):
    return each_password_client


def test_static_token(client, directus):
    assert client.read_me(fields=["email"])["email"] == directus.email
    assert client.tokens.logins == 0


def test_wrong_static_token_is_refused(directus, make_client):
    with make_client(hostname=directus.url, static_token="not-a-token") as client:
        with pytest.raises(pydirectus.AuthenticationError) as caught:
            client.read_me()
    assert caught.value.status == 401 and caught.value.code == "INVALID_CREDENTIALS"


def test_password_logs_in_lazily_once(password_client, directus):
    assert password_client.tokens.logins == 0
    for _ in range(3):
        assert password_client.read_me(fields=["email"])["email"] == directus.email
    assert password_client.tokens.logins == 1 and password_client.tokens.refreshes == 0


def test_wrong_password_is_refused_and_nothing_is_sent_without_credentials(directus, make_client):
    with make_client(hostname=directus.url, username=directus.email, password="wrong") as client:
        with pytest.raises(pydirectus.AuthenticationError) as caught:
            client.read_users()
    assert caught.value.code == "INVALID_CREDENTIALS" and caught.value.url.endswith("/auth/login")


def test_logout_revokes_the_refresh_token(password_client):
    password_client.login()
    refresh_token = password_client.tokens.refresh_token
    password_client.logout()
    assert password_client.tokens.access_token is None
    spent = call(password_client.url, "POST", "/auth/refresh", {"refresh_token": refresh_token, "mode": "json"})
    assert spent.status == 401 and spent.error_code == "INVALID_CREDENTIALS"


def test_refresh_before_expiry(short_ttl_server, make_client):
    with make_client(hostname=short_ttl_server.url, username=short_ttl_server.email,
                     password=short_ttl_server.password) as client:
        client.read_me()
        first = client.tokens.access_token
        time.sleep(3.0)  # past the refresh point (2.7 s into a 3 s token)
        assert client.read_me(fields=["email"])["email"] == short_ttl_server.email
        assert client.tokens.refreshes == 1 and client.tokens.logins == 1
        assert client.tokens.access_token != first


def test_expired_token_is_refreshed_and_the_request_replayed(short_ttl_server, caplog, make_client):
    with make_client(hostname=short_ttl_server.url, username=short_ttl_server.email,
                     password=short_ttl_server.password) as client:
        client.read_me()
        expired = client.tokens.access_token
        client.tokens.refresh_at = None  # pretend the token never expires: the server must say so
        time.sleep(4.0)
        assert call(short_ttl_server.url, "GET", "/users/me", token=expired).error_code == "TOKEN_EXPIRED"
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="pydirectus"):
            assert client.read_me(fields=["email"])["email"] == short_ttl_server.email
        statuses = [r.getMessage() for r in caplog.records if "->" in r.getMessage()]
        assert [s.split()[0] + " " + s.split()[1].split("?")[0].rsplit("/", 2)[-2] + " " + s.split()[3]
                for s in statuses] == ["GET users 401", "POST auth 200", "GET users 200"]
        assert client.tokens.refreshes == 1 and client.tokens.logins == 1


def test_dead_refresh_token_logs_in_again(short_ttl_server, make_client):
    with make_client(hostname=short_ttl_server.url, username=short_ttl_server.email,
                     password=short_ttl_server.password) as client:
        client.read_me()
        # someone else spends the single-use refresh token
        stolen = call(short_ttl_server.url, "POST", "/auth/refresh",
                      {"refresh_token": client.tokens.refresh_token, "mode": "json"})
        assert stolen.status == 200
        time.sleep(3.0)
        assert client.read_me(fields=["email"])["email"] == short_ttl_server.email
        assert client.tokens.logins == 2 and client.tokens.refreshes == 0


def make_reader(server, version, collection):
    """A user whose only right is to read ``collection``, made as ``version`` wants it: on Directus
    10 the permission belongs to the user's role (``admin_access: false`` on the role); 11
    introduced policies, so there the permission belongs to a policy the role is given. Returns
    (email, password, user id, cleanup)."""
    suffix = uuid.uuid4().hex[:8]
    created = []  # (path, id) to delete, the last made first
    if version >= (11,):
        policy = call(server.url, "POST", "/policies", {"name": "Read " + suffix, "admin_access": False,
                                                        "app_access": False}, token=server.token)
        assert policy.status == 200, policy
        created.append(("/policies/", policy.body["data"]["id"]))
        role = call(server.url, "POST", "/roles", {"name": "Readers " + suffix,
                                                   "policies": {"create": [{"policy": policy.body["data"]["id"]}]}},
                    token=server.token)
        owner = {"policy": policy.body["data"]["id"]}
    else:
        role = call(server.url, "POST", "/roles", {"name": "Readers " + suffix, "admin_access": False,
                                                   "app_access": False}, token=server.token)
        owner = {"role": role.body["data"]["id"] if role.status == 200 else None}
    assert role.status == 200, role
    created.append(("/roles/", role.body["data"]["id"]))
    permission = call(server.url, "POST", "/permissions", dict(owner, collection=collection, action="read",
                                                               fields=["*"]), token=server.token)
    assert permission.status == 200, permission
    email, password = "reader-%s@example.com" % suffix, "reader-password-" + suffix
    user = call(server.url, "POST", "/users", {"email": email, "password": password,
                                               "role": role.body["data"]["id"]}, token=server.token)
    assert user.status == 200, user
    created.append(("/users/", user.body["data"]["id"]))

    def cleanup():
        for path, key in reversed(created):
            call(server.url, "DELETE", path + str(key), token=server.token)
    return email, password, user.body["data"]["id"], cleanup


def test_a_limited_user_logs_in_and_is_refused_what_it_may_not_do(directus, directus_version, collection,
                                                                    make_client):
    call(directus.url, "POST", "/items/" + collection, {"title": "visible"}, token=directus.token)
    email, password, user_id, cleanup = make_reader(directus, directus_version, collection)
    try:
        with make_client(hostname=directus.url, username=email, password=password) as reader:
            assert reader.read_me(fields=["id"]).id == user_id  # its own record: no other field readable
            assert [item["title"] for item in reader.read_items(collection)] == ["visible"]
            with pytest.raises(pydirectus.ForbiddenError) as refused:
                reader.create_item(collection, {"title": "not allowed"})
            assert refused.value.status == 403 and refused.value.code == "FORBIDDEN"
            with pytest.raises(pydirectus.ForbiddenError):
                reader.read_roles()
            assert reader.tokens.logins == 1
    finally:
        cleanup()
