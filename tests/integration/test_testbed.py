"""The test bed itself: fixtures, special servers, and recovery from a killed test run."""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from pydirectus import testing
from tests.rest import call

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_directus_fixture_answers_with_the_admin_token(directus):
    me = call(directus.url, "GET", "/users/me?fields=email", token=directus.token)
    assert me.status == 200, me
    assert me.body["data"]["email"] == directus.email


def test_collection_fixture_creates_the_collection_with_its_fields(directus, collection):
    found = call(directus.url, "GET", "/collections/" + collection, token=directus.token)
    assert found.status == 200, found
    assert found.body["data"]["collection"] == collection

    fields = call(directus.url, "GET", "/fields/" + collection, token=directus.token)
    assert fields.status == 200, fields
    by_name = {field["field"]: field for field in fields.body["data"]}
    assert sorted(by_name) == ["body", "id", "published", "title", "views"]
    assert by_name["id"]["schema"]["is_primary_key"] is True
    assert by_name["published"]["meta"]["special"] == ["cast-boolean"]


def test_items_can_be_created_in_the_collection(directus, collection):
    created = call(directus.url, "POST", "/items/" + collection,
                   {"title": "hello", "body": "text", "views": 3, "published": True}, token=directus.token)
    assert created.status == 200, created
    item = created.body["data"]
    assert isinstance(item["id"], int)

    read = call(directus.url, "GET", "/items/%s/%d" % (collection, item["id"]), token=directus.token)
    assert read.status == 200, read
    assert read.body["data"] == {"id": item["id"], "title": "hello", "body": "text", "views": 3,
                                 "published": True}


@pytest.fixture
def collections_that_must_be_gone(directus):
    """Checks, after the test's later fixtures are torn down, that the collections listed are gone."""
    names = []
    yield names
    for name in names:
        reply = call(directus.url, "GET", "/collections/" + name, token=directus.token)
        assert reply.status == 403, "collection %s still exists after its test: %s" % (name, reply)


def test_collection_fixture_deletes_the_collection_afterwards(collections_that_must_be_gone, request,
                                                               directus):
    # Requested here, after collections_that_must_be_gone, so it is torn down before that check runs.
    name = request.getfixturevalue("collection")
    collections_that_must_be_gone.append(name)
    assert call(directus.url, "GET", "/collections/" + name, token=directus.token).status == 200


def _login(server):
    reply = call(server.url, "POST", "/auth/login", {"email": server.email, "password": server.password})
    assert reply.status == 200, reply
    return reply.body["data"]


def test_server_with_short_token_ttl_expires_tokens(directus_factory):
    server = directus_factory(ACCESS_TOKEN_TTL="3s")
    session = _login(server)
    assert session["expires"] == 3000  # milliseconds
    me = call(server.url, "GET", "/users/me?fields=email", token=session["access_token"])
    assert me.status == 200, me
    assert me.body["data"]["email"] == server.email

    time.sleep(4.5)
    expired = call(server.url, "GET", "/users/me?fields=email", token=session["access_token"])
    assert expired.status == 401, expired
    assert expired.error_code == "TOKEN_EXPIRED"


def test_two_servers_with_different_settings_run_at_once(directus_factory):
    short_ttl = directus_factory({"ACCESS_TOKEN_TTL": "3s"})
    small_pages = directus_factory(QUERY_LIMIT_MAX="5")
    assert short_ttl is not small_pages and short_ttl.port != small_pages.port
    assert short_ttl.data_dir != small_pages.data_dir
    assert directus_factory(ACCESS_TOKEN_TTL="3s") is short_ttl  # same settings: same server

    # Both answer now, each with its own settings.
    assert _login(short_ttl)["expires"] == 3000
    assert _login(small_pages)["expires"] == 15 * 60 * 1000
    too_many = call(small_pages.url, "GET", "/users?limit=10", token=small_pages.token)
    assert too_many.status == 400 and too_many.error_code == "INVALID_QUERY", too_many
    allowed = call(short_ttl.url, "GET", "/users?limit=10", token=short_ttl.token)
    assert allowed.status == 200, allowed


OWNER_SCRIPT = """
import sys, time
from pydirectus.testing import DirectusServer
server = DirectusServer(cache_dir=sys.argv[1]).start()
print(server.data_dir, server.pid, server.url, flush=True)
time.sleep(600)
"""


def test_cleanup_stale_removes_the_server_of_a_killed_owner(directus):
    # `directus` first: its own start has run cleanup_stale, and it lives on (its owner is alive).
    cache_dir = testing.cache_root()
    environment = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    owner = subprocess.Popen([sys.executable, "-c", OWNER_SCRIPT, cache_dir], stdout=subprocess.PIPE,
                             env=environment)
    try:
        line = owner.stdout.readline().decode()
        assert line, "the owner process did not start a server (exit code %s)" % owner.poll()
        data_dir, pid, url = line.split()
        pid = int(pid)
        assert call(url, "GET", "/server/ping").status == 200
    finally:
        owner.send_signal(signal.SIGKILL)  # like a killed test run: no finalizer, no atexit
        owner.wait()
        owner.stdout.close()

    try:
        # The orphan outlives its owner until someone cleans up.
        assert call(url, "GET", "/server/ping").status == 200
        removed = testing.cleanup_stale(cache_dir)
        assert data_dir in removed
        assert not os.path.exists(data_dir)
        assert testing.process_start_time(pid) is None
        with pytest.raises(OSError):
            call(url, "GET", "/server/ping", timeout=5)
    finally:
        testing.cleanup_stale(cache_dir)  # never leave the orphan running, even if a check failed
    # Servers whose owner lives are left alone.
    if isinstance(directus, testing.DirectusServer):
        assert os.path.isdir(directus.data_dir)
    assert call(directus.url, "GET", "/server/ping").status == 200


@pytest.fixture
def port_in_use():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen(1)
        yield squatter.getsockname()[1]


def test_start_moves_on_when_its_free_port_gets_taken(monkeypatch, port_in_use):
    real_free_port = testing.free_port
    offered = [port_in_use]  # the race: someone takes the port between our probe and the bind
    monkeypatch.setattr(testing, "free_port", lambda: offered.pop(0) if offered else real_free_port())
    with testing.DirectusServer(die_with_parent=True) as server:
        assert not offered
        assert server.port != port_in_use
        assert server.ready_seconds < 15
        assert call(server.url, "GET", "/server/ping").status == 200
    assert not os.path.exists(server.data_dir)


def test_start_failure_raises_with_the_log_and_leaves_nothing(port_in_use):
    server = testing.DirectusServer({"PORT": str(port_in_use)}, die_with_parent=True)
    with pytest.raises(testing.DirectusStartError) as failure:
        server.start()
    message = str(failure.value)
    assert "exited with code" in message
    assert "Port %d is already in use" % port_in_use in message  # the log's tail
    assert server.pid is None
    assert not os.path.exists(server.data_dir)


WEDGING_TESTS = '''
import os, signal
from tests.rest import call

def test_a_wedges_the_server(directus):
    os.kill(directus.pid, signal.SIGSTOP)  # the server takes requests and never answers them

def test_b_runs_on_a_working_server(directus):
    assert call(directus.url, "GET", "/users/me", token=directus.token, timeout=10).status == 200

def test_c_too(directus):
    assert call(directus.url, "GET", "/server/ping").status == 200

def test_d_wedges_a_special_server(directus_factory):
    os.kill(directus_factory(ACCESS_TOKEN_TTL="7s").pid, signal.SIGSTOP)

def test_e_runs_on_it_again(directus_factory):
    server = directus_factory(ACCESS_TOKEN_TTL="7s")
    assert call(server.url, "GET", "/users/me", token=server.token, timeout=10).status == 200
'''


def test_a_wedged_shared_server_fails_one_test_and_is_replaced(tmp_path):
    """The suite's guard (tests/conftest.py): a test after which the shared server stops answering
    fails, saying so; the server is restarted and the tests after it pass."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    test_file = os.path.join(root, "tests", "integration", "test_zz_wedge_%d.py" % os.getpid())
    with open(test_file, "w") as handle:
        handle.write(WEDGING_TESTS)
    environment = dict(os.environ, PYDIRECTUS_TEST_HEALTH_TIMEOUT="3", PYTHONPATH=root)
    environment.pop("PYDIRECTUS_TEST_URL", None)  # a server of its own, that the guard may restart
    try:
        result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfE", test_file],
                                cwd=root, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                universal_newlines=True, timeout=300)
    finally:
        os.unlink(test_file)
    output = result.stdout
    # test_a's and test_d's calls passed, their teardowns (the guard) failed
    assert "5 passed, 2 errors" in output, output
    assert "test_a_wedges_the_server" in output and "test_d_wedges_a_special_server" in output, output
    assert "the shared Directus server stopped answering after this test" in output, output
    assert "the Directus server with {'ACCESS_TOKEN_TTL': '7s'} stopped answering after this test" in output, output
    assert "integration tests: 3 passed, 2 failed" in output, output
