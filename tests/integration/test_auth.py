"""Each authentication path against a real Directus: static token, password, expiry and refresh,
a dead refresh token, logout. Many threads across expiries: test_reliability_live.py. Each test runs on
both clients (``make_client``, the conformance suite)."""

import logging
import time

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
