"""The asyncio realtime client against the loopback fake WebSocket server of the sync tests: the
same protocol cores, driven by ``_AsyncConnection`` on asyncio streams. Each test runs its own
event loop and checks that closing (or cancelling) leaves no task of ours running."""

import asyncio
import json
import time

import pytest

from pydirectus import AuthenticationError, ForbiddenError, TimeoutError, TransportError
from pydirectus.async_client import AsyncDirectusClient
from pydirectus._async.realtime import AsyncRealtime, AsyncSubscription
from pydirectus._core.records import Response
from tests.fakerealtime import (FakeAuthTransport, FakeDirectus, answer_subscribes, handshake, jwt, never_pings,
                                ping_then_drop, record_frames, tls_server_context)
from tests.integration.test_realtime import Relay  # a CONNECT proxy on loopback

SETTINGS = dict(path="/websocket", auth="handshake", heartbeat=30)


def static_client(url, **kwargs):
    kwargs.setdefault("proxies", {})
    return AsyncDirectusClient(hostname=url, static_token="static-token", **kwargs)


def run(test):
    """Run ``test()`` in a fresh event loop; no other task may be left when it returns."""
    async def checked():
        await asyncio.wait_for(test(), 30)
        leftover = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        assert leftover == [], leftover
    asyncio.run(checked())


@pytest.fixture
def fake():
    servers = []

    def start(script, **kwargs):
        servers.append(FakeDirectus(script, **kwargs))
        return servers[-1]
    yield start
    for server in servers:
        server.close()


# --- the connection's life ------------------------------------------------------------------------

def test_pings_answered_reconnect_and_one_resubscribe_after_a_marker(fake):
    pongs, subscribes = [], []
    server = fake(ping_then_drop(pongs, subscribes))

    async def test():
        async with static_client(server.url) as client, client.realtime(random=lambda: 0.0, **SETTINGS) as rt:
            assert isinstance(rt, AsyncRealtime) and rt.connected
            subscription = rt.subscribe("articles")
            assert isinstance(subscription, AsyncSubscription)
            events = []
            async for event in subscription:
                events.append(event)
                if event.type == "create":
                    break
            assert [event.type for event in events] == ["init", "reconnected", "init", "create"]
            assert [event.data[0]["id"] for event in events if event.type == "init"] == [1, 2]
            assert [number for number, _ in subscribes] == [1, 2] and subscribes[0][1] == subscribes[1][1]
            assert pongs == [{"type": "pong"}, {"type": "pong"}]
            assert rt.stats["connections_opened"] == 2 and rt.stats["disconnects"] == 1
        assert not rt.connected
    run(test)
    assert all(head.startswith("GET /websocket HTTP/1.1") and "origin" not in head.lower()
               for head in server.requests)


def test_no_ping_frames_and_a_clean_close_handshake(fake):
    frames = []
    server = fake(record_frames(frames))

    async def test():
        async with static_client(server.url) as client:
            rt = await client.realtime(**SETTINGS).connect()
            await asyncio.sleep(0.3)
            await rt.aclose()
            assert not rt.connected
    run(test)
    assert frames == [0x8]  # no ping frame (0x9), only our close


def test_subscribe_before_connecting_opens_the_connection_in_the_background(fake):
    server = fake(answer_subscribes)

    async def test():
        async with static_client(server.url) as client:
            rt = client.realtime(**SETTINGS)
            first, second = rt.subscribe("articles"), rt.subscribe("articles", event="create")
            assert not rt.connected  # nothing sent yet: no await happened
            assert (await first.get(5)).type == "init" and (await second.get(5)).type == "init"
            assert rt.stats["subscribes_sent"] == 2
            await rt.aclose()
            assert await first.get(1) is None  # ended by the close
    run(test)


def test_a_refused_first_upgrade_raises_without_retrying(fake):
    server = fake(lambda peer, number: None, status=401)

    async def test():
        async with static_client(server.url) as client:
            with pytest.raises(AuthenticationError) as caught:
                await client.realtime(path="/websocket", auth="strict", heartbeat=False).connect()
            assert caught.value.status == 401
            lazy = client.realtime(path="/websocket", auth="strict", heartbeat=False)
            with pytest.raises(AuthenticationError):  # a subscription raises what stopped the connection
                await lazy.subscribe("articles").get(5)
            with pytest.raises(AuthenticationError):
                lazy.subscribe("articles")
            await lazy.aclose()
    run(test)
    assert len(server.requests) == 2  # one per realtime object, never a retry loop
    assert "access_token=static-token" in server.requests[0].split("\r\n")[0]


def test_a_silent_server_is_left_and_reconnected(fake):
    connections = []
    server = fake(never_pings(connections))  # the client must give up on this connection

    async def test():
        async with static_client(server.url) as client:
            async with client.realtime(path="/websocket", auth="handshake", heartbeat=0.1, random=lambda: 0.0) as rt:
                deadline = time.monotonic() + 15
                while rt.stats.get("silence_timeouts", 0) < 1 and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                assert rt.stats["silence_timeouts"] >= 1  # after 2 x 0.1 + 5 s, with no message to wake it
                while len(connections) < 2 and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                assert len(connections) >= 2
    run(test)


# --- cancellation --------------------------------------------------------------------------------

def test_cancelling_a_reader_and_the_realtime_task_leaves_nothing_running(fake):
    closes = []

    def script(peer, number):
        handshake(peer)
        subscribe = peer.recv_json()
        peer.send_json({"type": "subscription", "event": "init", "uid": subscribe["uid"]})
        while True:
            opcode, payload = peer.recv_frame(timeout=10)
            if opcode in (None, 0x8):
                closes.append(opcode)
                return

    server = fake(script)

    async def test():
        async with static_client(server.url) as client:
            seen = []

            async def consume():
                async with client.realtime(**SETTINGS) as rt:
                    async for event in rt.subscribe("articles"):
                        seen.append(event.type)

            task = asyncio.get_running_loop().create_task(consume())
            while not seen:
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert seen == ["init"]
    run(test)
    assert closes == [0x8]  # the cancelled `async with` still said goodbye


def test_cancelling_connect_abandons_the_attempt(fake):
    def script(peer, number):
        while peer.recv_json(timeout=10) is not None:  # never answers the authentication
            pass

    server = fake(script)

    async def test():
        async with static_client(server.url) as client:
            rt = client.realtime(**SETTINGS)
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(rt.connect(), 0.5)
            with pytest.raises(TransportError, match="cancelled"):
                await rt.connect()
            await rt.aclose()
    run(test)


# --- subscriptions and requests ----------------------------------------------------------------------

def test_a_refused_subscription_raises_alone_and_items_replies_find_their_callers(fake):
    def script(peer, number):
        handshake(peer)
        while True:
            message = peer.recv_json(timeout=10)
            if message is None:
                return
            if message["type"] == "subscribe" and message["collection"] == "nope":
                peer.send_json({"type": "subscribe", "status": "error", "uid": message["uid"],
                                "error": {"code": "FORBIDDEN", "message": "You don't have permission"}})
            elif message["type"] == "subscribe":
                peer.send_json({"type": "subscription", "event": "init", "data": [], "uid": message["uid"]})
            elif message["type"] == "items":
                pending.append(message)
                if len(pending) == 3:  # answered in reverse order: each reply carries its uid
                    for request in reversed(pending):
                        if request["action"] == "read":
                            peer.send_json({"type": "items", "uid": request["uid"],
                                            "data": {"id": request["id"], "title": "t%d" % request["id"]}})
                        else:
                            peer.send_json({"type": "items", "uid": request["uid"], "status": "error",
                                            "error": {"code": "FORBIDDEN", "message": "no"}})
            # anything else is ignored, as Directus ignores unknown types

    pending = []
    server = fake(script)

    async def test():
        async with static_client(server.url) as client, client.realtime(**SETTINGS) as rt:
            healthy, broken = rt.subscribe("articles"), rt.subscribe("nope")
            with pytest.raises(ForbiddenError):
                await broken.get(5)
            assert await broken.get(0.1) is None  # raised once, then over
            assert (await healthy.get(5)).type == "init"
            results = await asyncio.gather(rt.items.read("articles", 1), rt.items.read("articles", 2),
                                           rt.items.delete("articles", 3), return_exceptions=True)
            assert [item.title for item in results[:2]] == ["t1", "t2"]
            assert isinstance(results[2], ForbiddenError)
            with pytest.raises(ValueError):
                await rt.items.update("articles", {"title": "x"})  # no id, ids or query: nothing sent
            with pytest.raises(TimeoutError):
                await rt.send({"type": "no-such-type"}, timeout=0.3)
            assert rt.connected and rt.stats.get("disconnects", 0) == 0
    run(test)


def test_graphql_subscription_on_its_own_socket(fake):
    def script(peer, number):
        init = peer.recv_json()
        assert init == {"type": "connection_init", "payload": {"access_token": "static-token"}}
        peer.send_json({"type": "connection_ack"})
        subscribe = peer.recv_json()
        peer.send_json({"id": subscribe["id"], "type": "next", "payload": {"data": {"a_mutated": {"key": "1"}}}})
        peer.send_json({"id": subscribe["id"], "type": "complete"})
        peer.recv_json(timeout=10)

    server = fake(script)

    async def test():
        async with static_client(server.url) as client:
            rt = client.realtime(graphql_path="/graphql", **SETTINGS)
            events = [event async for event in rt.graphql.subscribe("subscription { a_mutated { key } }")]
            assert [(event.type, event.data) for event in events] == [("next", {"a_mutated": {"key": "1"}})]
            assert not rt.connected and rt.graphql.connected  # only the GraphQL socket was opened
            await rt.aclose()
    run(test)
    assert len(server.requests) == 1 and server.requests[0].startswith("GET /graphql HTTP/1.1")
    assert "sec-websocket-protocol: graphql-transport-ws" in server.requests[0].lower()


# --- transport: TLS and CONNECT proxies ---------------------------------------------------------

@pytest.mark.parametrize("tls", [False, True], ids=["ws", "wss"])
def test_through_a_connect_proxy(fake, tmp_path, tls):
    context, ca_file = tls_server_context(tmp_path) if tls else (None, None)
    server = fake(answer_subscribes, tls_context=context)
    proxy = Relay()

    async def test():
        scheme = "https" if tls else "http"
        async with static_client(server.url, proxies={scheme: "http://127.0.0.1:%d" % proxy.port}, ssl_verify=ca_file or True) as client, \
                client.realtime(**SETTINGS) as rt:
            assert (await rt.subscribe("articles").get(5)).type == "init"
    try:
        run(test)
    finally:
        proxy.close()
    port = server.url.rsplit(":", 1)[1]
    assert proxy.heads == ["CONNECT 127.0.0.1:%s HTTP/1.1" % port]


def test_wss_uses_the_clients_tls_settings(fake, tmp_path):
    context, ca_file = tls_server_context(tmp_path)
    server = fake(answer_subscribes, tls_context=context)

    async def test():
        async with static_client(server.url, ssl_verify=ca_file) as client, client.realtime(**SETTINGS) as rt:
            assert (await rt.subscribe("articles").get(5)).data[0]["id"] == 1
        async with static_client(server.url) as untrusted:
            with pytest.raises(TransportError, match="(?i)certificate"):
                await untrusted.realtime(**SETTINGS).connect()
    run(test)


# --- tokens ------------------------------------------------------------------------------------------

class AsyncFakeAuthTransport(FakeAuthTransport):
    """The sync fake's answers, awaited; tokens live ``lifetime`` seconds."""

    proxies = {}
    connect_timeout = 5.0

    def __init__(self, lifetime):
        super().__init__()
        self.lifetime = lifetime

    async def send(self, request):
        response = super().send(request)
        body = json.loads(response.body)
        body["data"].update(access_token=jwt(self.lifetime, iat=len(self.paths)), expires=self.lifetime * 1000)
        return Response(200, response.headers, json.dumps(body).encode(), None, request.method, request.url)

    async def aclose(self):
        pass


def test_tokens_are_changed_on_the_socket_before_they_expire(fake):
    tokens = []

    def script(peer, number):
        while True:
            message = peer.recv_json(timeout=10)
            if message is None:
                return
            if message["type"] == "auth":
                tokens.append(message["access_token"])
                peer.send_json({"type": "auth", "status": "ok", "uid": message["uid"]})

    server = fake(script)
    transport = AsyncFakeAuthTransport(lifetime=2)

    async def test():
        client = AsyncDirectusClient(hostname=server.url, username="a@b.c", password="pw", transport=transport)
        async with client, client.realtime(**SETTINGS) as rt:
            deadline = time.monotonic() + 10
            while rt.stats.get("reauths", 0) < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert rt.stats["reauths"] >= 2 and rt.stats.get("disconnects", 0) == 0
    run(test)
    assert len(set(tokens)) == len(tokens) >= 3  # a new token each time, none sent twice
    assert transport.paths[0] == "auth/login" and set(transport.paths[1:]) == {"auth/refresh"}


def socket_token(rt, stale=None):
    """What a connection of ``rt`` awaits for a token: its plan's token flow, on the client's runner."""
    return rt._runner.run(rt._plan.token_flow(stale))


def test_the_access_token_is_renewed_through_the_rest_session():
    transport = AsyncFakeAuthTransport(lifetime=900)

    async def test():
        client = AsyncDirectusClient(hostname="http://127.0.0.1:1", username="a@b.c", password="pw",
                                     transport=transport)
        rt = client.realtime()
        token, _ = await socket_token(rt)
        assert transport.paths == ["auth/login"] and await socket_token(rt) == (token, client.tokens.expires_at)
        renewed, _ = await socket_token(rt, token)
        assert renewed != token and transport.paths == ["auth/login", "auth/refresh"]
        static = AsyncDirectusClient(hostname="http://127.0.0.1:1", static_token="s", transport=transport)
        assert await socket_token(static.realtime()) == ("s", None)
    run(test)
