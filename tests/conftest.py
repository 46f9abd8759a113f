"""Fixtures for pydirectus's tests: real Directus servers on 127.0.0.1 (see pydirectus/testing.py).

    directus          the session's default server: ``.url``, ``.token`` (the admin's static token),
                      ``.email``, ``.password``. If PYDIRECTUS_TEST_URL is set (with PYDIRECTUS_TEST_TOKEN,
                      _EMAIL, _PASSWORD), that server is used instead of starting one: tests/run.py
                      shares one server between the Python versions it runs.
    directus_factory  ``get(ACCESS_TOKEN_TTL="3s")`` or ``get({"RATE_LIMITER_ENABLED": "true"})``: a
                      server with those Directus settings, started on first use, shared by every test
                      that asks for the same settings, stopped at the end of the session.
                      ``get()`` with no settings is `directus`.
    directus_version  the Directus version those servers run: PYDIRECTUS_TEST_DIRECTUS_VERSION
                      (e.g. ``11.17.4``; default pydirectus.testing.DEFAULT_VERSION, 12.4.0), or,
                      with PYDIRECTUS_TEST_URL, what that server's ``GET /server/info`` says.
    collection        the name of a fresh collection on `directus` with the fields id (integer
                      primary key), title (string), body (text), views (integer) and published
                      (boolean, cast), deleted after the test.

A server that cannot start makes the tests that need it error with the reason; they are never
skipped. After every test that used `directus`, the server must still answer a request that needs
its database (and so must the special servers of directus_factory, after a test that used it): if
it does not, that test fails saying so and the server is restarted, so that one wedged server fails
one test, not every test after it. Everything under tests/integration/ is marked ``integration``:
``-m "not integration"`` runs the unit tests without Directus.

``-m conformance`` selects the conformance core: the integration tests that must pass on every
supported Directus version (10.13.4, 11.17.4, 12.4.0; tests/run.py runs them against each), e.g.
``PYDIRECTUS_TEST_DIRECTUS_VERSION=10.13.4 python -m pytest -m conformance tests/integration``.
Where the versions legitimately differ, those tests read the version (``directus_version``,
``version_of(server)``) and assert that version's behaviour; they never skip.
PYDIRECTUS_TEST_CLIENT_KINDS=sync (or async) runs the tests written for both clients (``make_client``)
on that one only.
"""

import asyncio
import collections
import contextlib
import logging
import os
import threading
import time
import uuid
from typing import NamedTuple

import pytest

from pydirectus.testing import DEFAULT_EMAIL, DEFAULT_PASSWORD, DEFAULT_TOKEN, DEFAULT_VERSION, DirectusServer
from tests.rest import call

# The Directus version the fixtures start (tests/run.py sets it for its conformance runs).
DIRECTUS_VERSION = os.environ.get("PYDIRECTUS_TEST_DIRECTUS_VERSION") or DEFAULT_VERSION

INTEGRATION_DIR = os.path.join(os.path.dirname(os.path.realpath(__file__)), "integration")

# The fields of the `collection` fixture, as POST /collections takes them.
COLLECTION_FIELDS = [
    {"field": "id", "type": "integer", "meta": {"hidden": True, "readonly": True},
     "schema": {"is_primary_key": True, "has_auto_increment": True}},
    {"field": "title", "type": "string", "meta": {}, "schema": {}},
    {"field": "body", "type": "text", "meta": {}, "schema": {}},
    {"field": "views", "type": "integer", "meta": {}, "schema": {}},
    # SQLite returns booleans as 0/1 unless the field is cast.
    {"field": "published", "type": "boolean", "meta": {"special": ["cast-boolean"]}, "schema": {}},
]


class ExternalDirectus(NamedTuple):
    """A server someone else started (PYDIRECTUS_TEST_URL): same attributes as a DirectusServer."""
    url: str
    token: str
    email: str
    password: str


# ------------------------------------------------------------------ markers and the integration tally

def pytest_configure(config):
    config.addinivalue_line("markers", "integration: needs a real Directus server "
                                       "(applied to every test under tests/integration/)")
    config.addinivalue_line("markers", "conformance: the conformance core, run against every supported "
                                       "Directus version (PYDIRECTUS_TEST_DIRECTUS_VERSION)")


def pytest_report_header(config):
    return "pydirectus: Directus %s%s; clients: %s" % (
        DIRECTUS_VERSION, " (PYDIRECTUS_TEST_URL set: that server's)" if os.environ.get("PYDIRECTUS_TEST_URL") else "",
        ", ".join(CLIENT_KINDS))


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items):
    for item in items:
        path = os.path.realpath(str(getattr(item, "path", None) or item.fspath))
        if path.startswith(INTEGRATION_DIR + os.sep):
            item.add_marker(pytest.mark.integration)


_integration_outcomes = {}  # nodeid -> "passed" | "failed" | "skipped"


def pytest_runtest_logreport(report):
    if "integration" not in report.keywords:
        return
    if report.failed:
        outcome = "failed"
    elif report.skipped:
        outcome = "skipped"
    elif report.when == "call":
        outcome = "passed"
    else:
        return
    if _integration_outcomes.get(report.nodeid) != "failed":  # a failed teardown outranks a passed call
        _integration_outcomes[report.nodeid] = outcome


def pytest_terminal_summary(terminalreporter):
    # tests/run.py reads this line: a skipped or missing integration test fails the run.
    counts = collections.Counter(_integration_outcomes.values())
    terminalreporter.write_line("pydirectus integration tests: %d passed, %d failed, %d skipped"
                                % (counts["passed"], counts["failed"], counts["skipped"]))


# ------------------------------------------------------------------ servers

@pytest.fixture(scope="session")
def directus():
    url = os.environ.get("PYDIRECTUS_TEST_URL")
    if url:
        server = ExternalDirectus(url.rstrip("/"),
                                  os.environ.get("PYDIRECTUS_TEST_TOKEN", DEFAULT_TOKEN),
                                  os.environ.get("PYDIRECTUS_TEST_EMAIL", DEFAULT_EMAIL),
                                  os.environ.get("PYDIRECTUS_TEST_PASSWORD", DEFAULT_PASSWORD))
        try:
            ping = call(server.url, "GET", "/server/ping")
        except OSError as error:
            raise RuntimeError("PYDIRECTUS_TEST_URL=%s is unreachable: %s" % (url, error)) from error
        assert ping.status == 200, "PYDIRECTUS_TEST_URL=%s does not answer /server/ping: %s" % (url, ping)
        yield server
        return
    server = DirectusServer(version=DIRECTUS_VERSION, die_with_parent=True).start()  # raises, with the log's tail, if it cannot
    try:
        yield server
    finally:
        server.stop()


_VERSIONS = {}  # server url -> version tuple


def version_of(server):
    """The Directus version of ``server`` (anything with ``.url`` and ``.token``) as a tuple of
    ints, e.g. (11, 17, 4): asked of the server itself (``GET /server/info`` with the admin token,
    where every supported version names it), once per server."""
    if server.url not in _VERSIONS:
        info = call(server.url, "GET", "/server/info", token=server.token)
        assert info.status == 200, "GET /server/info: %s" % (info,)
        data = info.body["data"]
        text = data.get("version") or (data.get("directus") or {}).get("version")
        assert text, "GET /server/info names no version: %s" % (data,)
        if isinstance(server, DirectusServer):
            assert text == server.version, "asked for Directus %s, the server says %s" % (server.version, text)
        _VERSIONS[server.url] = tuple(int(part) for part in text.split("-")[0].split("+")[0].split("."))
    return _VERSIONS[server.url]


@pytest.fixture(scope="session")
def directus_version(directus):
    """The version of the `directus` server as a tuple of ints, e.g. (11, 17, 4) (see version_of),
    so that tests assert what that version does where versions differ."""
    return version_of(directus)


# How long the shared server may take to answer a request that needs its database, under load,
# before it counts as wedged. It answers in milliseconds when healthy, even with both cores busy.
HEALTH_TIMEOUT = float(os.environ.get("PYDIRECTUS_TEST_HEALTH_TIMEOUT", "20"))


def server_trouble(server, answered=(200,)):
    """Why ``server`` cannot serve the next test (a sentence), or None when it answers with a
    status of ``answered`` (a special server's settings may make it answer 429 or 401: it answers).

    ``GET /users/me`` needs the database: a server whose one SQLite connection is held by a request
    that never finishes still answers /server/ping, but not this.
    """
    try:
        reply = call(server.url, "GET", "/users/me?fields=id", token=server.token, timeout=HEALTH_TIMEOUT)
    except OSError as error:  # socket.timeout is an OSError
        return "GET /users/me failed: %s" % (error,)
    if reply.status not in answered:
        return "GET /users/me answered %d %s" % (reply.status, reply.error_code or reply.body)
    return None


# The servers directus_factory started with settings of their own (guarded like the shared one).
_SPECIAL_SERVERS = []


@pytest.fixture(autouse=True)
def _shared_server_guard(request):
    """After each test that used the session's server, check that the server still answers. If it
    does not, this test broke it: the test fails saying so, and the server is restarted (same port,
    same data) so that the tests after it run on a working server instead of failing one by one."""
    yield
    if "directus_factory" in request.fixturenames:
        for special in _SPECIAL_SERVERS:
            if special.pid is None:
                continue  # stopped on purpose by a test
            trouble = server_trouble(special, answered=range(200, 500))
            if trouble is not None:
                tail = special.log_tail(15)
                special.restart()
                pytest.fail("the Directus server with %s stopped answering after this test (%s); it was restarted "
                            "for the tests that follow. Its log before the restart:\n%s" % (special.env, trouble, tail),
                            pytrace=False)
    if "directus" not in request.fixturenames:
        return
    server = request.getfixturevalue("directus")
    trouble = server_trouble(server)
    if trouble is None:
        return
    if not isinstance(server, DirectusServer):
        pytest.fail("the shared Directus server at %s stopped answering after this test (%s); it is not ours "
                    "to restart (PYDIRECTUS_TEST_URL), so the tests after this one may fail too"
                    % (server.url, trouble), pytrace=False)
    tail = server.log_tail(15)
    server.restart()
    pytest.fail("the shared Directus server stopped answering after this test (%s); it was restarted for the "
                "tests that follow. Its log before the restart:\n%s" % (trouble, tail), pytrace=False)


@pytest.fixture(scope="session")
def directus_factory(request):
    started = {}  # frozen settings -> running DirectusServer, or the error its start raised

    def get(env=None, **settings):
        settings = {key: str(value) for key, value in dict(env or {}, **settings).items()}
        if not settings:
            return request.getfixturevalue("directus")
        key = frozenset(settings.items())
        if key not in started:
            try:
                started[key] = DirectusServer(settings, version=DIRECTUS_VERSION, die_with_parent=True).start()
                _SPECIAL_SERVERS.append(started[key])
            except Exception as error:  # remembered: later tests with these settings fail fast
                started[key] = error
        server = started[key]
        if isinstance(server, Exception):
            raise RuntimeError("a Directus server with %s could not start: %s" % (settings, server))
        return server

    yield get
    del _SPECIAL_SERVERS[:]
    for server in started.values():
        if isinstance(server, DirectusServer):
            server.stop()


# ------------------------------------------------------------------ both clients: the conformance suite

ALL_CLIENT_KINDS = ("sync", "async")
# PYDIRECTUS_TEST_CLIENT_KINDS=sync (or async) runs the tests written for both clients on one only:
# tests/run.py's conformance runs against other Directus versions may, to stay within CI's budget
# (what differs between Directus versions is the server's behaviour, which both clients share).
CLIENT_KINDS = tuple(kind.strip() for kind in os.environ.get("PYDIRECTUS_TEST_CLIENT_KINDS", "sync,async").split(",")
                     if kind.strip())
if not CLIENT_KINDS or set(CLIENT_KINDS) - set(ALL_CLIENT_KINDS):
    raise RuntimeError("PYDIRECTUS_TEST_CLIENT_KINDS must name sync, async or both, not %r"
                       % os.environ.get("PYDIRECTUS_TEST_CLIENT_KINDS"))


@pytest.fixture(params=CLIENT_KINDS)
def client_kind(request):
    """Runs the test once with DirectusClient and once with AsyncDirectusClient (see make_client)."""
    return request.param


class ClientMaker:
    """Makes clients of one kind, DirectusClient's arguments for both: the async one behind a
    ``tests.blocking.BlockingProxy`` on an event loop thread of this maker (a plain ``sleep``
    function is run in a thread and awaited). ``close()`` closes them all and ends the loop."""

    def __init__(self, kind):
        self.kind = kind
        self.made = []
        self.runner = None
        self._lock = threading.Lock()  # tests make clients from several threads

    def __call__(self, *args, **kwargs):
        if self.kind == "sync":
            from pydirectus import DirectusClient
            client = DirectusClient(*args, **kwargs)
        else:
            from pydirectus.async_client import AsyncDirectusClient
            from tests.blocking import BlockingProxy, EventLoopThread
            sleep = kwargs.get("sleep")
            if sleep is not None and not asyncio.iscoroutinefunction(sleep):
                async def awaited_sleep(seconds, sleep=sleep):  # in a thread: the loop goes on meanwhile
                    await asyncio.get_running_loop().run_in_executor(None, sleep, seconds)
                kwargs["sleep"] = awaited_sleep
            with self._lock:
                if self.runner is None:
                    self.runner = EventLoopThread()
            client = BlockingProxy(AsyncDirectusClient(*args, **kwargs), self.runner)
        self.made.append(client)
        return client

    def close(self):
        try:
            for client in self.made:
                client.close()
        finally:
            if self.runner is not None:
                self.runner.stop()


@pytest.fixture
def make_client(client_kind):
    """``make_client(hostname=..., ...)``: a DirectusClient, or an AsyncDirectusClient behind a
    blocking proxy (see ``ClientMaker``). Tests written once against the sync API run on both
    clients; what they made is closed after the test."""
    maker = ClientMaker(client_kind)
    yield maker
    maker.close()


# ------------------------------------------------------------------ data

@pytest.fixture
def collection(directus):
    with fresh_collection(directus) as name:
        yield name


@contextlib.contextmanager
def fresh_collection(server):
    """A new collection with the fields of COLLECTION_FIELDS on ``server``, deleted afterwards."""
    name = "t_" + uuid.uuid4().hex[:12]
    try:
        created = call(server.url, "POST", "/collections",
                       {"collection": name, "meta": {}, "schema": {}, "fields": COLLECTION_FIELDS},
                       token=server.token)
        assert created.status == 200, "could not create collection %s: %s" % (name, created)
        yield name
    finally:
        remove_collection(server, name)


def remove_collection(server, name):
    """Delete collection `name` for sure: an unlicensed Directus allows only 25 user collections."""
    for _ in range(3):
        try:
            call(server.url, "DELETE", "/collections/" + name, token=server.token)
            if call(server.url, "GET", "/collections/" + name, token=server.token).status == 403:
                return  # Directus answers 403, not 404, for a collection that does not exist
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError("collection %s could not be deleted from %s" % (name, server.url))


# ------------------------------------------------------------------ secrets audit over the whole run

class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.texts = []

    def emit(self, record):
        self.texts.append(record.getMessage())


@pytest.fixture(scope="session", autouse=True)
def secrets_never_logged():
    """Every pydirectus log record of the run, at DEBUG, is checked at the end for every token the
    servers issued and every static token and password the fixtures hold."""
    from pydirectus._core.auth import TokenState
    logger = logging.getLogger("pydirectus")
    handler = _Collect()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    issued = set()
    store = TokenState.store

    def recording_store(tokens, data, now):
        issued.update(value for value in (data.get("access_token"), data.get("refresh_token")) if value)
        store(tokens, data, now)
    TokenState.store = recording_store
    try:
        yield
    finally:
        TokenState.store = store
        logger.removeHandler(handler)
        logger.setLevel(level)
    secrets = issued | {DEFAULT_TOKEN, DEFAULT_PASSWORD, os.environ.get("PYDIRECTUS_TEST_TOKEN", DEFAULT_TOKEN),
                        os.environ.get("PYDIRECTUS_TEST_PASSWORD", DEFAULT_PASSWORD)}
    secrets = {secret for secret in secrets if len(secret) >= 12}  # fake servers' "A", "R" are not secrets
    leaks = sorted({secret[:6] + "..." for secret in secrets for text in handler.texts if secret in text})
    assert not leaks, "secrets found in pydirectus log records: %s" % leaks
