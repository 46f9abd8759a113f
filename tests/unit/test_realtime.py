"""The realtime layer without a Directus: the I/O-free cores driven by scripted server messages with
a fake clock and random source, and the sync room against a loopback fake WebSocket server for what
a real server cannot be made to do."""

import json
import socket
import threading
import time

import pytest

from pydirectus import (AuthenticationError, DirectusClient, ForbiddenError, InvalidPayloadError, Item, ItemList,
                        ServerError, TimeoutError, TransportError)
from pydirectus._core.realtime import DirectusCore, GraphQLCore, jwt_lifetime, translate_connect_error
from pydirectus._core.websocket import HandshakeError
from tests.fakerealtime import (FakeAuthTransport, FakeDirectus, answer_subscribes, handshake, jwt, never_pings,
                                ping_then_drop, record_frames, tls_server_context)
from tests.integration.test_realtime import Relay  # a CONNECT proxy on loopback


class FakeClock:
    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now


def sent(core):
    return [json.loads(text) for text in core.take_outgoing()]


def make_core(clock=None, random=lambda: 0.5, **settings):
    clock = clock or FakeClock()
    settings.setdefault("heartbeat", 2.0)
    return DirectusCore(clock, random, where="ws://test/websocket", **settings), clock


def ready_core(token="static", expires_at=None, **settings):
    core, clock = make_core(**settings)
    core.connection_opened(clock(), token, expires_at)
    auth = sent(core)[0]
    core.message_received(clock(), json.dumps({"type": "auth", "status": "ok", "uid": auth["uid"]}))
    assert core.state == "ready"
    return core, clock


def receive(core, clock, message):
    core.message_received(clock(), json.dumps(message))


# --- authentication ------------------------------------------------------------------------

def test_handshake_mode_sends_the_token_first_and_subscribes_after_ok():
    core, clock = make_core()
    subscription = core.subscribe("articles")
    assert sent(core) == []  # not connected: nothing goes out yet
    core.connection_opened(clock(), "tok", None)
    auth = sent(core)
    assert auth == [{"type": "auth", "access_token": "tok", "uid": auth[0]["uid"]}]
    assert core.state == "authenticating"
    receive(core, clock, {"type": "auth", "status": "ok", "uid": auth[0]["uid"]})
    assert core.state == "ready"
    assert sent(core) == [{"type": "subscribe", "collection": "articles", "uid": subscription.uid}]


def test_strict_mode_puts_the_token_in_the_url_and_sends_no_auth():
    core, clock = make_core(auth_mode="strict")
    assert core.resource("/websocket", "a b/c") == "/websocket?access_token=a%20b%2Fc"
    core.connection_opened(clock(), "a b/c", None)
    assert core.state == "ready" and sent(core) == []
    handshake, _ = make_core()
    assert handshake.resource("/websocket", "tok") == "/websocket"


def test_without_a_token_no_auth_is_sent():
    core, clock = make_core(auth_mode="public")
    core.connection_opened(clock(), None, None)
    assert core.state == "ready" and sent(core) == []


def test_jwt_lifetime_is_read_without_verification():
    assert jwt_lifetime(jwt(900)) == 900
    assert jwt_lifetime("static-token") is None
    assert jwt_lifetime("a.%%%.c") is None


def test_proactive_reauth_before_the_jwt_can_expire():
    token = jwt(5)
    core, clock = ready_core(token, expires_at=1005.0)
    # JWT exp is whole seconds (up to 1 s early), minus a margin of max(1 s, 10 %): at 1003
    assert core.reauth_at == pytest.approx(1003.0)
    assert core.next_deadline() == pytest.approx(1003.0)
    clock.now = 1002.9
    core.tick(clock())
    assert not core.token_wanted
    clock.now = 1003.0
    core.tick(clock())
    assert core.token_wanted and core.token == token  # the connection fetches a token other than this one
    new = jwt(5, iat=1700000003)
    core.token_ready(clock(), new, 1008.0)
    auth = sent(core)
    assert auth == [{"type": "auth", "access_token": new, "uid": auth[0]["uid"]}]
    receive(core, clock, {"type": "auth", "status": "ok", "uid": auth[0]["uid"]})
    assert core.stats["reauths"] == 1
    assert core.reauth_at == pytest.approx(1006.0)


def test_reauth_margin_grows_with_the_lifetime_and_never_loops():
    core, clock = ready_core(jwt(900), expires_at=1900.0)
    assert core.reauth_at == pytest.approx(1900.0 - 1.0 - 60.0)
    nearly_expired, clock2 = ready_core(jwt(900), expires_at=1000.2)
    assert nearly_expired.reauth_at == pytest.approx(1000.5)  # at once, but never more often than 0.5 s


def test_static_tokens_are_never_renewed():
    core, clock = ready_core("static", expires_at=None)
    assert core.reauth_at is None
    clock.now += 10000
    receive(core, clock, {"type": "ping"})
    core.tick(clock())
    assert not core.token_wanted


def test_token_expired_triggers_a_reactive_reauth():
    core, clock = ready_core(jwt(5), expires_at=1005.0)
    core.proactive_reauth = False
    message = {"type": "auth", "status": "error", "error": {"code": "TOKEN_EXPIRED", "message": "Token expired."}}
    receive(core, clock, message)
    assert core.token_wanted and core.stats["token_expired"] == 1
    assert isinstance(core.errors[-1], AuthenticationError) and core.errors[-1].code == "TOKEN_EXPIRED"
    off, clock2 = ready_core(jwt(5), expires_at=1005.0)
    off.reactive_reauth = False
    receive(off, clock2, message)
    assert not off.token_wanted


def test_a_failed_token_fetch_is_retried_later():
    core, clock = ready_core(jwt(5), expires_at=1005.0)
    core.token_failed(clock(), TransportError("down"))
    assert core.reauth_at == clock() + 2.0 and not core.token_wanted


def test_auth_failed_twice_in_a_row_is_fatal():
    core, clock = ready_core("tok")
    core.connection_lost(clock(), TransportError("gone"))
    assert core.state == "waiting"
    for attempt in range(2):
        core.connection_opened(clock(), "tok", None)
        sent(core)
        receive(core, clock, {"type": "auth", "status": "error",
                              "error": {"code": "AUTH_FAILED", "message": "Authentication failed."}})
        core.connection_lost(clock(), TransportError("closed"), 1005)
    assert core.state == "closed"
    assert isinstance(core.fatal, AuthenticationError) and core.fatal.code == "AUTH_FAILED"


def test_the_first_connection_fails_fast():
    core, clock = make_core()
    core.connection_opened(clock(), "bad", None)
    receive(core, clock, {"type": "auth", "status": "error", "error": {"code": "AUTH_FAILED", "message": "x"}})
    core.connection_lost(clock(), TransportError("closed"), 1005)
    assert core.state == "closed" and core.fatal.code == "AUTH_FAILED"


# --- subscriptions -----------------------------------------------------------------------------

@pytest.mark.parametrize("arguments", [
    {"collection": ""}, {"collection": None}, {"collection": "a", "event": "upsert"},
    {"collection": "a", "item": 1.5}, {"collection": "a", "item": True}, {"collection": "a", "query": "limit=1"},
])
def test_invalid_subscriptions_raise_before_anything_is_sent(arguments):
    core, clock = ready_core()
    with pytest.raises(ValueError):
        core.subscribe(**arguments)
    assert sent(core) == [] and core.subscriptions == {}


def test_events_are_decoded_and_delete_keys_are_strings():
    core, clock = ready_core()
    plain = core.subscribe("articles", query={"fields": ["id", "title"], "meta": "*"})
    one = core.subscribe("articles", item=1, event="delete")
    messages = sent(core)
    assert messages[0]["query"] == {"fields": ["id", "title"], "meta": "*"}
    assert messages[1] == {"type": "subscribe", "collection": "articles", "uid": one.uid, "event": "delete", "item": 1}
    meta = {"total_count": 1, "filter_count": 1}
    receive(core, clock, {"type": "subscription", "event": "init", "data": [{"id": 1, "title": "a"}], "meta": meta,
                          "uid": plain.uid})
    receive(core, clock, {"type": "subscription", "event": "create", "data": [{"id": 2, "title": "b"}],
                          "meta": meta, "uid": plain.uid})
    receive(core, clock, {"type": "subscription", "event": "delete", "data": ["3"], "uid": plain.uid})
    receive(core, clock, {"type": "subscription", "event": "delete", "data": [5, 6], "uid": plain.uid})
    receive(core, clock, {"type": "subscription", "event": "delete", "data": "1", "uid": one.uid})
    init, create, delete_path, delete_body = list(plain.queue)
    assert init.type == "init" and isinstance(init.data, ItemList) and init.data.meta == meta
    assert isinstance(create.data[0], Item) and create.data[0].title == "b" and create.meta == meta
    assert delete_path.keys == ["3"] and delete_body.keys == ["5", "6"] and delete_body.data == [5, 6]
    assert one.queue[0].keys == ["1"]
    assert plain.status == "active"


def test_a_refused_subscription_fails_alone():
    core, clock = ready_core()
    healthy = core.subscribe("articles")
    missing = core.subscribe("nope")
    sent(core)
    receive(core, clock, {"type": "subscription", "event": "init", "data": [], "uid": healthy.uid})
    receive(core, clock, {"type": "subscribe", "status": "error", "uid": missing.uid,
                          "error": {"code": "FORBIDDEN", "message": "You don't have permission"}})
    assert missing.status == "failed" and isinstance(missing.error, ForbiddenError)
    assert missing.uid not in core.subscriptions  # never sent again after a reconnect
    receive(core, clock, {"type": "subscription", "event": "create", "data": [{"id": 1}], "uid": healthy.uid})
    assert [event.type for event in healthy.queue] == ["init", "create"]


def test_an_error_on_an_active_subscription_is_an_event():
    core, clock = ready_core()
    subscription = core.subscribe("articles")
    receive(core, clock, {"type": "subscription", "event": "init", "uid": subscription.uid})
    receive(core, clock, {"type": "subscribe", "status": "error", "uid": subscription.uid,
                          "error": {"code": "FORBIDDEN", "message": "gap"}})
    assert subscription.status == "active"
    assert subscription.queue[-1].type == "error" and subscription.queue[-1].error.code == "FORBIDDEN"


def test_errors_without_uid_go_to_the_connection():
    core, clock = ready_core()
    request = core.send_request(clock(), {"type": "items", "action": "read", "collection": "a"}, "items")
    receive(core, clock, {"type": "server", "status": "error",
                          "error": {"code": "INVALID_PAYLOAD", "message": "Unable to parse the incoming message."}})
    receive(core, clock, {"type": "server", "status": "error",
                          "error": {"code": "REQUESTS_EXCEEDED", "message": "Too many messages"}})
    assert not request.done
    assert [type(error).__name__ for error in core.errors] == ["InvalidPayloadError", "RateLimitedError"]
    assert core.stats["connection_errors"] == 2


def test_numeric_uid_echoes_are_matched_as_strings():
    core, clock = ready_core()
    subscription = core.subscribe("articles")
    receive(core, clock, {"type": "subscription", "event": "init", "uid": int(subscription.uid[1:])})
    assert not subscription.queue  # "1" is not "s1": numbers never alias our string uids
    receive(core, clock, {"type": "subscription", "event": "init", "uid": subscription.uid})
    assert len(subscription.queue) == 1


def test_a_full_queue_drops_events_behind_one_gap_marker():
    core, clock = ready_core(queue_size=3)
    subscription = core.subscribe("articles")
    for number in range(10):
        receive(core, clock, {"type": "subscription", "event": "create", "data": [{"id": number}],
                              "uid": subscription.uid})
    assert [event.type for event in subscription.queue] == ["create", "create", "create", "gap"]
    assert subscription.queue[-1].lost == 7
    assert subscription.take().type == "create"
    receive(core, clock, {"type": "subscription", "event": "create", "data": [{"id": 99}], "uid": subscription.uid})
    assert [event.type for event in subscription.queue] == ["create", "create", "gap", "create"]


def test_unsubscribe_is_sent_and_ends_the_subscription():
    core, clock = ready_core()
    subscription = core.subscribe("articles")
    sent(core)
    core.unsubscribe(subscription.uid)
    assert sent(core) == [{"type": "unsubscribe", "uid": subscription.uid}]
    assert subscription.status == "ended"
    receive(core, clock, {"type": "subscription", "event": "unsubscribe", "uid": subscription.uid})


def test_unknown_message_types_are_ignored():
    core, clock = ready_core()
    receive(core, clock, {"type": "collab", "action": "join"})
    receive(core, clock, ["not", "an", "object"])
    core.message_received(clock(), "not json")
    assert sent(core) == [] and len(core.errors) == 1


# --- requests -------------------------------------------------------------------------------

def test_interleaved_replies_reach_their_callers():
    core, clock = ready_core()
    first = core.send_request(clock(), {"type": "items", "action": "read", "collection": "a", "id": 1}, "items")
    second = core.send_request(clock(), {"type": "items", "action": "read", "collection": "a", "id": 2}, "items")
    uids = [message["uid"] for message in sent(core)]
    assert len(set(uids)) == 2 and all(isinstance(uid, str) for uid in uids)
    receive(core, clock, {"type": "items", "data": {"id": 2}, "uid": uids[1]})
    receive(core, clock, {"type": "items", "status": "error", "uid": uids[0],
                          "error": {"code": "INVALID_PAYLOAD", "message": "bad"}})
    assert second.done and second.result["data"] == {"id": 2}
    assert first.done and isinstance(first.error, InvalidPayloadError)


def test_an_unanswered_request_times_out():
    core, clock = ready_core(request_timeout=5.0)
    request = core.send_request(clock(), {"type": "nonsense"}, "nonsense")
    clock.now += 4.9
    core.tick(clock())
    assert not request.done
    clock.now += 0.2
    core.tick(clock())
    assert isinstance(request.error, TimeoutError)


def test_requests_need_a_ready_connection():
    core, clock = make_core()
    with pytest.raises(TransportError):
        core.send_request(clock(), {"type": "ping"}, "ping")


# --- heartbeat and liveness -----------------------------------------------------------------

def test_server_pings_are_answered_unless_the_hook_is_off():
    core, clock = ready_core()
    receive(core, clock, {"type": "ping"})
    assert sent(core) == [{"type": "pong"}]
    core.answer_pings = False
    receive(core, clock, {"type": "ping"})
    assert sent(core) == [] and core.stats["pings"] == 2


def test_silence_past_two_periods_and_five_seconds_is_a_dead_connection():
    core, clock = ready_core(heartbeat=2.0)
    assert core.next_deadline() == pytest.approx(1009.0)
    clock.now += 8.9
    core.tick(clock())
    assert core.close_wanted is None
    receive(core, clock, {"type": "ping"})  # any message counts
    clock.now += 8.9
    core.tick(clock())
    assert core.close_wanted is None
    clock.now += 0.2
    core.tick(clock())
    assert core.close_wanted is not None and isinstance(core.last_error, TimeoutError)


def test_an_idle_connection_pings_before_a_proxys_read_timeout():
    from pydirectus._core.realtime import DIRECTUS_KEEPALIVE
    core, clock = ready_core(heartbeat=30.0)
    sent(core)
    assert core.next_deadline() == clock() + DIRECTUS_KEEPALIVE  # before a proxy's 30 s read timeout
    clock.now += DIRECTUS_KEEPALIVE - 0.1
    core.tick(clock())
    assert sent(core) == []
    clock.now += 0.1
    core.tick(clock())
    assert sent(core) == [{"type": "ping"}] and core.stats["keepalive_pings"] == 1
    receive(core, clock, {"type": "pong"})  # the server's answer (heartbeat on) is not an error
    assert not core.errors and core.close_wanted is None
    clock.now += 10
    receive(core, clock, {"type": "ping"})  # the server's own ping: answered, and the idle time starts over
    assert sent(core) == [{"type": "pong"}]
    assert core.next_deadline() == clock() + DIRECTUS_KEEPALIVE


def test_without_a_server_heartbeat_silence_is_fine():
    core, clock = ready_core(heartbeat=None)
    clock.now += 3600
    core.tick(clock())
    assert core.close_wanted is None and core.next_deadline() is None


def test_an_unanswered_authentication_times_out():
    core, clock = make_core(auth_timeout=10.0, heartbeat=None)
    core.connection_opened(clock(), "tok", None)
    clock.now += 10.1
    core.tick(clock())
    assert core.close_wanted is not None and "authentication" in str(core.last_error)


# --- reconnecting ----------------------------------------------------------------------------

def test_reconnect_resubscribes_each_subscription_exactly_once_after_a_marker():
    core, clock = ready_core()
    first = core.subscribe("articles")
    second = core.subscribe("articles", event="create")
    sent(core)
    receive(core, clock, {"type": "subscription", "event": "init", "data": [], "uid": first.uid})
    request = core.send_request(clock(), {"type": "ping"}, "ping")
    core.connection_lost(clock(), TransportError("eof"), 1006)
    assert core.state == "waiting"
    assert isinstance(request.error, TransportError) and request.error.may_have_been_processed
    late = core.subscribe("articles", event="delete")  # made during the outage: sent once, no marker
    assert sent(core) == []
    core.connection_opened(clock(), "static", None)
    auth = sent(core)
    assert [message["type"] for message in auth] == ["auth"]
    receive(core, clock, {"type": "auth", "status": "ok", "uid": auth[0]["uid"]})
    resent = sent(core)
    assert sorted(message["uid"] for message in resent) == sorted([first.uid, second.uid, late.uid])
    assert all(message["type"] == "subscribe" for message in resent)
    assert [event.type for event in first.queue] == ["init", "reconnected"]
    assert [event.type for event in second.queue] == ["reconnected"]
    assert list(late.queue) == []
    assert core.stats["subscribes_sent"] == 5


def test_backoff_is_full_jitter_growing_to_30_s_and_resets_once_stable():
    draws = []

    def random():
        draws.append(1)
        return 0.999999

    core, clock = ready_core(random=random)
    core.connection_lost(clock(), TransportError("eof"))
    caps = []
    for _ in range(8):
        caps.append(round(core.reconnect_delay(), 3))
        core.connect_failed(clock(), TransportError("refused"))
    assert caps == [1.0, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    zero, clock2 = ready_core(random=lambda: 0.0)
    zero.connection_lost(clock2(), TransportError("eof"))
    assert zero.reconnect_delay() == 0.0  # full jitter: anywhere from zero
    # a connection that stayed up for 60 s starts the backoff afresh
    core.connection_opened(clock(), "static", None)
    receive(core, clock, {"type": "auth", "status": "ok", "uid": sent(core)[0]["uid"]})
    clock.now += 61
    core.connection_lost(clock(), TransportError("eof"))
    assert round(core.reconnect_delay(), 3) == 1.0


@pytest.mark.parametrize("error, fatal_after", [
    (AuthenticationError("401", status=401), 2),
    (ForbiddenError("403", status=403), 5),
    (InvalidPayloadError("404", status=404), 1),
    (ServerError("503", status=503), None),
    (TransportError("refused"), None),
])
def test_which_connect_failures_end_the_retries(error, fatal_after):
    core, clock = ready_core()
    core.connection_lost(clock(), TransportError("eof"))
    for attempt in range(1, 8):
        core.connect_failed(clock(), error)
        if fatal_after is not None and attempt >= fatal_after:
            assert core.state == "closed" and core.fatal is error
            return
        assert core.state == "waiting"


def test_close_ends_subscriptions_and_requests():
    core, clock = ready_core()
    subscription = core.subscribe("articles")
    request = core.send_request(clock(), {"type": "ping"}, "ping")
    core.close()
    assert core.state == "closed" and core.close_wanted == (1000, "")
    assert subscription.status == "ended" and isinstance(request.error, TransportError)


def test_handshake_refusals_become_directus_errors():
    assert isinstance(translate_connect_error(HandshakeError("x", 401), "ws://h"), AuthenticationError)
    assert isinstance(translate_connect_error(HandshakeError("x", 403), "ws://h"), ForbiddenError)
    assert isinstance(translate_connect_error(HandshakeError("x", 502), "ws://h"), ServerError)
    assert isinstance(translate_connect_error(ConnectionRefusedError(111, "refused"), "ws://h"), TransportError)
    assert isinstance(translate_connect_error(socket.timeout(), "ws://h"), TimeoutError)


# --- GraphQL ---------------------------------------------------------------------------------

def graphql_ready(token="tok"):
    clock = FakeClock()
    core = GraphQLCore(clock, lambda: 0.5, where="ws://test/graphql")
    core.connection_opened(clock(), token, None)
    assert sent(core) == [{"type": "connection_init", "payload": {"access_token": token}}]
    core.message_received(clock(), json.dumps({"type": "connection_ack"}))
    assert core.state == "ready"
    return core, clock


def test_graphql_subscribe_next_error_complete():
    core, clock = graphql_ready()
    assert core.subprotocols == ("graphql-transport-ws",)
    good = core.subscribe("subscription { a_mutated { key } }", {"x": 1})
    bad = core.subscribe("subscription { nope }")
    messages = sent(core)
    assert messages[0] == {"id": good.uid, "type": "subscribe",
                           "payload": {"query": "subscription { a_mutated { key } }", "variables": {"x": 1}}}
    receive(core, clock, {"id": good.uid, "type": "next", "payload": {"data": {"a_mutated": {"key": "1"}}}})
    receive(core, clock, {"id": bad.uid, "type": "error", "payload": [{"message": "Cannot query field"}]})
    receive(core, clock, {"id": good.uid, "type": "next", "payload": {"errors": [{"message": "oops"}]}})
    assert good.queue[0].type == "next" and good.queue[0].data == {"a_mutated": {"key": "1"}}
    assert good.queue[1].type == "error" and "oops" in str(good.queue[1].error)
    assert bad.status == "failed" and "Cannot query field" in str(bad.error)
    receive(core, clock, {"id": good.uid, "type": "complete"})
    assert good.status == "ended"


def test_graphql_pings_and_keepalive():
    core, clock = graphql_ready()
    receive(core, clock, {"type": "ping"})
    assert sent(core) == [{"type": "pong"}]
    clock.now += core.heartbeat
    core.tick(clock())
    assert sent(core) == [{"type": "ping"}]


def test_graphql_unsubscribe_sends_complete():
    core, clock = graphql_ready()
    subscription = core.subscribe("subscription { a_mutated { key } }")
    sent(core)
    core.unsubscribe(subscription.uid)
    assert sent(core) == [{"id": subscription.uid, "type": "complete"}]


@pytest.mark.parametrize("code, fatal", [(4406, True), (4403, True), (4408, False), (1006, False)])
def test_graphql_close_codes(code, fatal):
    core, clock = graphql_ready()
    core.connection_lost(clock(), TransportError("closed"), code)
    assert (core.state == "closed") is fatal


# --- the sync room against a loopback fake server -------------------------------------------

def static_client(url):
    return DirectusClient(hostname=url, static_token="static-token", proxies={})


def test_driver_answers_pings_reconnects_and_resubscribes_once():
    pongs, subscribes = [], []
    server = FakeDirectus(ping_then_drop(pongs, subscribes))
    try:
        with static_client(server.url) as client, \
                client.realtime(path="/websocket", auth="handshake", heartbeat=30, random=lambda: 0.0) as rt:
            events = []
            subscription = rt.subscribe("articles")
            for event in subscription:
                events.append(event)
                if event.type == "create":
                    break
            assert [event.type for event in events] == ["init", "reconnected", "init", "create"]
            assert [event.data[0]["id"] for event in events if event.type == "init"] == [1, 2]
            assert [number for number, _ in subscribes] == [1, 2]  # one subscribe per connection
            assert subscribes[0][1] == subscribes[1][1]  # the same uid and message
            assert pongs == [{"type": "pong"}, {"type": "pong"}]
            assert rt.stats["connections_opened"] == 2 and rt.stats["disconnects"] == 1
        assert all("origin" not in head.lower() for head in server.requests)
        assert all(head.startswith("GET /websocket HTTP/1.1") for head in server.requests)
    finally:
        server.close()


def test_driver_sends_no_websocket_ping_frames_and_closes_cleanly():
    frames = []
    server = FakeDirectus(record_frames(frames))
    try:
        with static_client(server.url) as client:
            rt = client.realtime(path="/websocket", auth="handshake", heartbeat=30)
            rt.connect()
            assert rt.connected
            time.sleep(0.3)
            rt.close()
            assert not rt.connected
        assert frames == [0x8]  # no ping frame (0x9), only our close
    finally:
        server.close()


def test_close_from_another_thread_ends_a_blocked_iteration():
    def script(peer, number):
        handshake(peer)
        subscribe = peer.recv_json()
        peer.send_json({"type": "subscription", "event": "init", "uid": subscribe["uid"]})
        peer.recv_json(timeout=10)

    server = FakeDirectus(script)
    try:
        with static_client(server.url) as client:
            rt = client.realtime(path="/websocket", auth="handshake", heartbeat=30).connect()
            subscription = rt.subscribe("articles")
            seen = []
            reader = threading.Thread(target=lambda: seen.extend(subscription))
            reader.start()
            time.sleep(0.3)
            rt.close()
            reader.join(5)
            assert not reader.is_alive() and [event.type for event in seen] == ["init"]
    finally:
        server.close()


def test_a_refused_first_upgrade_raises_without_retrying():
    server = FakeDirectus(lambda peer, number: None, status=401)
    try:
        with static_client(server.url) as client:
            with pytest.raises(AuthenticationError) as caught:
                client.realtime(path="/websocket", auth="strict", heartbeat=False).connect()
            assert caught.value.status == 401
            time.sleep(0.3)
            assert len(server.requests) == 1
            assert "access_token=static-token" in server.requests[0].split("\r\n")[0]
    finally:
        server.close()


def test_a_dead_server_is_noticed_by_silence_and_left():
    server = FakeDirectus(never_pings([]))  # the client must give up on this connection
    try:
        with static_client(server.url) as client:
            rt = client.realtime(path="/websocket", auth="handshake", heartbeat=0.1, random=lambda: 0.0)
            with rt:
                deadline = time.monotonic() + 15
                while rt.stats.get("silence_timeouts", 0) < 1 and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert rt.stats["silence_timeouts"] >= 1  # after 2 x 0.1 + 5 s
    finally:
        server.close()


def test_wss_uses_the_clients_tls_settings(tmp_path):
    server_context, ca_file = tls_server_context(tmp_path)
    server = FakeDirectus(answer_subscribes, tls_context=server_context)
    try:
        trusted = DirectusClient(hostname=server.url, static_token="static-token", proxies={},
                                 ssl_verify=ca_file)
        with trusted, trusted.realtime(path="/websocket", auth="handshake", heartbeat=30) as rt:
            assert next(iter(rt.subscribe("articles"))).data[0]["id"] == 1
        untrusted = DirectusClient(hostname=server.url, static_token="static-token", proxies={})
        with untrusted, pytest.raises(TransportError, match="(?i)certificate"):
            untrusted.realtime(path="/websocket", auth="handshake", heartbeat=30).connect()
    finally:
        server.close()


@pytest.mark.parametrize("tls", [False, True], ids=["ws", "wss"])
def test_through_a_connect_proxy_then_tls(tmp_path, tls):
    context, ca_file = tls_server_context(tmp_path) if tls else (None, None)
    server, proxy = FakeDirectus(answer_subscribes, tls_context=context), Relay()
    try:
        client = DirectusClient(hostname=server.url, static_token="static-token", ssl_verify=ca_file or True,
                                proxies={"https" if tls else "http": "http://127.0.0.1:%d" % proxy.port})
        with client, client.realtime(path="/websocket", auth="handshake", heartbeat=30) as rt:
            assert next(iter(rt.subscribe("articles"))).type == "init"
        assert proxy.heads[0].startswith("CONNECT 127.0.0.1:%s HTTP/1." % server.url.rsplit(":", 1)[1])
    finally:
        server.close()
        proxy.close()


# --- tokens: never the socket's business to spend the refresh token ------------------------------

def socket_token(rt, stale=None):
    """What a connection of ``rt`` runs for a token: its plan's token flow, on the client's runner."""
    return rt._runner.run(rt._plan.token_flow(stale))


def test_a_token_the_socket_already_used_is_renewed_through_the_rest_session():
    transport = FakeAuthTransport()
    client = DirectusClient(hostname="http://127.0.0.1:1", username="a@b.c", password="pw", transport=transport)
    rt = client.realtime()
    token, expires_at = socket_token(rt)
    assert transport.paths == ["auth/login"]
    # the REST manager still finds it usable, but the socket needs another one now
    renewed, renewed_expiry = socket_token(rt, token)
    assert renewed != token and transport.paths == ["auth/login", "auth/refresh"]
    assert client.tokens.refreshes == 1 and client.tokens.access_token == renewed
    # a token other than the stale one is taken as it is
    assert socket_token(rt, "older") == (renewed, renewed_expiry)
    assert transport.paths == ["auth/login", "auth/refresh"]
    static = DirectusClient(hostname="http://127.0.0.1:1", static_token="s", transport=transport)
    assert socket_token(static.realtime(), "s") == ("s", None)


def test_the_realtime_connection_is_made_of_its_plan_and_the_runner_alone():
    client = DirectusClient(hostname="https://example.com/base/", static_token="s", proxies={})
    rt = client.realtime(path="/ws", auth="strict", heartbeat=False, timeout=5.0, queue_size=7)
    plan = rt._plan
    assert plan.url == "https://example.com/base" and plan.credentials_kind == "static"
    assert plan.connection_settings is client.connection_settings and rt._runner is client._runner
    assert (plan.options.path, plan.options.auth, plan.options.heartbeat) == ("/ws", "strict", False)
    assert (rt.timeout, rt.queue_size) == (5.0, 7) and not hasattr(rt, "client")
    assert rt._clock is time.monotonic
    with pytest.raises(ValueError, match="auth must be"):
        client.realtime(auth="bearer")
    # the socket says who it is as the client's requests do: the default, or the client's user_agent=
    assert plan.user_agent.startswith("pydirectus/")
    named = DirectusClient(hostname="https://example.com", static_token="s", proxies={}, user_agent="app/1.0")
    assert named.realtime()._plan.user_agent == "app/1.0"
