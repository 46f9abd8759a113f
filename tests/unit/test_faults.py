"""Fault injection: every fault against every HTTP method, on loopback servers that misbehave.

Each case asserts the number of attempts, the sleeps between them, and what the server saw: a
POST or PATCH whose answer was lost reached the server exactly once. Each runs on both clients
(``make_client``, the conformance suite: see tests/blocking.py).
"""

import asyncio
import email.utils
import socket
import threading
import time

import pytest

import pydirectus
from pydirectus import DirectusClient, RetryPolicy
from tests.fakeserver import FakeServer, reply
from tests.loopback import LoopbackServer, read_head

METHODS = ["GET", "HEAD", "PUT", "DELETE", "OPTIONS", "SEARCH", "POST", "PATCH"]
IDEMPOTENT = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "SEARCH"}
RETRIES = 2
OK = reply(200, {"data": {"ok": True}})
# full jitter with random() = 0.5: half of min(cap, 0.5 * 2**n)
BACKOFF = [0.25, 0.5]


class Recorder:
    def __init__(self):
        self.sleeps = []

    def __call__(self, seconds):
        self.sleeps.append(seconds)


def fault_client(make_client, url, sleeps, **kwargs):
    kwargs.setdefault("retries", RetryPolicy(RETRIES, random=lambda: 0.5, max_retry_after=10))
    kwargs.setdefault("read_timeout", 0.3)
    return make_client(hostname=url, static_token="tok", proxies={}, sleep=sleeps, **kwargs)


def send(client, method):
    return client.request(method, "/items/things", json={"n": 1} if method in ("POST", "PATCH", "PUT", "SEARCH")
                          else None)


def fault_then_ok(fault, faults=1):
    """A handler answering with ``fault`` for the first ``faults`` requests, then 200."""
    state = {"seen": 0}

    def handler(seen):
        state["seen"] += 1
        return fault(seen) if state["seen"] <= faults else OK
    return handler


def drop(seen):
    return None  # close the connection without an answer


def stall(seen):
    return lambda conn: time.sleep(1.0)


def truncate(seen):
    return lambda conn: conn.sendall(reply(200, b'{"data": {"ok": tr', length=200))


# every after-sending fault with every method, but a truncated HEAD: a HEAD answer has no body
AFTER_SENDING = [pytest.param(fault, method, id="%s-%s" % (fault.__name__, method))
                 for fault in (drop, stall, truncate) for method in METHODS
                 if not (fault is truncate and method == "HEAD")]


@pytest.mark.parametrize("fault, method", AFTER_SENDING)
def test_failures_after_sending_are_retried_only_for_idempotent_methods(fault, method, make_client):
    sleeps = Recorder()
    with FakeServer(fault_then_ok(fault, faults=RETRIES + 1)) as server, fault_client(make_client, server.url, sleeps) as client:
        with pytest.raises(pydirectus.TransportError) as caught:
            send(client, method)
        error = caught.value
        assert error.may_have_been_processed
        # a read timeout is sent again once at most (RetryPolicy.read_timeout_retries), other faults RETRIES times
        tries = 2 if fault is stall else RETRIES + 1
        if method in IDEMPOTENT:
            assert len(server.requests) == tries and sleeps.sleeps == BACKOFF[:tries - 1]
            assert [attempt.method for attempt in error.attempts] == [method] * tries
            assert [attempt.wait for attempt in error.attempts] == BACKOFF[:tries - 1] + [None]
            assert all(attempt.status is None and attempt.error for attempt in error.attempts)
        else:
            assert len(server.requests) == 1 and sleeps.sleeps == []
            assert error.attempts == ()
        # only a method that writes is said to have maybe been processed: a GET that was read is no news
        assert ("may have processed" in str(error)) is (method not in ("GET", "HEAD", "OPTIONS", "SEARCH"))
        if fault is stall:
            assert isinstance(error, pydirectus.TimeoutError)
            assert "read_timeout=0.3 s" in str(error) and "read_timeout= argument" in str(error)


@pytest.mark.parametrize("fault, method", AFTER_SENDING)
def test_one_lost_answer_then_success(fault, method, make_client):
    sleeps = Recorder()
    with FakeServer(fault_then_ok(fault)) as server, fault_client(make_client, server.url, sleeps) as client:
        if method in IDEMPOTENT:
            send(client, method)
            assert len(server.requests) == 2 and sleeps.sleeps == BACKOFF[:1]
        else:
            with pytest.raises(pydirectus.TransportError):
                send(client, method)
            assert len(server.requests) == 1  # reached the server exactly once


@pytest.mark.parametrize("method", METHODS)
def test_connection_refused_is_retried_for_every_method(method, make_client):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps = Recorder()
    with fault_client(make_client, "http://127.0.0.1:%d" % port, sleeps) as client:
        calls = count_sends(client)
        with pytest.raises(pydirectus.TransportError, match="cannot connect") as caught:
            send(client, method)
    assert not caught.value.may_have_been_processed
    assert calls == [method] * (RETRIES + 1) and sleeps.sleeps == BACKOFF


@pytest.mark.parametrize("method", METHODS)
def test_dns_failure_is_retried_for_every_method(method, monkeypatch, make_client):
    def no_dns(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    sleeps = Recorder()
    with fault_client(make_client, "http://directus.invalid", sleeps) as client:
        calls = count_sends(client)
        with pytest.raises(pydirectus.TransportError, match="cannot connect"):
            send(client, method)
    assert len(calls) == RETRIES + 1 and sleeps.sleeps == BACKOFF


def test_connect_timeout_is_retried_for_a_post(make_client):
    # a listener whose backlog is full: the kernel drops new SYNs, so connecting hangs
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    try:
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(listener.getsockname())
            fillers.append(filler)
        sleeps = Recorder()
        url = "http://127.0.0.1:%d" % listener.getsockname()[1]
        with fault_client(make_client, url, sleeps, connect_timeout=0.3) as client:
            calls = count_sends(client)
            started = time.monotonic()
            with pytest.raises(pydirectus.TimeoutError, match="connect timed out") as caught:
                send(client, "POST")
        assert not caught.value.may_have_been_processed
        assert len(calls) == RETRIES + 1 and sleeps.sleeps == BACKOFF
        assert time.monotonic() - started < 3
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def count_sends(client):
    client = getattr(client, "_target", client)  # the async client itself, not its blocking proxy
    calls = []
    send_once = client.transport.send
    if asyncio.iscoroutinefunction(send_once):
        async def counting(request):
            calls.append(request.method)
            return await send_once(request)
    else:
        def counting(request):
            calls.append(request.method)
            return send_once(request)
    client.transport.send = counting
    client._runner.transport = client.transport
    return calls


def limited(retry_after, code="REQUESTS_EXCEEDED", status=429):
    body = {"errors": [{"message": "Too many requests", "extensions": {"code": code}}]}
    return lambda seen: reply(status, body, headers={"Retry-After": retry_after, "Connection": "close"})


@pytest.mark.parametrize("method", METHODS)
def test_429_from_the_rate_limiter_is_retried_for_every_method_after_retry_after(method, make_client):
    sleeps = Recorder()
    with FakeServer(fault_then_ok(limited("2"))) as server, fault_client(make_client, server.url, sleeps) as client:
        send(client, method)
    assert len(server.requests) == 2 and sleeps.sleeps == [2.75]  # 2 s, rounded: +0.5, +0.25 of jitter


@pytest.mark.parametrize("method", METHODS)
def test_503_with_retry_after_as_an_http_date_is_retried_for_idempotent_methods(method, make_client):
    sleeps = Recorder()
    when = email.utils.formatdate(time.time() + 3, usegmt=True)
    answer = limited(when, code="SERVICE_UNAVAILABLE", status=503)
    with FakeServer(fault_then_ok(answer)) as server, fault_client(make_client, server.url, sleeps) as client:
        if method in IDEMPOTENT:
            send(client, method)
            assert len(server.requests) == 2 and len(sleeps.sleeps) == 1 and 2.0 <= sleeps.sleeps[0] <= 4.0
        else:
            with pytest.raises(pydirectus.ServerError):
                send(client, method)
            assert len(server.requests) == 1 and sleeps.sleeps == []


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_retry_after_above_the_cap_raises_at_once_saying_when(method, make_client):
    sleeps = Recorder()
    with FakeServer(limited("120")) as server, fault_client(make_client, server.url, sleeps) as client:
        with pytest.raises(pydirectus.RateLimitedError) as caught:
            send(client, method)
    assert caught.value.retry_after == 120 and "retry after 120 s" in str(caught.value)
    assert len(server.requests) == 1 and sleeps.sleeps == []


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("status", [502, 504])
def test_gateway_errors_without_a_directus_body_are_retried_for_idempotent_methods(method, status, make_client):
    sleeps = Recorder()
    page = lambda seen: reply(status, b"<html>bad gateway</html>", content_type="text/html")  # noqa: E731
    with FakeServer(fault_then_ok(page)) as server, fault_client(make_client, server.url, sleeps) as client:
        if method in IDEMPOTENT:
            send(client, method)
            assert len(server.requests) == 2 and sleeps.sleeps == BACKOFF[:1]
        else:
            with pytest.raises(pydirectus.ServerError):
                send(client, method)
            assert len(server.requests) == 1


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("status, cls", [(500, pydirectus.ServerError), (400, pydirectus.BadRequestError),
                                         (403, pydirectus.ForbiddenError), (409, pydirectus.BadRequestError)])
def test_500_and_4xx_are_never_retried(method, status, cls, make_client):
    sleeps = Recorder()
    body = {"errors": [{"message": "no", "extensions": {"code": "X"}}]}
    with FakeServer(lambda seen: reply(status, body)) as server, fault_client(make_client, server.url, sleeps) as client:
        with pytest.raises(cls):
            send(client, method)
    assert len(server.requests) == 1 and sleeps.sleeps == []


def test_zero_retries_disables_them(make_client):
    sleeps = Recorder()
    with FakeServer(fault_then_ok(drop)) as server, fault_client(make_client, server.url, sleeps, retries=0) as client:
        with pytest.raises(pydirectus.TransportError):
            send(client, "GET")
    assert len(server.requests) == 1 and sleeps.sleeps == []


def test_the_deadline_bounds_retries_on_the_injected_clock(make_client):
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds
    policy = RetryPolicy(20, random=lambda: 1.0, backoff_base=1.0, backoff_cap=4.0)
    with FakeServer(lambda seen: None) as server:
        with make_client(hostname=server.url, proxies={}, retries=policy, sleep=sleep, clock=lambda: now[0],
                         deadline=10.0) as client:
            with pytest.raises(pydirectus.TimeoutError, match="deadline"):
                client.read_items("a")
    assert now[0] <= 10.0 and len(server.requests) == 4  # waits of 1, 2, 4; the next 4 would pass 10


def test_a_stale_keep_alive_connection_never_fails_a_post(make_client):
    # the server closes every connection right after answering, without saying so
    def handler(seen):
        return lambda conn: conn.sendall(OK)
    sleeps = Recorder()
    with FakeServer(handler) as server, fault_client(make_client, server.url, sleeps, retries=0) as client:
        for _ in range(5):
            send(client, "POST")
            time.sleep(0.05)  # let the close arrive
    assert len(server.requests) == 5 and server.connections == 5


def test_a_one_shot_body_is_not_sent_again(make_client):
    def chunks():
        yield b'{"n":'
        yield b' 1}'
    sleeps = Recorder()
    with FakeServer(fault_then_ok(drop)) as server, fault_client(make_client, server.url, sleeps) as client:
        with pytest.raises(pydirectus.TransportError, match="cannot be rewound"):
            client.request("PUT", "/things", data=chunks(), headers={"Content-Type": "application/json"})
    assert len(server.requests) == 1 and sleeps.sleeps == []


def test_timeouts_and_retries_are_on_by_default(make_client):
    client = make_client(hostname="http://127.0.0.1:9")
    assert client.transport.connect_timeout == 10.0 and client.transport.read_timeout == 60.0
    assert client._policy.deadline == 300.0 and client._policy.retry.retries == 3


def test_bad_credentials_are_never_retried_and_a_failed_login_is_not_cached(make_client):
    refused = reply(401, {"errors": [{"message": "Invalid user credentials.",
                                      "extensions": {"code": "INVALID_CREDENTIALS"}}]})
    state = {"logins": 0}

    def handler(seen):
        if seen.target == "/auth/login":
            state["logins"] += 1
            if state["logins"] == 1:
                return refused
            return reply(200, {"data": {"access_token": "A" * 20, "refresh_token": "R" * 20, "expires": 900000}})
        return OK
    sleeps = Recorder()
    with FakeServer(handler) as server:
        with make_client(hostname=server.url, username="a@b.c", password="p", proxies={}, sleep=sleeps,
                         retries=RetryPolicy(5, random=lambda: 0.5)) as client:
            with pytest.raises(pydirectus.AuthenticationError):
                client.read_items("a")
            assert state["logins"] == 1 and sleeps.sleeps == []  # one try: accounts are not locked out
            client.read_items("a")  # the next call logs in again
    assert state["logins"] == 2 and [r.target for r in server.requests] == ["/auth/login", "/auth/login",
                                                                            "/items/a"]


class RefusingBeforeTheBody(LoopbackServer):
    """A server that answers 403 as soon as it has a request's head, never reads the body, and
    resets the connection a few seconds later (as Node does with a refused upload)."""

    def __init__(self):
        self.heads = []
        super().__init__()

    def handle(self, conn, number):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        head = read_head(conn, 4096)
        if not head:
            return
        self.heads.append(head.split(b"\r\n", 1)[0])
        conn.sendall(reply(403, {"errors": [{"message": "You don't have permission to access this.",
                                             "extensions": {"code": "FORBIDDEN"}}]}))
        time.sleep(3)


@pytest.mark.parametrize("body", ["bytes", "generator"])
def test_an_answer_before_the_body_is_sent_is_the_answer(make_client, body):
    # without looking for it, the client would block sending until the reset, then retry
    content = b"x" * (32 * 1024 * 1024)
    data = content if body == "bytes" else (content[i:i + 65536] for i in range(0, len(content), 65536))
    server = RefusingBeforeTheBody()
    sleeps = Recorder()
    try:
        with fault_client(make_client, server.url, sleeps, read_timeout=10) as client:
            started = time.monotonic()
            with pytest.raises(pydirectus.ForbiddenError) as caught:
                client.request("POST", "/files", data=data, headers={"Content-Type": "application/octet-stream"})
            elapsed = time.monotonic() - started
    finally:
        server.close()
    assert caught.value.status == 403 and caught.value.code == "FORBIDDEN"
    assert elapsed < 2 and server.heads == [b"POST /files HTTP/1.1"] and sleeps.sleeps == []


# --- load a struggling server sees, and how long a call may take (issue 15, §2) ------------------

def test_a_brownout_sends_at_most_the_retry_budget(make_client):
    """A server answering 503 without Retry-After to everything: 8 threads x 25 calls must not send
    4x the load; the budget keeps it within 1.2x the calls + 10 (the issue asks 1.25x + 10)."""
    unavailable = reply(503, {"errors": [{"message": "Service Unavailable",
                                          "extensions": {"code": "SERVICE_UNAVAILABLE"}}]})
    sleeps = Recorder()
    errors = []
    with FakeServer(lambda seen: unavailable) as server:
        with fault_client(make_client, server.url, sleeps, retries=RetryPolicy(3, random=lambda: 0.5)) as client:
            def caller():
                for _ in range(25):
                    try:
                        client.read_items("things")
                    except pydirectus.ServerError as error:
                        errors.append(error)
            threads = [threading.Thread(target=caller) for _ in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            budget = client._policy.budget
    calls = 8 * 25
    assert len(errors) == calls  # every call raised
    assert calls < len(server.requests) <= 1.2 * calls + 10, len(server.requests)
    assert budget.refused >= calls - 10 - 0.2 * calls  # most calls found the budget empty
    # the longest a call waited: its own retries' backoff, all well under a minute
    assert max(sum(a.wait or 0 for a in error.attempts) for error in errors) <= 0.25 + 0.5 + 1.0
    # without a budget the same brownout sends every call 4 times
    with FakeServer(lambda seen: unavailable) as server:
        policy = RetryPolicy(3, random=lambda: 0.0, budget_ratio=None)
        with fault_client(make_client, server.url, sleeps, retries=policy) as client:
            for _ in range(10):
                with pytest.raises(pydirectus.ServerError) as caught:
                    client.read_items("things")
    assert len(server.requests) == 40 and len(caught.value.attempts) == 4
    assert [attempt.status for attempt in caught.value.attempts] == [503] * 4


def test_a_flaky_server_still_answers_99_percent_of_calls(make_client):
    """10% of requests fail at random (seeded): the budget still lets every one be retried."""
    import random
    chance = random.Random(15)
    broken = reply(503, {"errors": [{"message": "Service Unavailable",
                                     "extensions": {"code": "SERVICE_UNAVAILABLE"}}]})
    sleeps = Recorder()
    with FakeServer(lambda seen: broken if chance.random() < 0.1 else OK) as server:
        with fault_client(make_client, server.url, sleeps, retries=RetryPolicy(3, random=lambda: 0.0)) as client:
            succeeded = 0
            for _ in range(400):
                try:
                    client.request("GET", "/items/things")
                    succeeded += 1
                except pydirectus.ServerError:
                    pass
            refused = client._policy.budget.refused
    failed_first = len(server.requests) - 400
    assert failed_first >= 20  # the fault really happened (about 40 of 400)
    assert succeeded >= 396 and refused == 0, (succeeded, refused)


def test_a_hung_server_fails_a_call_after_two_read_timeouts(make_client):
    """A server that reads the request and never answers: with the default policy a GET is sent
    twice (read_timeout_retries=1), so the defaults (read_timeout=60) raise after about 120 s, not
    240 s; the message names the setting. A POST is never sent twice."""
    sleeps = Recorder()
    with FakeServer(stall) as server, fault_client(make_client, server.url, sleeps, retries=RetryPolicy(),
                                                   read_timeout=0.2) as client:
        with pytest.raises(pydirectus.TimeoutError) as caught:
            client.read_items("things")
        assert len(server.requests) == 2 and len(sleeps.sleeps) == 1 and sleeps.sleeps[0] <= 0.5
        assert len(caught.value.attempts) == 2
        message = str(caught.value)
        assert "read_timeout=0.2 s" in message and "may have processed" not in message and "2 attempts" in message
        with pytest.raises(pydirectus.TimeoutError) as caught:
            client.create_item("things", {"n": 1})
        assert len(server.requests) == 3 and "may have processed" in str(caught.value)
    # the bound with the defaults: two read timeouts and one backoff of at most backoff_base
    policy = RetryPolicy()
    assert (policy.read_timeout_retries + 1) * 60.0 + policy.backoff_base <= 130


def test_a_wait_the_server_asked_for_is_not_drawn_from_the_budget(make_client):
    """The rate limiter's 429 with Retry-After paces the client itself: a burst beyond the budget
    still ends with every call answered."""
    state = {"seen": 0}

    def handler(seen):
        state["seen"] += 1
        return limited("1")(seen) if state["seen"] % 2 else OK  # every other request is refused
    sleeps = Recorder()
    with FakeServer(handler) as server, fault_client(make_client, server.url, sleeps,
                                                     retries=RetryPolicy(3, budget_reserve=1,
                                                                         random=lambda: 0.5)) as client:
        for _ in range(30):
            client.request("GET", "/items/things")
        assert client._policy.budget.refused == 0
    assert len(server.requests) == 60 and sleeps.sleeps == [1.75] * 30


def test_retry_after_0_late_in_the_limiters_window_waits_past_the_second_as_often_as_the_server_asks(make_client):
    """Directus answers Retry-After: 0 in the last half second of its window (it rounds): the wait
    goes past the second, and the server's pacing is not counted against ``retries``."""
    state = {"seen": 0}

    def handler(seen):
        state["seen"] += 1
        return limited("0")(seen) if state["seen"] <= 6 else OK
    sleeps = Recorder()
    with FakeServer(handler) as server, fault_client(make_client, server.url, sleeps) as client:
        client.request("GET", "/items/things")
    assert len(server.requests) == 7 and len(sleeps.sleeps) == 6 and all(0.5 <= wait <= 1.0 for wait in sleeps.sleeps)
    with FakeServer(limited("0")) as server, fault_client(make_client, server.url, sleeps, retries=0) as client:
        with pytest.raises(pydirectus.RateLimitedError):
            client.request("GET", "/items/things")
    assert len(server.requests) == 1  # retries=0: nothing is sent again


def test_paced_retries_are_bounded():
    from pydirectus._core.http11 import Headers
    from pydirectus._core.records import Request, Response
    policy = RetryPolicy(3, paced_retries=2, random=lambda: 0.0)
    answer = Response(429, Headers([("Retry-After", "1")]),
                      b'{"errors":[{"message":"x","extensions":{"code":"REQUESTS_EXCEEDED"}}]}')
    request = Request("GET", "http://h/x")
    assert policy.delay_after_response(request, answer, 0, 1) == (1.5, True)
    assert policy.delay_after_response(request, answer, 0, 2) == (None, False)


def test_retry_policy_is_an_immutable_value():
    policy = RetryPolicy(2)
    with pytest.raises(AttributeError, match="immutable"):
        policy.retries = 5
    with pytest.raises(ValueError, match="budget_ratio"):
        RetryPolicy(budget_ratio=0)
    with pytest.raises(ValueError, match="read_timeout_retries"):
        RetryPolicy(read_timeout_retries=-1)
    assert "budget_ratio=0.2" in repr(RetryPolicy())
