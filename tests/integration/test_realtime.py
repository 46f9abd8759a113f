"""Realtime against real Directus servers: connection, subscriptions, token expiry, reconnects.

Server A is in handshake mode with a 2 s heartbeat, a 3 s auth timeout and 5 s access tokens;
server B is in strict mode with the heartbeat off. The slow scenarios run side by side: idle
connections are opened when the module starts and checked after at least 60 s, the token-expiry
scenarios run concurrently in one test, and server A is restarted by the last test. This module's
tests run first in a session, and its idle check and restart last (tests/integration/conftest.py),
so that the 60 s of idling pass while the rest of the session runs.

Part of the conformance core: where Directus 10 and 11 differ from 12 (a subscription to a missing
collection, the error of a refused subscribe, a foreign Origin), the tests assert each version's
behaviour (``version_of``).
"""

import contextlib
import socket
import threading
import time
import uuid

import pytest

from pydirectus import AuthenticationError, ForbiddenError, InvalidQueryError, TimeoutError
from pydirectus._core.realtime import translate_connect_error
from pydirectus._core.websocket import Accepted, ClientConnection, Closed, HandshakeError
from tests.blocking import BlockingProxy
from tests.conftest import CLIENT_KINDS, COLLECTION_FIELDS, ClientMaker, remove_collection, version_of
from tests.loopback import LoopbackServer, read_head
from tests.rest import call

# The conformance core: runs against every supported Directus version (tests/conftest.py).
pytestmark = pytest.mark.conformance

SERVER_A = dict(WEBSOCKETS_ENABLED="true", WEBSOCKETS_HEARTBEAT_PERIOD="2", WEBSOCKETS_REST_AUTH_TIMEOUT="3",
                ACCESS_TOKEN_TTL="5s")
SERVER_B = dict(WEBSOCKETS_ENABLED="true", WEBSOCKETS_REST_AUTH="strict", WEBSOCKETS_HEARTBEAT_ENABLED="false")
IDLE_SECONDS = 60.0


@pytest.fixture(scope="session")
def server_a(directus_factory):
    return directus_factory(SERVER_A)


@pytest.fixture(scope="session")
def server_b(directus_factory):
    return directus_factory(SERVER_B)


@contextlib.contextmanager
def new_collection(server):
    name = "rt_" + uuid.uuid4().hex[:10]
    created = call(server.url, "POST", "/collections",
                   {"collection": name, "meta": {}, "schema": {}, "fields": COLLECTION_FIELDS}, token=server.token)
    assert created.status == 200, created
    try:
        yield name
    finally:
        remove_collection(server, name)


@pytest.fixture
def articles_a(server_a):
    with new_collection(server_a) as name:
        yield name


def static_client(make_client, server, **kwargs):
    return make_client(hostname=server.url, static_token=server.token, proxies={}, **kwargs)


def password_client(make_client, server):
    return make_client(hostname=server.url, username=server.email, password=server.password, proxies={})


def setattr_all(target, **values):
    for name, value in values.items():
        setattr(target, name, value)


def change_core(rt, change):
    """Call ``change(core)`` on the connection's protocol core where its I/O runs: under the sync
    connection's lock, or on the async client's event loop."""
    connection = rt._connection
    if isinstance(rt, BlockingProxy):
        async def on_the_loop():
            change(connection.core)
        rt._runner.run(on_the_loop())
    else:
        with connection.condition:
            change(connection.core)


def create(server, collection, **fields):
    reply = call(server.url, "POST", "/items/" + collection, fields, token=server.token)
    assert reply.status == 200, reply
    return reply.body["data"]


def next_event(subscription, timeout=10.0, skip=()):
    while True:
        event = subscription.get(timeout)
        assert event is not None, "no event within %s s on %r" % (timeout, subscription)
        if event.type not in skip:
            return event


def assert_quiet(subscription, seconds=0.5):
    event = subscription.get(seconds)
    assert event is None, "unexpected %r" % (event,)


# --- idle connections, opened first and checked after 60 s -------------------------------------

@pytest.fixture(scope="session")
def idle_connections(server_a, server_b):
    """An idle subscription on each server with each client, opened before the other tests run
    beside them (for the whole session: its idle check runs last)."""
    opened = []
    with contextlib.ExitStack() as stack:
        for kind in CLIENT_KINDS:
            make_client = ClientMaker(kind)
            stack.callback(make_client.close)
            for server in (server_a, server_b):
                name = stack.enter_context(new_collection(server))
                client = stack.enter_context(static_client(make_client, server))
                rt = stack.enter_context(client.realtime())
                subscription = rt.subscribe(name, event="create")
                assert next_event(subscription).type == "init"
                opened.append((server, name, rt, subscription))
        started = time.monotonic()
        yield started, opened


@pytest.fixture(scope="module", autouse=True)
def _open_idle_connections_first(idle_connections):
    return idle_connections


# --- 1. subscription payloads ---------------------------------------------------------------

def test_subscription_payloads(server_a, articles_a, make_client):
    existing = create(server_a, articles_a, title="first", views=1)
    query = {"fields": ["id", "title"], "sort": ["id"]}
    with static_client(make_client, server_a) as client, client.realtime() as rt:
        everything = rt.subscribe(articles_a, query=query)
        creates = rt.subscribe(articles_a, event="create")
        one = rt.subscribe(articles_a, item=existing["id"], query={"fields": ["id", "title"]})
        counted = rt.subscribe(articles_a, query={"fields": ["id"], "meta": "*"})

        init = next_event(everything)
        rest = call(server_a.url, "GET", "/items/%s?fields=id,title&sort=id" % articles_a, token=server_a.token)
        assert init.type == "init" and [item.to_dict() for item in init.data] == rest.body["data"]
        create_init = next_event(creates)
        assert create_init.type == "init" and create_init.data is None
        item_init = next_event(one)
        assert item_init.type == "init" and item_init.data.to_dict() == {"id": existing["id"], "title": "first"}
        assert next_event(counted).meta == {"total_count": 1, "filter_count": 1}

        made = create(server_a, articles_a, title="second", views=2, body="not queried")
        event = next_event(everything)
        assert event.type == "create" and [item.to_dict() for item in event.data] == [
            {"id": made["id"], "title": "second"}]
        assert next_event(creates).data[0]["id"] == made["id"]
        counted_create = next_event(counted)
        assert counted_create.type == "create" and counted_create.meta == {"total_count": 2, "filter_count": 2}

        call(server_a.url, "PATCH", "/items/%s/%d" % (articles_a, existing["id"]), {"title": "renamed"},
             token=server_a.token)
        update = next_event(everything)
        assert update.type == "update" and update.data[0].to_dict() == {"id": existing["id"], "title": "renamed"}
        item_update = next_event(one)
        assert item_update.type == "update" and item_update.data["title"] == "renamed"

        call(server_a.url, "DELETE", "/items/%s/%d" % (articles_a, made["id"]), token=server_a.token)
        delete = next_event(everything, skip=("update",))
        assert delete.type == "delete" and delete.keys == [str(made["id"])] and delete.data == [str(made["id"])]
        assert_quiet(creates)  # an event filter keeps updates and deletes out


# --- 2. filter semantics ----------------------------------------------------------------------

def test_filter_semantics_deletes_unfiltered_and_leaving_the_filter_silent(server_a, articles_a, make_client):
    with static_client(make_client, server_a) as client, client.realtime() as rt:
        published = rt.subscribe(articles_a, query={"fields": ["id", "title"],
                                                    "filter": {"published": {"_eq": True}}})
        assert next_event(published).type == "init"
        hidden = create(server_a, articles_a, title="draft", published=False)
        shown = create(server_a, articles_a, title="live", published=True)
        event = next_event(published)
        assert event.type == "create" and event.data[0]["id"] == shown["id"]  # the draft's create was not sent
        call(server_a.url, "PATCH", "/items/%s/%d" % (articles_a, shown["id"]), {"published": False},
             token=server_a.token)
        call(server_a.url, "DELETE", "/items/%s/%d" % (articles_a, hidden["id"]), token=server_a.token)
        event = next_event(published)
        # the update that moved `shown` out of the filter sent nothing; the draft's delete came anyway
        assert event.type == "delete" and event.keys == [str(hidden["id"])]
        assert_quiet(published)


# --- 3. batches -------------------------------------------------------------------------------

def test_batches(server_a, articles_a, make_client):
    with static_client(make_client, server_a) as client, client.realtime() as rt:
        subscription = rt.subscribe(articles_a, query={"fields": ["id"]})
        assert next_event(subscription).type == "init"
        reply = call(server_a.url, "POST", "/items/" + articles_a, [{"title": "b%d" % n} for n in range(100)],
                     token=server_a.token)
        keys = [item["id"] for item in reply.body["data"]]
        creates = [next_event(subscription) for _ in range(100)]
        assert all(event.type == "create" and len(event.data) == 1 for event in creates)
        assert sorted(event.data[0]["id"] for event in creates) == sorted(keys)
        call(server_a.url, "PATCH", "/items/" + articles_a, {"keys": keys, "data": {"views": 1}}, token=server_a.token)
        update = next_event(subscription)
        assert update.type == "update" and len(update.data) == 100
        call(server_a.url, "DELETE", "/items/" + articles_a, keys, token=server_a.token)
        delete = next_event(subscription)
        assert delete.type == "delete" and delete.keys == [str(key) for key in keys]
        assert_quiet(subscription)


# --- 4. several subscriptions ------------------------------------------------------------------

def test_two_filtered_subscriptions_each_get_their_own_events(server_a, articles_a, make_client):
    with static_client(make_client, server_a) as client, client.realtime() as rt:
        low = rt.subscribe(articles_a, event="create", query={"filter": {"views": {"_lt": 10}}})
        high = rt.subscribe(articles_a, event="create", query={"filter": {"views": {"_gte": 10}}})
        assert next_event(low).type == next_event(high).type == "init"
        small = create(server_a, articles_a, views=1)
        big = create(server_a, articles_a, views=100)
        assert [item["id"] for item in next_event(low).data] == [small["id"]]
        assert [item["id"] for item in next_event(high).data] == [big["id"]]
        assert_quiet(low, 0.3)
        assert_quiet(high, 0.3)


# --- 5. errors --------------------------------------------------------------------------------

def assert_missing_collection_refused(subscription, version):
    """How a subscription to a collection that does not exist ends: 12 refuses it (403 FORBIDDEN);
    10 and 11 never answer an admin's (their read of it fails inside the server), so the client
    gives up after its request timeout (3 s in these tests)."""
    if version >= (12,):
        with pytest.raises(ForbiddenError) as caught:
            next_event(subscription)
        assert caught.value.code == "FORBIDDEN"
    else:
        started = time.monotonic()
        with pytest.raises(TimeoutError) as caught:
            next_event(subscription)
        assert "did not answer the subscription" in str(caught.value) and time.monotonic() - started < 8
    assert subscription.get(0.1) is None  # the failed subscription is over, after raising once


def test_a_failing_subscription_never_ends_its_healthy_sibling(server_a, articles_a, make_client):
    with static_client(make_client, server_a) as client, client.realtime(timeout=3.0) as rt:
        healthy = rt.subscribe(articles_a, event="create")
        assert next_event(healthy).type == "init"
        broken = rt.subscribe("no_such_collection_" + uuid.uuid4().hex[:6])
        assert_missing_collection_refused(broken, version_of(server_a))
        # refused by every version; 10 and 11 send this error without the subscription's uid
        invalid = rt.subscribe(articles_a, query={"filter": {"title": {"_bogus": "x"}}})
        with pytest.raises(InvalidQueryError) as refused:
            next_event(invalid)
        assert refused.value.code == "INVALID_QUERY" and "_bogus" in refused.value.message
        assert invalid.get(0.1) is None
        for number in range(3):
            made = create(server_a, articles_a, title="after %d" % number)
            assert next_event(healthy).data[0]["id"] == made["id"]
        with pytest.raises(ValueError):
            rt.subscribe(articles_a, event="upsert")
        with pytest.raises(ValueError):
            rt.subscribe("")
        with pytest.raises(TimeoutError):
            rt.send({"type": "no-such-type"}, timeout=1.0)  # the server ignores unknown types
        assert rt.connected and rt.stats["disconnects"] == 0


# --- 6. items over the socket and uid correlation --------------------------------------------

def test_items_over_the_socket_and_concurrent_replies(server_a, articles_a, make_client):
    with static_client(make_client, server_a) as client, client.realtime() as rt:
        one = rt.items.create(articles_a, {"title": "one"})
        assert one.title == "one" and isinstance(one.id, int)
        several = rt.items.create(articles_a, [{"title": "two"}, {"title": "three"}])
        assert [item.title for item in several] == ["two", "three"]
        assert rt.items.read(articles_a, one.id).title == "one"
        keys = [one.id] + [item.id for item in several]
        assert [item.id for item in rt.items.read(articles_a, ids=keys, query={"sort": ["id"]})] == keys
        assert rt.items.update(articles_a, {"views": 5}, one.id).views == 5
        assert [item.views for item in rt.items.update(articles_a, {"views": 6}, ids=keys[1:])] == [6, 6]

        results = {}

        def read(key):
            results[key] = rt.items.read(articles_a, key)

        threads = [threading.Thread(target=read, args=(key,)) for key in keys * 5]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(15)
        assert {key: item.id for key, item in results.items()} == {key: key for key in keys}

        assert rt.items.delete(articles_a, one.id) == one.id
        assert rt.items.delete(articles_a, ids=keys[1:]) == keys[1:]
        with pytest.raises(Exception) as caught:
            rt.items.read("directus_users")
        assert getattr(caught.value, "code", None) == "INVALID_COLLECTION"
        assert rt.stats["disconnects"] == 0


# --- 10. strict mode (server B) -------------------------------------------------------------------

def test_strict_mode(server_b, make_client):
    anonymous = make_client(hostname=server_b.url, proxies={})
    started = time.monotonic()
    with pytest.raises(AuthenticationError) as caught:
        anonymous.realtime(auth="strict", heartbeat=False).connect()
    assert caught.value.status == 401 and time.monotonic() - started < 5  # no retry loop
    with new_collection(server_b) as name, static_client(make_client, server_b) as client, client.realtime() as rt:
        subscription = rt.subscribe(name, event="create")
        assert next_event(subscription).type == "init"
        made = create(server_b, name, title="strict")
        assert next_event(subscription).data[0]["id"] == made["id"]
        with pytest.raises(AuthenticationError) as refused:
            rt.send({"type": "auth", "access_token": "not-a-token"})
        assert refused.value.code == "AUTH_FAILED"
        deadline = time.monotonic() + 10  # the server closes after a failed re-auth; the client comes back
        while rt.stats.get("disconnects", 0) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert rt.stats["disconnects"] >= 1
        assert next_event(subscription, 15).type == "reconnected"
        assert next_event(subscription).type == "init"
        made = create(server_b, name, title="again")
        assert next_event(subscription).data[0]["id"] == made["id"]


# --- 11. transport: CONNECT proxy, sub-path, Origin -------------------------------------------------

class Relay(LoopbackServer):
    """A loopback TCP relay: an HTTP CONNECT proxy, or a reverse proxy that strips a path prefix."""

    def __init__(self, target=None, strip_prefix=None):
        self.target = target
        self.strip_prefix = strip_prefix
        self.heads = []
        super().__init__()

    def handle(self, client, number):
        head = read_head(client)
        if not head:
            return
        first_line = head.split(b"\r\n", 1)[0].decode()
        self.heads.append(first_line)
        if self.target is None:  # CONNECT host:port HTTP/1.x
            host, port = first_line.split()[1].rsplit(":", 1)
            upstream = socket.create_connection((host, int(port)))
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            rest = head.split(b"\r\n\r\n", 1)[1]
        else:
            upstream = socket.create_connection(self.target)
            method, target, version = first_line.split(" ", 2)
            if target.startswith(self.strip_prefix):
                target = target[len(self.strip_prefix):]
            rest = ("%s %s %s" % (method, target, version)).encode() + b"\r\n" + head.split(b"\r\n", 1)[1]
        with upstream:
            if rest:
                upstream.sendall(rest)
            back = threading.Thread(target=self._pipe, args=(upstream, client), daemon=True)
            back.start()
            self._pipe(client, upstream)
            back.join()  # either pipe's end shuts both sockets down, which ends the other

    @staticmethod
    def _pipe(source, sink):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def test_subscription_through_a_connect_proxy(server_a, articles_a, make_client):
    proxy = Relay()
    try:
        client = make_client(hostname=server_a.url, static_token=server_a.token,
                             proxies={"http": "http://127.0.0.1:%d" % proxy.port})
        with client, client.realtime(path="/websocket", auth="handshake", heartbeat=2) as rt:
            subscription = rt.subscribe(articles_a, event="create")
            assert next_event(subscription).type == "init"
            made = create(server_a, articles_a, title="proxied")
            assert next_event(subscription).data[0]["id"] == made["id"]
        port = server_a.url.rsplit(":", 1)[1]
        assert proxy.heads and proxy.heads[0].startswith("CONNECT 127.0.0.1:%s HTTP/1." % port)
    finally:
        proxy.close()


def test_sub_path_base_url_maps_to_its_websocket_path(server_a, articles_a, make_client):
    port = int(server_a.url.rsplit(":", 1)[1])
    relay = Relay(target=("127.0.0.1", port), strip_prefix="/directus")
    try:
        client = make_client(hostname="http://127.0.0.1:%d/directus" % relay.port, static_token=server_a.token,
                             proxies={})
        with client, client.realtime(path="/websocket", auth="handshake", heartbeat=2) as rt:
            subscription = rt.subscribe(articles_a, event="create")
            assert next_event(subscription).type == "init"
        assert relay.heads == ["GET /directus/websocket HTTP/1.1"]
    finally:
        relay.close()


def test_a_foreign_origin_is_refused_with_a_clear_error(server_a):
    host, port = server_a.url.split("//")[1].split(":")
    connection = ClientConnection("%s:%s" % (host, port), "/websocket", headers=[("Origin", "http://evil.example")])
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(connection.handshake_request())
        if version_of(server_a) < (12,):  # 10 and 11 do not check the Origin of a WebSocket upgrade
            events = []
            while not events:
                events = connection.receive_data(sock.recv(65536))
            assert [type(event) for event in events] == [Accepted]
            return
        with pytest.raises(HandshakeError) as caught:
            while True:
                connection.receive_data(sock.recv(65536))
    error = translate_connect_error(caught.value, server_a.url)
    assert isinstance(error, ForbiddenError) and "Origin" in str(error)


# --- 12. GraphQL --------------------------------------------------------------------------------

def test_graphql_subscriptions(server_a, articles_a, make_client):
    fields = "key event data { id title }"
    with static_client(make_client, server_a) as client, client.realtime() as rt:
        everything = rt.graphql.subscribe("subscription { %s_mutated { %s } }" % (articles_a, fields))
        deletes = rt.graphql.subscribe("subscription { %s_mutated(event: delete) { %s } }" % (articles_a, fields))
        time.sleep(0.5)  # no acknowledgement exists for a GraphQL subscribe
        made = create(server_a, articles_a, title="gql")
        event = next_event(everything)
        assert event.type == "next"
        assert event.data[articles_a + "_mutated"] == {"key": str(made["id"]), "event": "create",
                                                       "data": {"id": str(made["id"]), "title": "gql"}}
        call(server_a.url, "PATCH", "/items/%s/%d" % (articles_a, made["id"]), {"title": "gql2"}, token=server_a.token)
        assert next_event(everything).data[articles_a + "_mutated"]["event"] == "update"
        call(server_a.url, "DELETE", "/items/%s/%d" % (articles_a, made["id"]), token=server_a.token)
        assert next_event(everything).data[articles_a + "_mutated"]["event"] == "delete"
        deleted = next_event(deletes).data[articles_a + "_mutated"]  # the create and update were filtered out
        assert deleted["event"] == "delete" and deleted["data"] is None
        everything.unsubscribe()  # complete
        create(server_a, articles_a, title="after complete")
        assert everything.get(1.0) is None
        assert_quiet(deletes)


def test_graphql_without_its_subprotocol_is_closed_with_4406(server_a):
    host, port = server_a.url.split("//")[1].split(":")
    connection = ClientConnection("%s:%s" % (host, port), "/graphql")
    events = []
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(connection.handshake_request())
        while not any(isinstance(event, Closed) for event in events):
            events += connection.receive_data(sock.recv(65536))
    assert events[-1].code == 4406


# --- 7 and 8. heartbeat and token expiry, side by side --------------------------------------------

class Writer:
    """Creates an item in ``collection`` every 200 ms on a thread, with the admin's static token."""

    def __init__(self, server, collection, seconds):
        self.server, self.collection, self.seconds = server, collection, seconds
        self.ids = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        started = next_at = time.monotonic()
        while next_at - started < self.seconds:  # paced: 5 per second whatever a request takes
            time.sleep(max(0.0, next_at - time.monotonic()))
            self.ids.append(create(self.server, self.collection, title="w")["id"])
            next_at += 0.2

    def start(self):
        self.thread.start()
        return self

    def join(self):
        self.thread.join(self.seconds + 30)


def collect(subscription, until, seconds=30.0):
    """Events until ``until(events)`` is true or ``seconds`` pass."""
    events = []
    deadline = time.monotonic() + seconds
    while not until(events) and time.monotonic() < deadline:
        event = subscription.get(0.5)
        if event is not None:
            events.append(event)
    return events


def test_token_expiry_and_heartbeat_scenarios(server_a, make_client):
    """Proactive re-auth loses nothing; reactive and no re-auth recover; a client that stops
    answering pings is dropped by the server and comes back. All at once, about 17 s."""
    results = {}
    failures = []

    def proactive(name):
        with password_client(make_client, server_a) as client, client.realtime() as rt:
            subscription = rt.subscribe(name, event="create", query={"fields": ["id"]})
            assert next_event(subscription).type == "init"
            writer = Writer(server_a, name, 16.0).start()
            writer.join()
            events = collect(subscription, lambda events: len(events) >= len(writer.ids), 10)
            results["proactive"] = dict(created=writer.ids, received=[e.data[0]["id"] for e in events
                                                                       if e.type == "create"],
                                        others=[e for e in events if e.type != "create"], stats=rt.stats,
                                        refreshes=client.tokens.refreshes, logins=client.tokens.logins,
                                        rest_after=client.read_me(fields=["email"])["email"])

    def reactive(name):
        with password_client(make_client, server_a) as client, client.realtime() as rt:
            change_core(rt, lambda core: setattr_all(core, proactive_reauth=False, reauth_at=None))
            subscription = rt.subscribe(name, event="create", query={"fields": ["id"]})
            assert next_event(subscription).type == "init"
            writer = Writer(server_a, name, 12.0).start()
            writer.join()
            events = collect(subscription, lambda events: len(events) >= len(writer.ids), 10)
            results["reactive"] = dict(created=writer.ids, events=events, stats=rt.stats,
                                       errors=list(rt._connection.core.errors))

    def no_reauth(name):
        with password_client(make_client, server_a) as client, client.realtime() as rt:
            change_core(rt, lambda core: setattr_all(core, proactive_reauth=False, reactive_reauth=False,
                                                     reauth_at=None))
            subscription = rt.subscribe(name, event="create", query={"fields": ["id"]})
            assert next_event(subscription).type == "init"
            events = collect(subscription, lambda events: any(e.type == "reconnected" for e in events), 20)
            change_core(rt, lambda core: setattr_all(core, reactive_reauth=True))  # once back, keep it alive
            events += collect(subscription, lambda events: any(e.type == "init" for e in events), 10)
            made = create(server_a, name, title="after")
            events += collect(subscription, lambda events: any(e.type == "create" for e in events), 10)
            results["no_reauth"] = dict(events=events, made=made["id"], stats=rt.stats)

    def deaf(name):
        with static_client(make_client, server_a) as client, client.realtime() as rt:
            subscription = rt.subscribe(name, event="create")
            assert next_event(subscription).type == "init"
            change_core(rt, lambda core: setattr_all(core, answer_pings=False))
            started = time.monotonic()
            events = collect(subscription, lambda events: any(e.type == "reconnected" for e in events), 20)
            dropped_after = time.monotonic() - started
            change_core(rt, lambda core: setattr_all(core, answer_pings=True))
            events += collect(subscription, lambda events: any(e.type == "init" for e in events), 10)
            made = create(server_a, name, title="heard")
            events += collect(subscription, lambda events: any(e.type == "create" for e in events), 10)
            results["deaf"] = dict(events=events, made=made["id"], stats=rt.stats, dropped_after=dropped_after)

    with contextlib.ExitStack() as stack:
        scenarios = [(scenario, stack.enter_context(new_collection(server_a)))
                     for scenario in (proactive, reactive, no_reauth, deaf)]

        def run(scenario, name):
            try:
                scenario(name)
            except BaseException as error:  # reported below, with the scenario's name
                failures.append((scenario.__name__, error))

        threads = [threading.Thread(target=run, args=pair) for pair in scenarios]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(90)
    assert not failures, failures

    # proactive: zero lost, zero duplicated, in order, no TOKEN_EXPIRED; one REST refresh per re-auth
    proactive_result = results["proactive"]
    assert len(proactive_result["created"]) >= 60  # paced at 5 items/s for 16 s: three 5 s token lifetimes
    assert proactive_result["received"] == proactive_result["created"]
    assert proactive_result["others"] == []
    stats = proactive_result["stats"]
    assert stats.get("token_expired", 0) == 0 and stats.get("disconnects", 0) == 0
    assert stats["reauths"] >= 3
    assert proactive_result["refreshes"] == stats["reauths"] and proactive_result["logins"] == 1
    assert proactive_result["rest_after"] == server_a.email
    print("\nproactive: %d created, %d received, %d re-auths, %d REST refreshes, TOKEN_EXPIRED %d" % (
        len(proactive_result["created"]), len(proactive_result["received"]), stats["reauths"],
        proactive_result["refreshes"], stats.get("token_expired", 0)))

    # reactive: TOKEN_EXPIRED came, the connection stayed, the iterator went on; gap events are errors
    # (Directus 10 and 11 send them without the subscription's uid: the client gives them to the
    # connection's only subscription)
    reactive_result = results["reactive"]
    stats = reactive_result["stats"]
    assert stats["token_expired"] >= 1 and stats["reauths"] >= 1 and stats.get("disconnects", 0) == 0
    received = [e.data[0]["id"] for e in reactive_result["events"] if e.type == "create"]
    errors = [e for e in reactive_result["events"] if e.type == "error"]
    assert all(e.error.code == "FORBIDDEN" for e in errors), [e.error for e in errors]
    assert len(received) + len(errors) == len(reactive_result["created"]), (stats, reactive_result["errors"])
    assert len(set(received)) == len(received)
    print("reactive: %d TOKEN_EXPIRED, %d created, %d received, %d lost as error events" % (
        stats["token_expired"], len(reactive_result["created"]), len(received), len(errors)))

    # no re-auth: AUTH_TIMEOUT closed it; the client came back, subscribed again and receives
    no_reauth_result = results["no_reauth"]
    stats = no_reauth_result["stats"]
    assert stats["auth_timeouts"] >= 1 and stats["disconnects"] >= 1
    types = [e.type for e in no_reauth_result["events"]]
    assert "reconnected" in types and types.index("reconnected") < types.index("init")
    assert [e.data[0]["id"] for e in no_reauth_result["events"] if e.type == "create"] == [no_reauth_result["made"]]

    # deaf: the server dropped the client that stopped answering pings; it came back by itself
    deaf_result = results["deaf"]
    assert deaf_result["stats"]["disconnects"] >= 1 and deaf_result["dropped_after"] < 15
    types = [e.type for e in deaf_result["events"]]
    assert types[0] == "reconnected" and "init" in types
    assert [e.data[0]["id"] for e in deaf_result["events"] if e.type == "create"] == [deaf_result["made"]]


# --- 7. idle connections past 60 s (opened when the module started) ---------------------------------

def test_idle_connections_stay_up_past_60_seconds(idle_connections):
    started, opened = idle_connections
    remaining = IDLE_SECONDS + 1 - (time.monotonic() - started)
    if remaining > 0:
        time.sleep(remaining)
    for server, name, rt, subscription in opened:
        assert rt.connected, server.url
        stats = rt.stats
        assert stats["connections_opened"] == 1 and stats.get("disconnects", 0) == 0, stats
        made = create(server, name, title="still here")
        assert next_event(subscription).data[0]["id"] == made["id"]
    pings = [rt.stats["pings"] for server, _, rt, _ in opened if server is opened[0][0]]
    assert min(pings) >= 25  # server A pings every 2 s: all answered, none missed, by both clients
    print("\nidle %.0f s: server A %s pings answered (sync, async), server B (no heartbeat) still up" % (
        time.monotonic() - started, pings))


# --- 9. restart (last: it restarts server A) ------------------------------------------------------

def test_server_restart_reconnects_with_exactly_one_init_per_subscription(server_a, make_client):
    with new_collection(server_a) as name, static_client(make_client, server_a) as client:
        before = create(server_a, name, title="before restart")
        with client.realtime(random=lambda: 0.5) as rt:
            everything = rt.subscribe(name, query={"fields": ["id", "title"]})
            creates = rt.subscribe(name, event="create")
            assert next_event(everything).type == next_event(creates).type == "init"
            stopped = time.monotonic()
            server_a.restart()  # SIGTERM, then the same port and database
            restarted_in = time.monotonic() - stopped
            events = {}
            for subscription in (everything, creates):
                events[subscription.uid] = collect(subscription, lambda found: any(e.type == "init" for e in found),
                                                   45)
            back_in = time.monotonic() - stopped
            assert back_in < 45 and rt.connected
            made = create(server_a, name, title="after restart")
            for subscription in (everything, creates):
                events[subscription.uid] += collect(
                    subscription, lambda found: any(e.type == "create" for e in found), 10)
                events[subscription.uid] += collect(subscription, lambda found: False, 1.0)
            stats = rt.stats
            delays = list(rt._connection.core.reconnect_delays)
        rest = call(server_a.url, "GET", "/items/%s?fields=id,title" % name, token=server_a.token).body["data"]
    for uid, found in events.items():
        types = [e.type for e in found]
        assert types == ["reconnected", "init", "create"], (uid, types)
    assert [item.to_dict() for item in events[everything.uid][1].data] == [{"id": before["id"], "title": "before restart"}]
    assert [item.to_dict() for item in events[everything.uid][1].data] == [r for r in rest if r["id"] == before["id"]]
    assert events[creates.uid][2].data[0]["id"] == made["id"]
    assert stats["subscribes_sent"] == 4  # two at the start, exactly one each after the restart
    # full jitter with random() == 0.5: half of 1, 1, 2, 4, 8, 16 s ... between attempts
    expected = [0.5 * min(30.0, 1.0 if n == 0 else 0.5 * 2 ** n) for n in range(len(delays))]
    assert delays == pytest.approx(expected)
    print("\nrestart: server back in %.1f s, subscriptions back in %.1f s after %d attempts, one init each" % (
        restarted_in, back_in, len(delays)))
