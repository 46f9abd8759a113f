"""The async transport, runner and client against scripted servers on loopback: framing, integrity,
timeouts, the pool's bound, cancellation, streaming, proxies; and the flows shared with the sync client.

Each test runs its coroutine with asyncio.run: pytest is the only test dependency.
"""

import asyncio
import inspect
import socket
import time

import pytest

import pydirectus
from pydirectus import DirectusClient
from pydirectus.async_client import AsyncDirectusClient
from pydirectus._async.transport import AsyncHTTPTransport
from pydirectus._core.records import Request
from tests.loopback import LoopbackServer
from tests.fakeserver import FakeServer, reply

ITEMS = {"data": [{"id": 1, "title": "a"}], "meta": {"total_count": 1}}
TOKENS = {"data": {"access_token": "A1", "refresh_token": "R1", "expires": 900000}}


def run(coroutine):
    return asyncio.run(coroutine)


def client_for(server, **kwargs):
    kwargs.setdefault("static_token", "tok")
    return AsyncDirectusClient(hostname=server.url, proxies={}, **kwargs)


def raw(status_line, headers, body=b""):
    return ("%s\r\n%s\r\n" % (status_line, "".join("%s: %s\r\n" % item for item in headers))).encode() + body


# --------------------------------------------------------------------------- framing and keep-alive

def test_keep_alive_reuses_one_connection_and_sends_the_headers():
    async def main():
        async with client_for(server) as client:
            for _ in range(20):
                items = await client.read_items("articles")
            created = await client.create_item("articles", {"title": "x"})
            return items, created, client.transport.stats()
    with FakeServer(lambda seen: reply(200, ITEMS if seen.method == "GET" else {"data": {"id": 2}})) as server:
        items, created, stats = run(main())
    assert server.connections == 1 and len(server.requests) == 21
    assert items.total_count == 1 and items[0].title == "a" and created.id == 2
    seen = server.requests[-1]
    assert seen.headers["host"] == "127.0.0.1:%d" % server.port
    assert seen.headers["authorization"] == "Bearer tok" and seen.headers["content-length"] == "13"
    assert seen.headers["user-agent"].startswith("pydirectus/") and seen.json() == {"title": "x"}
    assert stats == {"opened": 1, "open": 1, "idle": 1, "peak_open": 1, "waiting": 0}


def test_connection_close_and_http_1_0_are_not_reused():
    def handler(seen):
        if seen.connection % 3 == 1:
            return reply(200, ITEMS, headers={"Connection": "close"})
        if seen.connection % 3 == 2:
            return reply(200, ITEMS).replace(b"HTTP/1.1", b"HTTP/1.0")
        return reply(200, ITEMS)

    async def main():
        async with client_for(server) as client:
            for _ in range(5):
                await client.read_items("a")
    with FakeServer(handler) as server:
        run(main())
    assert len(server.requests) == 5 and server.connections == 3


def test_chunked_answer_with_extensions_and_trailers():
    body = b'{"data": [{"id": 1}, {"id": 2}]}'
    framed = b"5;ext=1\r\n" + body[:5] + b"\r\n" + b"%x\r\n" % (len(body) - 5) + body[5:] + b"\r\n0\r\nX-T: 1\r\n\r\n"
    answer = raw("HTTP/1.1 200 OK", [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")], framed)

    async def main():
        async with client_for(server) as client:
            first = await client.read_items("a")
            second = await client.read_items("a")  # the same connection: the framing was read exactly
            return first, second
    with FakeServer(lambda seen: answer) as server:
        first, second = run(main())
    assert [item.id for item in first] == [1, 2] == [item.id for item in second]
    assert server.connections == 1


def test_broken_chunked_answer_raises():
    answer = raw("HTTP/1.1 200 OK", [("Transfer-Encoding", "chunked")], b"zz\r\nabc\r\n0\r\n\r\n")
    transport = AsyncHTTPTransport(proxies={})
    with FakeServer(lambda seen: answer) as server:
        with pytest.raises(pydirectus.TransportError, match="chunk size") as caught:
            run(transport.send(Request("GET", server.url + "/")))
    assert caught.value.may_have_been_processed


def test_head_204_304_have_no_body_and_the_connection_goes_on():
    answers = {"HEAD": raw("HTTP/1.1 200 OK", [("Content-Length", "50")]),
               "DELETE": raw("HTTP/1.1 204 No Content", []),
               "GET": raw("HTTP/1.1 304 Not Modified", [("Content-Length", "7")])}

    async def main():
        transport = AsyncHTTPTransport(proxies={})
        statuses = []
        for method in ("HEAD", "DELETE", "GET", "HEAD"):
            response = await transport.send(Request(method, server.url + "/x"))
            statuses.append((response.status, response.body))
        await transport.aclose()
        return statuses
    with FakeServer(lambda seen: answers[seen.method]) as server:
        assert run(main()) == [(200, b""), (204, b""), (304, b""), (200, b"")]
    assert server.connections == 1


def test_body_until_the_connection_closes():
    def handler(seen):
        def send(conn):
            conn.sendall(raw("HTTP/1.1 200 OK", [("Content-Type", "text/plain")], b"all of it"))
        return send  # the fake server closes the connection after it
    with FakeServer(handler) as server:
        response = run(AsyncHTTPTransport(proxies={}).send(Request("GET", server.url + "/")))
    assert response.body == b"all of it" and response.headers.get("content-type") == "text/plain"


def test_body_shorter_than_content_length_raises():
    def handler(seen):
        return lambda conn: conn.sendall(reply(200, b'{"data": [1, 2', length=100))

    async def main():
        async with client_for(server, retries=0) as client:
            await client.read_items("a")
    with FakeServer(handler) as server:
        with pytest.raises(pydirectus.TransportError, match="cut short: 14 bytes read, 86 more") as caught:
            run(main())
    assert caught.value.may_have_been_processed


def test_buffered_body_cap_for_known_and_chunked_lengths():
    chunked = raw("HTTP/1.1 200 OK", [("Transfer-Encoding", "chunked")], b"6\r\nxxxxxx\r\n6\r\nxxxxxx\r\n0\r\n\r\n")
    answers = iter([reply(200, b"x" * 11), chunked])
    transport = AsyncHTTPTransport(proxies={}, max_body_size=10)
    with FakeServer(lambda seen: next(answers)) as server:
        for _ in range(2):
            with pytest.raises(pydirectus.TransportError, match="max_body_size"):
                run(transport.send(Request("GET", server.url + "/")))


def test_headers_are_case_insensitive():
    answer = raw("HTTP/1.1 429 Too Many", [("content-type", "application/json"), ("retry-after", "0"),
                                           ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"),
                                           ("Content-Length", "0")])
    with FakeServer(lambda seen: answer) as server:
        response = run(AsyncHTTPTransport(proxies={}).send(Request("GET", server.url + "/")))
    assert response.status == 429 and response.headers.get("Retry-After") == "0"
    assert response.headers["CONTENT-TYPE"] == "application/json" and "content-type" in response.headers
    assert response.headers.get_all("set-cookie") == ["a=1", "b=2"]


# --------------------------------------------------------------------------- failures and retries

def test_truncated_get_is_retried_then_succeeds_and_a_lost_post_is_not_resent():
    def handler(seen):
        if seen.method == "POST":
            return None
        if len([s for s in server.requests if s.method == "GET"]) == 1:
            return lambda conn: conn.sendall(reply(200, b'{"da', length=50))
        return reply(200, ITEMS)

    async def main():
        async with client_for(server, retries=2, sleep=no_sleep) as client:
            assert (await client.read_items("a"))[0].id == 1
            with pytest.raises(pydirectus.TransportError) as caught:
                await client.create_item("a", {"title": "once"})
            return caught.value
    with FakeServer(handler) as server:
        error = run(main())
    assert error.may_have_been_processed
    assert [seen.method for seen in server.requests] == ["GET", "GET", "POST"]


async def no_sleep(seconds):
    pass


def test_connection_refused_is_not_processed():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    async def main():
        async with AsyncDirectusClient(hostname="http://127.0.0.1:%d" % port, retries=0, proxies={}) as client:
            await client.create_item("a", {})
    with pytest.raises(pydirectus.TransportError, match="cannot connect") as caught:
        run(main())
    assert not caught.value.may_have_been_processed


def test_read_timeout():
    async def main():
        async with client_for(server, read_timeout=0.3, retries=0) as client:
            started = time.monotonic()
            with pytest.raises(pydirectus.TimeoutError, match="read timed out") as caught:
                await client.read_items("a")
            assert time.monotonic() - started < 1.2 and caught.value.may_have_been_processed
            assert client.transport.stats()["open"] == 0
    with FakeServer(lambda seen: lambda conn: time.sleep(1.5)) as server:
        run(main())


def test_read_timeout_counts_quiet_time_not_the_whole_exchange_on_a_reused_connection():
    # the watchdog outlives each exchange: it must neither fire for a slow but progressing answer
    # nor miss a stall that comes after fast answers on the same connection
    def trickle(conn):  # the head after 0.25 s, the body 0.25 s later
        time.sleep(0.25)
        conn.sendall(raw("HTTP/1.1 200 OK", [("Content-Type", "application/json"), ("Content-Length", "19"),
                                             ("Connection", "close")]))
        time.sleep(0.25)
        conn.sendall(b'{"data": {"id": 1}}')
    answers = [reply(200, ITEMS), reply(200, ITEMS)]

    def handler(seen):
        if answers:
            return answers.pop()
        if seen.target.endswith("/slow"):
            return trickle
        return lambda conn: time.sleep(1.5)

    async def main():
        async with client_for(server, read_timeout=0.35, retries=0) as client:
            await client.read_items("a")
            await asyncio.sleep(0.5)  # past the watchdog's first turn: it must not fire while idle
            await client.read_items("a")
            assert (await client.request("GET", "/slow")) == {"id": 1}  # 0.5 s in all, never 0.35 s quiet
            started = time.monotonic()
            with pytest.raises(pydirectus.TimeoutError, match="read timed out"):
                await client.read_items("a")
            assert time.monotonic() - started < 1.2
    with FakeServer(handler) as server:
        run(main())


def test_non_json_error_page_maps_like_the_sync_client():
    page = b"<html><h1>502 Bad Gateway</h1></html>"

    async def main():
        async with client_for(server, retries=0) as client:
            await client.read_items("a")
    with FakeServer(lambda seen: reply(502, page, content_type="text/html")) as server:
        with pytest.raises(pydirectus.ServerError, match="502 Bad Gateway") as caught:
            run(main())
    assert caught.value.status == 502 and caught.value.body == page


# --------------------------------------------------------------------------- the pool and cancellation

def test_concurrent_requests_stay_within_max_connections():
    def handler(seen):
        time.sleep(0.01)
        return reply(200, {"data": {"path": seen.target}})

    async def main():
        async with client_for(server, max_connections=3) as client:
            items = await asyncio.gather(*[client.read_item("c", str(n)) for n in range(60)])
            return [item["path"] for item in items], client.transport.stats()
    with FakeServer(handler) as server:
        paths, stats = run(main())
    assert paths == ["/items/c/%d" % n for n in range(60)]
    assert server.connections <= 3 and stats["peak_open"] <= 3 and stats["opened"] == server.connections
    assert stats["open"] == stats["idle"] == server.connections and stats["waiting"] == 0


def test_cancelling_a_request_closes_its_connection_and_frees_its_place():
    def handler(seen):
        if seen.target.endswith("/slow"):
            return lambda conn: time.sleep(2)
        return reply(200, ITEMS)

    async def main():
        async with client_for(server, max_connections=1, retries=0) as client:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(client.read_items("slow"), 0.2)
            # a waiter cancelled while queued for the single connection leaves no trace either
            blocker = asyncio.ensure_future(client.read_items("slow"))
            await asyncio.sleep(0.05)
            queued = asyncio.ensure_future(client.read_items("a"))
            await asyncio.sleep(0.05)
            assert client.transport.stats()["waiting"] == 1
            queued.cancel()
            blocker.cancel()
            for task in (queued, blocker):
                with pytest.raises(asyncio.CancelledError):
                    await task
            stats = client.transport.stats()
            assert stats["open"] == 0 and stats["waiting"] == 0
            assert (await client.read_items("a"))[0].id == 1  # the pool is healthy
    with FakeServer(handler) as server:
        run(main())
    assert server.connections == 3  # two slow ones closed by the cancellations, one new


def test_a_client_can_be_used_by_successive_event_loops():
    with FakeServer(lambda seen: reply(200, ITEMS)) as server:
        client = client_for(server)
        for _ in range(3):
            assert run(client.read_items("a"))[0].id == 1
        run(client.aclose())
    assert server.connections == 3


# --------------------------------------------------------------------------- streamed bodies

def test_streamed_request_bodies_chunked_or_with_length():
    async def chunks():
        for part in (b"as", b"", b"ync"):
            yield part

    async def main():
        transport = AsyncHTTPTransport(proxies={})
        url = server.url + "/upload"
        await transport.send(Request("POST", url, {}, iter([b"one,", memoryview(b"two,"), b"three"])))
        await transport.send(Request("POST", url, {"Content-Length": "6"}, iter([b"sev", b"en!"])))
        await transport.send(Request("PUT", url, {}, chunks()))
        await transport.send(Request("POST", url, {}, None))
        await transport.aclose()
    with FakeServer(lambda seen: reply(200, {})) as server:
        run(main())
    first, second, third, fourth = server.requests
    assert first.body == b"one,two,three" and first.headers["transfer-encoding"] == "chunked"
    assert second.body == b"seven!"
    assert "transfer-encoding" not in second.headers and second.headers["content-length"] == "6"
    assert third.body == b"async" and fourth.headers["content-length"] == "0"
    assert server.connections == 1


def test_streamed_response_read_iterate_and_close_early():
    body = b"0123456789" * 20000

    async def main():
        transport = AsyncHTTPTransport(proxies={}, max_connections=1)
        response = await transport.send(Request("GET", server.url + "/big", stream=True))
        assert response.body is None and await response.stream.read(5) == b"01234"
        rest = b"".join([chunk async for chunk in response.stream])
        assert b"01234" + rest == body and await response.stream.read(3) == b""
        assert transport.stats() == dict(transport.stats(), open=1, idle=1)  # back in the pool
        async with (await transport.send(Request("GET", server.url + "/big", stream=True))).stream as stream:
            assert len(await stream.read(100)) == 100
        assert transport.stats()["open"] == 0  # closed early: the connection went with it
        whole = await transport.send(Request("GET", server.url + "/big", stream=True))
        assert await whole.stream.read() == body
        stats = transport.stats()
        await transport.aclose()
        return stats
    with FakeServer(lambda seen: reply(200, body, content_type="application/octet-stream")) as server:
        stats = run(main())
    assert server.connections == 2 and stats["idle"] == 1


def test_streamed_download_through_a_generated_method():
    async def main():
        async with client_for(server) as client:
            stream = await client.stream_asset("abc")
            return b"".join([chunk async for chunk in stream])
    with FakeServer(lambda seen: reply(200, b"image bytes", content_type="image/png")) as server:
        assert run(main()) == b"image bytes"


# --------------------------------------------------------------------------- proxies

def test_http_proxy_gets_absolute_targets_and_credentials(monkeypatch):
    with FakeServer(lambda seen: reply(200, ITEMS)) as proxy:
        monkeypatch.setenv("http_proxy", "http://user:p%%40ss@127.0.0.1:%d" % proxy.port)
        monkeypatch.setenv("no_proxy", "bypassed.example")

        async def main():
            async with AsyncDirectusClient(hostname="http://directus.example:8055/base", static_token="t") as client:
                await client.read_items("a")
                assert client.transport._route("http", "bypassed.example")[0].key[3] is None
        run(main())
    seen = proxy.requests[0]
    assert seen.target == "http://directus.example:8055/base/items/a"
    assert seen.headers["host"] == "directus.example:8055"
    assert seen.headers["proxy-authorization"] == "Basic dXNlcjpwQHNz"  # user:p@ss


def test_https_proxy_tunnel_refused_is_a_connect_failure():
    with FakeServer(lambda seen: reply(407, b"", headers={"Connection": "close"})) as proxy:
        async def main():
            async with AsyncDirectusClient(hostname="https://directus.example", static_token="t", retries=0,
                                           proxies={"https": proxy.url}) as client:
                await client.read_items("a")
        with pytest.raises(pydirectus.TransportError, match="refused to tunnel") as caught:
            run(main())
    assert not caught.value.may_have_been_processed
    assert proxy.requests[0].method == "CONNECT" and proxy.requests[0].target == "directus.example:443"


def test_tls_is_verified_by_default():
    import ssl
    client = AsyncDirectusClient(hostname="https://directus.example", static_token="t")
    context = client.transport.ssl_context
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    insecure = AsyncDirectusClient(hostname="https://directus.example", static_token="t", ssl_verify=False)
    assert insecure.transport.ssl_context.verify_mode == ssl.CERT_NONE


# --------------------------------------------------------------------------- authentication

def password_server(refresh=None):
    """A fake Directus: login and refresh answer tokens (``refresh(seen)`` may script the refresh),
    reads need the latest access token."""
    state = {"access": None, "n": 0}

    def handler(seen):
        if seen.target.endswith("/auth/logout"):
            return reply(204, b"", content_type=None)
        if seen.target.endswith("/auth/login") or seen.target.endswith("/auth/refresh"):
            if seen.target.endswith("/auth/refresh") and refresh is not None:
                scripted = refresh(seen)
                if scripted is not None:
                    return scripted
            state["n"] += 1
            state["access"] = "A%d" % state["n"]
            return reply(200, {"data": {"access_token": state["access"], "refresh_token": "R%d" % state["n"],
                                        "expires": 900000}})
        if seen.headers.get("authorization") != "Bearer %s" % state["access"]:
            return reply(401, {"errors": [{"message": "expired", "extensions": {"code": "TOKEN_EXPIRED"}}]})
        return reply(200, ITEMS)
    return handler


def test_concurrent_calls_share_one_refresh():
    async def main():
        async with client_for(server, static_token=None, username="a@b.c", password="pw") as client:
            await client.read_items("a")
            client.tokens.refresh_at = 0.0  # every task sees the token about to expire
            await asyncio.gather(*[client.read_items("a") for _ in range(20)])
            return client.tokens
    with FakeServer(password_server()) as server:
        tokens = run(main())
    assert tokens.logins == 1 and tokens.refreshes == 1
    assert [seen.target for seen in server.requests].count("/auth/refresh") == 1


def test_a_refresh_cancelled_in_flight_leaves_no_half_state_and_the_next_call_logs_in():
    def slow_refresh(seen):
        return lambda conn: time.sleep(1.5)  # never answers in time

    async def main():
        async with client_for(server, static_token=None, username="a@b.c", password="pw") as client:
            await client.read_items("a")
            tokens = client.tokens
            generation = tokens.generation
            tokens.refresh_at = 0.0
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(client.read_items("a"), 0.3)
            # the spent refresh token is gone; nothing else changed; the lock is free
            assert tokens.refresh_token is None and tokens.generation == generation
            assert not client._runner.auth_lock.locked()
            assert (await client.read_items("a"))[0].id == 1
            return tokens
    with FakeServer(password_server(slow_refresh)) as server:
        tokens = run(main())
    assert [seen.target.split("?")[0] for seen in server.requests] == [
        "/auth/login", "/items/a", "/auth/refresh", "/auth/login", "/items/a"]
    assert tokens.logins == 2 and tokens.refreshes == 0


def test_expired_token_is_refreshed_and_replayed_and_logout():
    async def main():
        async with client_for(server, static_token=None, username="a@b.c", password="pw") as client:
            await client.login()
            server.handler = password_server()  # the server forgot the token: 401 TOKEN_EXPIRED
            assert (await client.read_items("a"))[0].id == 1
            await client.logout()
            return client.tokens
    with FakeServer(password_server()) as server:
        tokens = run(main())
    assert [seen.target.split("?")[0] for seen in server.requests] == [
        "/auth/login", "/items/a", "/auth/refresh", "/items/a", "/auth/logout"]
    assert tokens.access_token is None and server.requests[-1].json()["refresh_token"] == "R1"


# --------------------------------------------------------------------------- one definition, two clients

def test_every_operation_has_the_sync_signature_and_docstring():
    generated = [op for op in DirectusClient.operations.values() if not op.hand_written]
    for operation in generated + [DirectusClient.operations[name] for name in ("login", "refresh", "logout")]:
        sync, asynchronous = getattr(DirectusClient, operation.name), getattr(AsyncDirectusClient, operation.name)
        assert inspect.iscoroutinefunction(asynchronous), operation.name
        assert inspect.signature(sync) == inspect.signature(asynchronous), operation.name
        assert inspect.getdoc(sync) == inspect.getdoc(asynchronous), operation.name
    # the constructor is written once, for both
    assert AsyncDirectusClient.__init__ is DirectusClient.__init__
    assert "max_connections" in inspect.signature(AsyncDirectusClient.__init__).parameters


def test_both_clients_run_the_same_policy_flows(monkeypatch):
    """Both clients perform the very same flows: RequestPolicy.call_flow, which runs request_flow
    or chunked_write_flow; only the drivers differ."""
    import pydirectus._core.policy as policy
    ran = []
    request_flow, chunked, call = policy.RequestPolicy.request_flow, policy.chunked_write_flow, policy.RequestPolicy.call_flow

    def counting_request_flow(session, request):
        ran.append("request_flow")
        return request_flow(session, request)

    def counting_chunked(*args, **kwargs):
        ran.append("chunked_write_flow")
        return chunked(*args, **kwargs)

    def counting_call(*args, **kwargs):
        ran.append("call_flow")
        return call(*args, **kwargs)
    monkeypatch.setattr(policy.RequestPolicy, "request_flow", counting_request_flow)
    monkeypatch.setattr(policy, "chunked_write_flow", counting_chunked)
    monkeypatch.setattr(policy.RequestPolicy, "call_flow", counting_call)

    async def main():
        async with client_for(server, batch_size=2) as client:
            await client.read_items("a")
            return await client.create_items("a", [{"n": n} for n in range(5)])
    with FakeServer(lambda seen: reply(200, {"data": seen.json() if seen.body else []})) as server:
        created = run(main())
        with DirectusClient(hostname=server.url, static_token="t", proxies={}, batch_size=2) as client:
            client.read_items("a")
            assert client.create_items("a", [{"n": n} for n in range(5)]) == created
    assert [len(seen.json()) for seen in server.requests if seen.method == "POST"] == [2, 2, 1] * 2
    expected = ["call_flow", "request_flow", "call_flow", "chunked_write_flow"] + ["request_flow"] * 3
    assert ran == expected * 2
    assert [item["n"] for item in created] == [0, 1, 2, 3, 4]


def test_import_pydirectus_does_not_import_asyncio():
    import subprocess
    import sys
    code = ("import sys, pydirectus; assert 'asyncio' not in sys.modules; "
            "assert pydirectus.AsyncDirectusClient.__name__ == 'AsyncDirectusClient'")
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- flow control and quiet time

class RawServer(LoopbackServer):
    """Hands each connection to ``session(conn)``: for what FakeServer cannot do (not reading for a
    while, a small receive buffer)."""

    def __init__(self, session):
        self.session = session
        LoopbackServer.__init__(self, receive_buffer=64 * 1024)

    def handle(self, conn, number):
        self.session(conn)


def serve_raw(session):
    """(url, close) of a RawServer running ``session``."""
    server = RawServer(session)
    return server.url, server.close


def read_chunked_request(conn):
    """The body of one chunked request read from ``conn`` (the test's own small parser)."""
    data = b""
    while b"\r\n0\r\n\r\n" not in data:
        part = conn.recv(1 << 20)
        if not part:
            break
        data += part
    head, _, framed = data.partition(b"\r\n\r\n")
    body = b""
    while True:
        size_line, _, framed = framed.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return head, body
        body += framed[:size]
        framed = framed[size + 2:]


def recording_connections(monkeypatch):
    """Every _Connection made from now on, and how many times each was told to pause writing."""
    import pydirectus._async.transport as async_transport
    made, pauses = [], []
    connection_made = async_transport._Connection.connection_made
    pause_writing = async_transport._Connection.pause_writing

    def record_made(self, transport):
        made.append(self)
        connection_made(self, transport)

    def record_pause(self):
        pauses.append(self)
        pause_writing(self)
    monkeypatch.setattr(async_transport._Connection, "connection_made", record_made)
    monkeypatch.setattr(async_transport._Connection, "pause_writing", record_pause)
    return made, pauses


def test_a_large_upload_waits_for_a_slow_reader_and_arrives_whole(monkeypatch):
    made, pauses = recording_connections(monkeypatch)
    chunk = bytes(range(256)) * 4096  # 1 MiB
    received = []

    def session(conn):
        time.sleep(0.3)  # not reading: the client's buffers fill and it must wait, not buffer it all
        head, body = read_chunked_request(conn)
        received.append(body)
        conn.sendall(reply(200, {"data": {"size": len(body)}}))

    async def main():
        transport = AsyncHTTPTransport(proxies={}, read_timeout=5)
        buffered = []

        def chunks():
            for _ in range(16):
                if made:  # what waits in the transport's own buffer, not sent yet
                    buffered.append(made[0].transport.get_write_buffer_size())
                yield chunk
        response = await transport.send(Request("POST", url + "/upload", {}, chunks()))
        await transport.aclose()
        return response, buffered
    url, close = serve_raw(session)
    try:
        response, buffered = run(main())
    finally:
        close()
    assert response.status == 200 and received == [chunk * 16]
    assert pauses, "the write buffer never filled: the test did not exercise flow control"
    assert max(buffered) <= 2 * len(chunk)  # it waited for the peer instead of queueing 16 MiB


def test_an_upload_the_server_never_reads_times_out_as_not_processed():
    def session(conn):
        time.sleep(2)  # never reads

    async def main():
        transport = AsyncHTTPTransport(proxies={}, read_timeout=0.3)
        started = time.monotonic()
        with pytest.raises(pydirectus.TimeoutError, match="timed out sending the request") as caught:
            await transport.send(Request("PUT", url + "/upload", {}, iter([b"x" * (1 << 20)] * 64)))
        assert time.monotonic() - started < 1.5
        assert transport.stats()["open"] == 0
        return caught.value
    url, close = serve_raw(session)
    try:
        error = run(main())
    finally:
        close()
    assert not error.may_have_been_processed


def test_a_streamed_body_read_slowly_stops_the_socket_reads_and_resumes_them(monkeypatch):
    from pydirectus._async.transport import _BUFFER_LIMIT
    made, _ = recording_connections(monkeypatch)
    body = bytes(range(256)) * (32 * 1024)  # 8 MiB

    async def main():
        transport = AsyncHTTPTransport(proxies={}, max_connections=1)
        response = await transport.send(Request("GET", server.url + "/big", stream=True))
        connection = made[0]
        first = await response.stream.read(1000)
        await asyncio.sleep(0.3)  # the server sends faster than this reader reads
        held, reading = len(connection.buffer), connection.transport.is_reading()
        rest = b"".join([chunk async for chunk in response.stream])
        stats = transport.stats()
        await transport.aclose()
        return first + rest, held, reading, stats
    with FakeServer(lambda seen: reply(200, body, content_type="application/octet-stream")) as server:
        received, held, reading, stats = run(main())
    assert received == body
    assert not reading and _BUFFER_LIMIT < held <= 2 * _BUFFER_LIMIT  # paused with a bounded buffer
    assert stats["idle"] == 1 and server.connections == 1  # read to its end: back in the pool


def test_a_streamed_body_that_goes_quiet_times_out_and_closes_its_connection():
    def handler(seen):
        def send(conn):
            conn.sendall(reply(200, b"x" * 1000, content_type="application/octet-stream", length=5000))
            time.sleep(2)
        return send

    async def main():
        transport = AsyncHTTPTransport(proxies={}, read_timeout=0.3)
        response = await transport.send(Request("GET", server.url + "/file", stream=True))
        assert await response.stream.read(1000) == b"x" * 1000
        await asyncio.sleep(0.5)  # the caller's own pace is not the server's quiet time
        started = time.monotonic()
        with pytest.raises(pydirectus.TimeoutError, match="read timed out") as caught:
            await response.stream.read(1000)
        assert 0.25 < time.monotonic() - started < 1.5 and caught.value.may_have_been_processed
        assert transport.stats()["open"] == 0
    with FakeServer(handler) as server:
        run(main())


def test_a_connection_the_server_closed_while_idle_is_replaced():
    def handler(seen):
        def send(conn):
            conn.sendall(reply(200, ITEMS))
            time.sleep(0.1)
            conn.shutdown(socket.SHUT_RDWR)  # closed by the server after the answer, without a header saying so
        return send

    async def main():
        transport = AsyncHTTPTransport(proxies={})
        first = await transport.send(Request("GET", server.url + "/a"))
        await asyncio.sleep(0.3)
        second = await transport.send(Request("GET", server.url + "/a"))
        stats = transport.stats()
        await transport.aclose()
        return first, second, stats
    with FakeServer(handler) as server:
        first, second, stats = run(main())
    assert first.status == second.status == 200 and server.connections == 2
    assert stats["opened"] == 2


# --------------------------------------------------------------------------- the CONNECT tunnel

def test_https_through_a_connect_tunnel_keeps_one_verified_connection(tmp_path):
    import ssl
    from tests.integration.test_realtime import Relay  # a CONNECT proxy on loopback
    from tests.fakerealtime import tls_answering_server, tls_server_context
    context, ca_file = tls_server_context(tmp_path)
    port, seen = tls_answering_server(context, reply(200, {"data": {"tls": True}}))
    proxy = Relay()

    async def main():
        transport = AsyncHTTPTransport(proxies={"https": "http://127.0.0.1:%d" % proxy.port},
                                       ssl_context=ssl.create_default_context(cafile=ca_file))
        bodies = [(await transport.send(Request("GET", "https://127.0.0.1:%d/items/a" % port))).body
                  for _ in range(3)]
        stats = transport.stats()
        await transport.aclose()
        return bodies, stats
    try:
        bodies, stats = run(main())
    finally:
        proxy.close()
    assert bodies == [b'{"data": {"tls": true}}'] * 3 and stats["opened"] == 1
    assert proxy.heads == ["CONNECT 127.0.0.1:%d HTTP/1.1" % port]  # one tunnel for the three requests
    assert all(head.startswith("GET /items/a HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % port) for head in seen)


def test_a_proxy_that_closes_during_connect_is_a_connect_failure():
    with FakeServer(lambda seen: None) as proxy:
        transport = AsyncHTTPTransport(proxies={"https": proxy.url})
        with pytest.raises(pydirectus.TransportError, match="cannot connect: the proxy closed") as caught:
            run(transport.send(Request("POST", "https://directus.example/items/a", {}, b"{}")))
    assert not caught.value.may_have_been_processed
