"""Clients of the real Directus servers that tests/conftest.py starts, and the order of the session:
test_realtime.py's tests run first and its idle check and server restart last, so that the idle
connections it opens at its start idle (at least 60 s) while the rest of the session runs."""

import os

import pytest

from pydirectus import DirectusClient


# test_realtime.py's tests that must run last, in this order: the idle check wants its connections
# to have idled 60 s undisturbed; the restart drops every connection to its server.
REALTIME_LAST = ("test_idle_connections_stay_up_past_60_seconds",
                 "test_server_restart_reconnects_with_exactly_one_init_per_subscription")


def pytest_collection_modifyitems(items):
    def in_realtime(item):
        return os.path.basename(str(getattr(item, "path", None) or item.fspath)) == "test_realtime.py"

    def last_rank(item):
        name = getattr(item, "originalname", None) or item.name.split("[")[0]
        return REALTIME_LAST.index(name) if name in REALTIME_LAST else None

    realtime = [item for item in items if in_realtime(item)]
    if not realtime:
        return
    last = sorted((item for item in realtime if last_rank(item) is not None), key=last_rank)
    first = [item for item in realtime if last_rank(item) is None]
    items[:] = first + [item for item in items if not in_realtime(item)] + last


@pytest.fixture
def client(directus):
    """A client of the session's server, authenticated with the admin's static token."""
    with DirectusClient(hostname=directus.url, static_token=directus.token) as client:
        yield client


@pytest.fixture
def password_client(directus):
    """A client of the session's server that logs in with the admin's e-mail and password."""
    with DirectusClient(hostname=directus.url, username=directus.email, password=directus.password) as client:
        yield client


@pytest.fixture
def each_client(directus, make_client):
    """``client``, of each kind in turn: DirectusClient, then AsyncDirectusClient (the conformance
    suite: see tests/blocking.py). Test modules of the conformance suite rename it ``client``."""
    return make_client(hostname=directus.url, static_token=directus.token)


@pytest.fixture
def each_password_client(directus, make_client):
    """``password_client``, of each kind in turn."""
    return make_client(hostname=directus.url, username=directus.email, password=directus.password)


@pytest.fixture(scope="session")
def short_ttl_server(directus_factory):
    """A server whose access tokens live 3 s, shared by the tests that need expiry."""
    return directus_factory(ACCESS_TOKEN_TTL="3s")


@pytest.fixture(scope="session")
def import_server(directus_factory):
    """A server of their own for the tests of Directus's imports (POST /utils/import): its JSON
    import can hold SQLite's only connection for IMPORT_TIMEOUT (1 h by default) when a request
    arrives in an unlucky shape, which would wedge the shared server. Here it gives up in 20 s."""
    return directus_factory(IMPORT_TIMEOUT="20s")
