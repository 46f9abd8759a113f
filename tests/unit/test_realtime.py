"""The realtime layer without a Directus: the I/O-free cores driven by scripted server messages with
a fake clock and random source, and the sync driver against a loopback fake WebSocket server for what
a real server cannot be made to do."""

import base64
import json
import socket
import struct
import threading
import time

import pytest

from pydirectus import (AuthenticationError, DirectusClient, ForbiddenError, InvalidPayloadError, Item, ItemList,
                        ServerError, TimeoutError, TransportError)
from pydirectus.messages import Response
from pydirectus.realtime import (_DirectusCore, _GraphQLCore, _jwt_lifetime, _renewed_access_token,
                                 _translate_connect_error)
from pydirectus.websocket import HandshakeError, accept_key, encode_frame, mask


class FakeClock:
    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now


def jwt(lifetime, iat=1700000000):
    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")
    return "%s.%s.sig" % (part({"alg": "HS256"}), part({"iat": iat, "exp": iat + lifetime, "id": "u"}))


def sent(core):
    return [json.loads(text) for text in core.take_outgoing()]


def make_core(clock=None, random=lambda: 0.5, **settings):
    clock = clock or FakeClock()
    settings.setdefault("heartbeat", 2.0)
    return _DirectusCore(clock, random, where="ws://test/websocket", **settings), clock


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
    assert _jwt_lifetime(jwt(900)) == 900
    assert _jwt_lifetime("static-token") is None
    assert _jwt_lifetime("a.%%%.c") is None


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
    assert core.token_wanted and core.token == token  # the driver fetches a token other than this one
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
    request = core.request(clock(), {"type": "items", "action": "read", "collection": "a"}, "items")
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
    first = core.request(clock(), {"type": "items", "action": "read", "collection": "a", "id": 1}, "items")
    second = core.request(clock(), {"type": "items", "action": "read", "collection": "a", "id": 2}, "items")
    uids = [message["uid"] for message in sent(core)]
    assert len(set(uids)) == 2 and all(isinstance(uid, str) for uid in uids)
    receive(core, clock, {"type": "items", "data": {"id": 2}, "uid": uids[1]})
    receive(core, clock, {"type": "items", "status": "error", "uid": uids[0],
                          "error": {"code": "INVALID_PAYLOAD", "message": "bad"}})
    assert second.done and second.result["data"] == {"id": 2}
    assert first.done and isinstance(first.error, InvalidPayloadError)


def test_an_unanswered_request_times_out():
    core, clock = ready_core(request_timeout=5.0)
    request = core.request(clock(), {"type": "nonsense"}, "nonsense")
    clock.now += 4.9
    core.tick(clock())
    assert not request.done
    clock.now += 0.2
    core.tick(clock())
    assert isinstance(request.error, TimeoutError)


def test_requests_need_a_ready_connection():
    core, clock = make_core()
    with pytest.raises(TransportError):
        core.request(clock(), {"type": "ping"}, "ping")


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
    request = core.request(clock(), {"type": "ping"}, "ping")
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
    request = core.request(clock(), {"type": "ping"}, "ping")
    core.close()
    assert core.state == "closed" and core.close_wanted == (1000, "")
    assert subscription.status == "ended" and isinstance(request.error, TransportError)


def test_handshake_refusals_become_directus_errors():
    assert isinstance(_translate_connect_error(HandshakeError("x", 401), "ws://h"), AuthenticationError)
    assert isinstance(_translate_connect_error(HandshakeError("x", 403), "ws://h"), ForbiddenError)
    assert isinstance(_translate_connect_error(HandshakeError("x", 502), "ws://h"), ServerError)
    assert isinstance(_translate_connect_error(ConnectionRefusedError(111, "refused"), "ws://h"), TransportError)
    assert isinstance(_translate_connect_error(socket.timeout(), "ws://h"), TimeoutError)


# --- GraphQL ---------------------------------------------------------------------------------

def graphql_ready(token="tok"):
    clock = FakeClock()
    core = _GraphQLCore(clock, lambda: 0.5, where="ws://test/graphql")
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


# --- the sync driver against a loopback fake server -------------------------------------------

class FakeSocketPeer:
    """The server side of one WebSocket connection."""

    def __init__(self, sock, request):
        self.sock = sock
        self.request = request
        self.buffer = b""

    def send_json(self, message):
        self.sock.sendall(encode_frame(0x1, json.dumps(message).encode()))

    def send_raw(self, data):
        self.sock.sendall(data)

    def recv_frame(self, timeout=5.0):
        self.sock.settimeout(timeout)
        while True:
            if len(self.buffer) >= 2:
                length = self.buffer[1] & 0x7F
                offset = 2
                if length == 126:
                    length = struct.unpack("!H", self.buffer[2:4])[0]
                    offset = 4
                elif length == 127:
                    length = struct.unpack("!Q", self.buffer[2:10])[0]
                    offset = 10
                assert self.buffer[1] & 0x80, "a client frame must be masked"
                end = offset + 4 + length
                if len(self.buffer) >= end:
                    opcode = self.buffer[0] & 0x0F
                    payload = mask(self.buffer[offset:offset + 4], self.buffer[offset + 4:end])
                    self.buffer = self.buffer[end:]
                    return opcode, payload
            data = self.sock.recv(65536)
            if not data:
                return None, b""
            self.buffer += data

    def recv_json(self, timeout=5.0):
        while True:
            opcode, payload = self.recv_frame(timeout)
            if opcode is None or opcode == 0x8:
                return None
            if opcode == 0x1:
                return json.loads(payload)

    def drop(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class FakeDirectus:
    """A loopback WebSocket server; ``script(peer)`` runs in a thread per connection; TLS with
    ``tls_context``."""

    def __init__(self, script, status=101, tls_context=None):
        self.script = script
        self.status = status
        self.tls_context = tls_context
        self.requests = []
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.url = "%s://127.0.0.1:%d" % ("https" if tls_context else "http", self.listener.getsockname()[1])
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock):
        if self.tls_context is not None:
            try:
                sock = self.tls_context.wrap_socket(sock, server_side=True)
            except OSError:  # the client refused our certificate
                sock.close()
                return
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return
            data += chunk
        head = data.split(b"\r\n\r\n")[0].decode()
        self.requests.append(head)
        if self.status != 101:
            sock.sendall(b"HTTP/1.1 %d Refused\r\n\r\n" % self.status)
            sock.close()
            return
        key = [line.split(":", 1)[1].strip() for line in head.split("\r\n") if line.lower().startswith("sec-websocket-key")][0]
        sock.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Accept: %s\r\n\r\n" % accept_key(key)).encode())
        peer = FakeSocketPeer(sock, head)
        try:
            self.script(peer, len(self.requests))
        finally:
            peer.drop()

    def close(self):
        self.listener.close()


def static_client(url):
    return DirectusClient(hostname=url, static_token="static-token", proxies={})


def handshake(peer):
    auth = peer.recv_json()
    if auth is None:  # the client closed before authenticating (a test ending while it reconnects)
        return
    assert auth["type"] == "auth" and auth["access_token"] == "static-token"
    peer.send_json({"type": "auth", "status": "ok", "uid": auth["uid"]})


def test_driver_answers_pings_reconnects_and_resubscribes_once():
    pongs = []
    subscribes = []

    def script(peer, number):
        handshake(peer)
        subscribe = peer.recv_json()
        subscribes.append((number, subscribe))
        peer.send_json({"type": "subscription", "event": "init", "data": [{"id": number}], "uid": subscribe["uid"]})
        peer.send_json({"type": "ping"})
        pongs.append(peer.recv_json())
        if number == 1:
            return  # drop the connection without a close frame: 1006
        peer.send_json({"type": "subscription", "event": "create", "data": [{"id": 10}], "uid": subscribe["uid"]})
        assert peer.recv_json(timeout=10) is None  # until the client closes

    server = FakeDirectus(script)
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

    def script(peer, number):
        handshake(peer)
        while True:
            opcode, payload = peer.recv_frame(timeout=10)
            frames.append(opcode)
            if opcode in (None, 0x8):
                if opcode == 0x8:
                    peer.send_raw(encode_frame(0x8, payload[:2]))
                return

    server = FakeDirectus(script)
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
    connections = []

    def script(peer, number):
        connections.append(number)
        handshake(peer)
        peer.recv_json(timeout=10)  # never pings: the client must give up on this connection

    server = FakeDirectus(script)
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


# A self-signed certificate for 127.0.0.1, valid until 2126: the CA of its own wss:// test server.
TEST_CERTIFICATE = """\
-----BEGIN CERTIFICATE-----
MIIDJzCCAg+gAwIBAgIUAbcTNoYI8BKFL6p4GcLA7oZyYjMwDQYJKoZIhvcNAQEL
BQAwFDESMBAGA1UEAwwJMTI3LjAuMC4xMCAXDTI2MTEzMDA2MzgzN1oYDzIxMjYx
MTA2MDYzODM3WjAUMRIwEAYDVQQDDAkxMjcuMC4wLjEwggEiMA0GCSqGSIb3DQEB
AQUAA4IBDwAwggEKAoIBAQCboFlIqD8oF5XidKIZsmroDzZaBqvPU+mwSjImQH+v
c4+KBb3Q1AaVO+B+2nn7ICU0wn2AUICznW5fQD9jrne+i2MiFuJ7sVdHd58XNe0W
P0DC9WqgWgL4Tg02CQFlx9P/NUCYZWrsUR1XKNVV5314JQbLz/e5D7KvJM/ky3XG
Ufsy5X7OKjoOiKaHlYF/Xegrv/J642icaoSqy2+53OyI5dmEf9j/6OKlQ8Lz7Pfy
DeQUQ0wg3O/b1eDM8QUDBS9qMZMdHKHd4hUvWvxSCNTys4R7xeB0dM+bjkBYVQPO
p8GQDTYjH6ymPe/KOLu0KJNkY7VF24rDfJHZ+Y7lq2pBAgMBAAGjbzBtMB0GA1Ud
DgQWBBS9lxwwPXFksqaUsfYgPPrz2Pdt1TAfBgNVHSMEGDAWgBS9lxwwPXFksqaU
sfYgPPrz2Pdt1TAPBgNVHRMBAf8EBTADAQH/MBoGA1UdEQQTMBGHBH8AAAGCCWxv
Y2FsaG9zdDANBgkqhkiG9w0BAQsFAAOCAQEAQSKW1nKPSgCfFQnh/cE8/81mmAAp
9mXscaVjb8NwgNJbab8gp7KDCEs8EWo+6gHBR2e2ZBj8WQ+XMMqtybSzEoHa6wtR
CXf5OBUg3Pnm0/QbIO9i7s+zxRW1THzwWc28tjrJNPJDQKWSBXzrNZE/QTo6Z+A9
Lfrj0F5Mq2K3Oe9Fw/Kk5QZl7CbHwCJmGfA8Td9eOld7rsv6tpMDMM7f3EeP07eo
L964cgukFQd1oQBv1+vjtCx+zgtHG4VmIvNzwA+wtmZH4SK+AmVdGN824Ge/IQX7
d731c0j9KoWPrVHjMH1Ir99D9Bs4USNEyAzxnJDUxovAw5cWRIZdAYu0Rg==
-----END CERTIFICATE-----
"""
TEST_KEY = """\
-----BEGIN PRIVATE KEY-----
MIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQCboFlIqD8oF5Xi
dKIZsmroDzZaBqvPU+mwSjImQH+vc4+KBb3Q1AaVO+B+2nn7ICU0wn2AUICznW5f
QD9jrne+i2MiFuJ7sVdHd58XNe0WP0DC9WqgWgL4Tg02CQFlx9P/NUCYZWrsUR1X
KNVV5314JQbLz/e5D7KvJM/ky3XGUfsy5X7OKjoOiKaHlYF/Xegrv/J642icaoSq
y2+53OyI5dmEf9j/6OKlQ8Lz7PfyDeQUQ0wg3O/b1eDM8QUDBS9qMZMdHKHd4hUv
WvxSCNTys4R7xeB0dM+bjkBYVQPOp8GQDTYjH6ymPe/KOLu0KJNkY7VF24rDfJHZ
+Y7lq2pBAgMBAAECggEABfJZXwugyC8oiMv0or880wu7w7JkD8rQz+3x3yDRUDq9
9iP0hh2H991fHXHLPfOTQGIbKhNJa7OdE1Iw6eXxiOwqGFQgCOJ0p5Q0Vc53dgVq
O9jlX2W5HdRbsGAlN8asPOEDzB75+Dg8QweaKUtscbIWgaS7fkyRgxxIvmEg6bhK
bn5SiGqUyphdolKAz78+XJojH9tA2BOH6SWInHZVgxHNi2HgSeUdwUYalU9Cx3mH
qOtNawaKTZ6xoksCxQXLLFd4JURNxxWSaXT9/upsTmIdD0oGI3eafgaHOtEBaeaY
gVMoNjrAelWF7l0QdPB/f7ZXSfvQUabEqd3fMavQDQKBgQDZBL8FX7OXk8DhlVEB
hgzJpMt5CWhwsGArgIqtmErCn/MF7hBPKw+pJ+Etsbfxth4CAo+LGWbQA4nri2MC
pn6qmkvPRpPbbMRQ8diBmXFHS6R5AVzDTBjXydf6kBFnMTyhLO/8dOyYbUPpkPA9
Ztl0ore8RkqcjT/m/mZ5MOd4zQKBgQC3lJSe0mdHjpITvlkiy2/t6KhlGdV4IZGR
wTIWi3ugHm6IvTaOLIRpn79eMW6ySEZaStm43l7pNtSo3m592OcaQMQo0Dobh/Qi
pKpt2ZgEJw3gBDP2sik3hLvK0e0Nw2uLh0KV0szbbVeIwK6pSai6TDrvlftEFd+b
/t1SA+NHRQKBgQDI4qzUE5+RyxK7flVq3KRPr70twDiuP4X2HtnAEX36pMb4EUOF
lS28/o5hluXX2CX05Fvtfcj++pebsv4mwOn1kDhmmUVa01byOryYUupZ/bo0zL8K
hRFmBpBnfx6s8BXYeFl5zt4HxvUbarAHloHqhokfvc1pFxM1Bv7iZhOObQKBgQCS
MXKBYBD7PSA7NNSLDvMdxK+Fg6MpvaHNLssShRV4F4PyxKuTYQQ5kQu2mSsMMt5D
vWPRAtUWZ6HGsQvQkFDJ6VXNIrWDgyr6A6PtQuD6PZehE/fFt293VO6vv6lF0p/s
R1TRN0QIYfTZZIgzLAOACIDOluO3/qtJ8RaS36G4+QKBgQCZyspazgW1djqQ2i+g
j+hQ8ggEvfsmiTr0AZN94lNHaVKIfNQDd2r79bHIFEEuiE4Y1bB3juOG89CD4T09
6P7wJjflu97BuzQjZckYidisr/tYFXfjeGSu9yqyvjiaZd4bzZ93kgmCn4Rn1Z8S
450BeteOFT2IjR38vs0TSkAjEA==
-----END PRIVATE KEY-----
"""


def test_wss_uses_the_clients_tls_settings(tmp_path):
    import ssl
    (tmp_path / "cert.pem").write_text(TEST_CERTIFICATE)
    (tmp_path / "key.pem").write_text(TEST_KEY)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))

    def script(peer, number):
        handshake(peer)
        subscribe = peer.recv_json()
        peer.send_json({"type": "subscription", "event": "init", "data": [{"id": 1}], "uid": subscribe["uid"]})
        peer.recv_json(timeout=10)

    server = FakeDirectus(script, tls_context=server_context)
    try:
        trusted = DirectusClient(hostname=server.url, static_token="static-token", proxies={},
                                 ssl_verify=str(tmp_path / "cert.pem"))
        with trusted, trusted.realtime(path="/websocket", auth="handshake", heartbeat=30) as rt:
            assert next(iter(rt.subscribe("articles"))).data[0]["id"] == 1
        untrusted = DirectusClient(hostname=server.url, static_token="static-token", proxies={})
        with untrusted, pytest.raises(TransportError, match="(?i)certificate"):
            untrusted.realtime(path="/websocket", auth="handshake", heartbeat=30).connect()
    finally:
        server.close()


# --- tokens: never the socket's business to spend the refresh token ------------------------------

class FakeAuthTransport:
    """Answers /auth/login and /auth/refresh with a new token each time."""

    def __init__(self):
        self.paths = []

    def send(self, request):
        path = request.url.split("//", 1)[1].split("/", 1)[1]
        self.paths.append(path)
        number = len(self.paths)
        body = json.dumps({"data": {"access_token": jwt(900, iat=number), "refresh_token": "r%d" % number,
                                    "expires": 900000}}).encode()
        return Response(200, {"Content-Type": "application/json"}, body, None, request.method, request.url)

    def close(self):
        pass


def test_a_token_the_socket_already_used_is_renewed_through_the_rest_session():
    transport = FakeAuthTransport()
    client = DirectusClient(hostname="http://127.0.0.1:1", username="a@b.c", password="pw", transport=transport)
    token, expires_at = client._access_token()
    assert transport.paths == ["auth/login"]
    # the REST manager still finds it usable, but the socket needs another one now
    renewed, renewed_expiry = _renewed_access_token(client, token)
    assert renewed != token and transport.paths == ["auth/login", "auth/refresh"]
    assert client.tokens.refreshes == 1 and client.tokens.access_token == renewed
    # a token other than the stale one is taken as it is
    assert _renewed_access_token(client, "older") == (renewed, renewed_expiry)
    assert transport.paths == ["auth/login", "auth/refresh"]
    static = DirectusClient(hostname="http://127.0.0.1:1", static_token="s", transport=transport)
    assert _renewed_access_token(static, "s") == ("s", None)
