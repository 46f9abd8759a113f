"""The request policy flows, driven effect by effect without any socket or sleep."""

import json
import logging

import pytest

from pydirectus._core.auth import Credentials
from pydirectus.errors import AuthenticationError, TransportError
from pydirectus._core.records import Request, Response
from pydirectus._core.policy import RequestPolicy
from pydirectus._core.retry import RetryPolicy
from pydirectus._sync.runner import Runner
from tests.mocktransport import MockTransport


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class Headers(dict):
    def get(self, key, default=None):
        return dict.get(self, key.lower(), default)


def answer(status, body=None, **headers):
    raw = json.dumps(body).encode() if body is not None else b""
    return Response(status, Headers({k.lower().replace("_", "-"): v for k, v in headers.items()}), raw)


def tokens(access, refresh, expires_ms=900000):
    return answer(200, {"data": {"access_token": access, "refresh_token": refresh, "expires": expires_ms}})


EXPIRED = answer(401, {"errors": [{"message": "Token expired.", "extensions": {"code": "TOKEN_EXPIRED"}}]})
BAD_CREDENTIALS = answer(401, {"errors": [{"message": "Invalid user credentials.",
                                           "extensions": {"code": "INVALID_CREDENTIALS"}}]})
OK = answer(200, {"data": {"id": 1}})


class _CountingLock:
    """The runner's authentication lock, counting how many times it is taken."""

    def __init__(self):
        self.taken = 0

    def __enter__(self):
        self.taken += 1

    def __exit__(self, *exc_info):
        return None


class Script:
    """The sync runner itself, its transport answering each request from a list; records what was
    sent, slept and locked."""

    def __init__(self, session, answers):
        self.session = session
        self.answers = list(answers)
        self.sent = []
        self.slept = []
        self.runner = Runner(MockTransport(self._answer), logging.getLogger("pydirectus.test"), self._sleep,
                             session.clock)
        self.runner.auth_lock = self.lock = _CountingLock()

    def _answer(self, request):
        self.sent.append(request)
        result = self.answers.pop(0)
        if isinstance(result, Exception):
            raise result
        return result

    def _sleep(self, seconds):
        self.slept.append(seconds)
        self.session.clock.now += seconds

    @property
    def locked(self):
        return self.lock.taken

    def run(self, flow):
        return self.runner.run(flow)

    def paths(self):
        return [r.url.replace("http://h", "") for r in self.sent]

    def bearer(self, index):
        return self.sent[index].headers.get("Authorization")


def password_session(retries=2, otp=None):
    return RequestPolicy("http://h", Credentials(email="a@b.c", password="pw", otp=otp), {"Accept": "application/json"},
                   RetryPolicy(retries, random=lambda: 0.5), Clock())


def get(path="/items/a"):
    return Request("GET", "http://h" + path, {"Accept": "application/json"})


def post(path="/items/a"):
    return Request("POST", "http://h" + path, {"Accept": "application/json"}, b"{}")


def test_static_token_is_sent_as_is():
    session = RequestPolicy("http://h", Credentials(static_token="st"), {}, RetryPolicy(0), Clock())
    assert session.headers_for(True)["Authorization"] == "Bearer st"
    assert "Authorization" not in session.headers_for(False)
    script = Script(session, [EXPIRED])
    assert script.run(session.request_flow(get())) is EXPIRED  # no refresh for a static token
    assert script.locked == 0


def test_lazy_login_then_token_reused():
    session = password_session()
    script = Script(session, [tokens("A1", "R1"), OK, OK])
    script.run(session.request_flow(get()))
    script.run(session.request_flow(get()))
    assert script.paths() == ["/auth/login", "/items/a", "/items/a"]
    assert json.loads(script.sent[0].body) == {"email": "a@b.c", "password": "pw", "mode": "json"}
    assert "Authorization" not in script.sent[0].headers
    assert script.bearer(1) == script.bearer(2) == "Bearer A1"
    assert session.tokens.logins == 1 and session.tokens.refreshes == 0


def test_otp_is_sent_and_may_be_a_callable():
    session = password_session(otp=lambda: "123456")
    script = Script(session, [tokens("A1", "R1"), OK])
    script.run(session.request_flow(get()))
    assert json.loads(script.sent[0].body)["otp"] == "123456"


def test_refresh_shortly_before_expiry():
    session = password_session()
    script = Script(session, [tokens("A1", "R1", expires_ms=100000), OK, OK, tokens("A2", "R2"), OK])
    script.run(session.request_flow(get()))
    session.clock.now += 89.0  # margin is 10% of 100 s: refresh from 90 s on
    script.run(session.request_flow(get()))
    assert script.paths()[2] == "/items/a"
    session.clock.now += 1.5
    script.run(session.request_flow(get()))
    assert script.paths()[3:] == ["/auth/refresh", "/items/a"]
    assert json.loads(script.sent[3].body) == {"refresh_token": "R1", "mode": "json"}
    assert script.bearer(4) == "Bearer A2" and session.tokens.refreshes == 1


def test_token_expired_refreshes_and_replays_once():
    session = password_session()
    script = Script(session, [tokens("A1", "R1"), EXPIRED, tokens("A2", "R2"), OK])
    assert script.run(session.request_flow(post())) is OK
    assert script.paths() == ["/auth/login", "/items/a", "/auth/refresh", "/items/a"]
    assert script.sent[3].body == b"{}" and script.bearer(3) == "Bearer A2"


def test_replay_happens_only_once():
    session = password_session()
    script = Script(session, [tokens("A1", "R1"), EXPIRED, tokens("A2", "R2"), EXPIRED])
    assert script.run(session.request_flow(get())) is EXPIRED
    assert len(script.sent) == 4


def test_dead_refresh_token_falls_back_to_login():
    session = password_session()
    script = Script(session, [tokens("A1", "R1"), EXPIRED, BAD_CREDENTIALS, tokens("A2", "R2"), OK])
    assert script.run(session.request_flow(get())) is OK
    assert script.paths() == ["/auth/login", "/items/a", "/auth/refresh", "/auth/login", "/items/a"]
    assert session.tokens.logins == 2


def test_lost_refresh_answer_falls_back_to_login():
    session = password_session()
    lost = TransportError("reset", may_have_been_processed=True)
    script = Script(session, [tokens("A1", "R1"), EXPIRED, lost, tokens("A2", "R2"), OK])
    assert script.run(session.request_flow(get())) is OK
    assert script.paths() == ["/auth/login", "/items/a", "/auth/refresh", "/auth/login", "/items/a"]


def test_failed_login_raises_and_sends_nothing_without_credentials():
    session = password_session()
    script = Script(session, [BAD_CREDENTIALS])
    with pytest.raises(AuthenticationError) as caught:
        script.run(session.request_flow(get()))
    assert caught.value.code == "INVALID_CREDENTIALS" and script.paths() == ["/auth/login"]


def test_another_callers_refresh_is_reused():
    session = password_session()
    script = Script(session, [tokens("A1", "R1"), OK])
    script.run(session.request_flow(get()))
    seen = session.tokens.generation
    session.tokens.store({"access_token": "A9", "refresh_token": "R9", "expires": 900000}, session.clock())
    from pydirectus._core.auth import authenticate_flow
    script.run(authenticate_flow(session, seen))
    assert script.paths() == ["/auth/login", "/items/a"]  # nothing more was sent


def test_requests_without_auth_never_carry_a_token():
    session = password_session()
    script = Script(session, [OK])
    script.run(session.request_flow(Request("GET", "http://h/server/ping", {}, auth=False)))
    assert script.paths() == ["/server/ping"] and script.bearer(0) is None


def test_retries_connection_failures_for_any_method_with_backoff():
    session = RequestPolicy("http://h", Credentials(), {}, RetryPolicy(3, random=lambda: 0.5), Clock())
    refused = TransportError("refused", may_have_been_processed=False)
    script = Script(session, [refused, refused, OK])
    assert script.run(session.request_flow(post())) is OK
    assert script.slept == [0.25, 0.5]


def test_a_post_that_may_have_been_processed_is_never_resent():
    session = RequestPolicy("http://h", Credentials(), {}, RetryPolicy(3), Clock())
    lost = TransportError("reset", may_have_been_processed=True)
    script = Script(session, [lost])
    with pytest.raises(TransportError) as caught:
        script.run(session.request_flow(post()))
    assert caught.value.may_have_been_processed and len(script.sent) == 1
    assert "may have processed" in str(caught.value)


def test_get_is_retried_after_a_lost_answer_and_429_honours_retry_after():
    session = RequestPolicy("http://h", Credentials(), {}, RetryPolicy(3, random=lambda: 0.5), Clock())
    lost = TransportError("reset", may_have_been_processed=True)
    limited = answer(429, {"errors": [{"message": "x", "extensions": {"code": "REQUESTS_EXCEEDED"}}]},
                     Retry_After="2")
    script = Script(session, [lost, limited, OK])
    assert script.run(session.request_flow(get())) is OK
    assert script.slept == [0.25, 2.75]  # Retry-After counts rounded seconds: +0.5, and jitter


def test_retry_after_above_the_cap_gives_up_at_once():
    session = RequestPolicy("http://h", Credentials(), {}, RetryPolicy(3, max_retry_after=10), Clock())
    limited = answer(503, {"errors": [{"message": "x", "extensions": {"code": "SERVICE_UNAVAILABLE"}}]},
                     Retry_After="120")
    script = Script(session, [limited])
    assert script.run(session.request_flow(get())) is limited and script.slept == []


def test_server_errors_and_4xx_are_not_retried():
    for status in (500, 400, 403, 404):
        session = RequestPolicy("http://h", Credentials(), {}, RetryPolicy(3), Clock())
        response = answer(status, {"errors": [{"message": "x", "extensions": {"code": "X"}}]})
        script = Script(session, [response])
        assert script.run(session.request_flow(get())) is response and len(script.sent) == 1


def test_retries_zero_disables_them():
    session = RequestPolicy("http://h", Credentials(), {}, RetryPolicy(0), Clock())
    refused = TransportError("refused")
    with pytest.raises(TransportError):
        Script(session, [refused]).run(session.request_flow(get()))


def test_deadline_bounds_the_retries():
    session = RequestPolicy("http://h", Credentials(), {}, RetryPolicy(10, random=lambda: 1.0, backoff_base=4), Clock(),
                      deadline=10.0)
    refused = TransportError("refused")
    script = Script(session, [refused] * 10)
    with pytest.raises(TransportError, match="deadline"):
        script.run(session.request_flow(get()))
    assert sum(script.slept) <= 10.0


def test_credentials_never_show_secrets():
    credentials = Credentials(static_token="SECRET-TOKEN")
    assert "SECRET" not in repr(credentials) and "SECRET" not in str(credentials)
    credentials = Credentials(email="me@x.io", password="SECRET-PW")
    assert "SECRET" not in repr(credentials)
    session = password_session()
    Script(session, [tokens("SECRET-A", "SECRET-R"), OK]).run(session.request_flow(get()))
    assert "SECRET" not in repr(session.tokens)
    assert "SECRET" not in repr(session.request_flow(get()))
