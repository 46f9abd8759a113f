"""Credentials, the token state of a password policy, and the flows that log in, refresh and log out.

Everything here is free of I/O: the flows yield effects (see ``effects``) and a room's runner performs
them. Directus facts this relies on: ``expires`` in a login or refresh answer is in milliseconds;
refresh tokens are single use (each refresh rotates the pair); an expired access token is 401
TOKEN_EXPIRED; a dead refresh token is 401 INVALID_CREDENTIALS.
"""

from __future__ import annotations

from .effects import Authenticate, Send
from ..errors import AuthenticationError, TransportError, error_from_response
from .records import Request, encode_json, quote_path_value

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is never imported at run time
    from typing import Any, Callable, Dict, Mapping, Optional, Tuple, Union

    from .effects import Flow
    from .policy import RequestPolicy

__all__ = ["Credentials", "TokenState", "access_token_flow", "authenticate_flow", "logout_flow", "login_now_flow",
           "refresh_now_flow", "logout_now_flow"]

# Refresh this long before the access token expires: 10% of its lifetime, at most 30 s.
_MARGIN_SHARE = 0.1
_MARGIN_MAX = 30.0


class Credentials:
    """What the client authenticates with. Secrets never show in ``repr`` or ``str``.

    A password login names its user by ``email`` (the default provider, and any provider on
    Directus's local driver) or by ``identifier`` (an LDAP provider: the user name its directory
    is searched for); ``login_payload`` writes the body accordingly.
    """

    __slots__ = ("static_token", "email", "password", "otp", "provider", "identifier")

    static_token: Optional[str]
    email: Optional[str]
    password: Optional[str]
    otp: Optional[Union[str, Callable[[], str]]]  # a code, or a function returning a fresh one
    provider: Optional[str]
    identifier: Optional[str]

    def __init__(self, static_token: Optional[str] = None, email: Optional[str] = None,
                 password: Optional[str] = None, otp: Optional[Union[str, Callable[[], str]]] = None,
                 provider: Optional[str] = None, identifier: Optional[str] = None) -> None:
        if static_token is not None and not (isinstance(static_token, str) and static_token):
            raise TypeError("static_token must be a non-empty string")
        if email is not None and identifier is not None:
            raise TypeError("a login names its user by email or by identifier, not both")
        if provider is not None and not (isinstance(provider, str) and provider):
            raise TypeError("provider must be the non-empty name of an authentication provider")
        if identifier is not None and provider is None:
            raise TypeError("an identifier login needs provider= (the default provider logs in by e-mail)")
        name = email if email is not None else identifier
        if (name is None) != (password is None) and static_token is None:
            raise TypeError("give both username (email) and password, or neither")
        for label, value in (("static_token", static_token), ("password", password), ("otp", otp),
                             ("username", name)):
            if isinstance(value, str) and any(c in value for c in "\r\n\0"):
                raise ValueError("%s must not contain CR, LF or NUL" % label)
        self.static_token = static_token
        self.email = email
        self.identifier = identifier
        self.password = password
        self.otp = otp
        self.provider = provider

    def login_payload(self) -> Dict[str, Optional[str]]:
        """The body of POST /auth/login[/provider]: what Directus's local driver (``email``) or LDAP
        driver (``identifier``) reads, the password, a fresh OTP when there is one, and JSON mode."""
        if self.identifier is not None:
            payload: Dict[str, Optional[str]] = {"identifier": self.identifier}
        else:
            payload = {"email": self.email}
        payload["password"] = self.password
        payload["mode"] = "json"
        if self.otp is not None:
            payload["otp"] = self.otp() if callable(self.otp) else self.otp
        return payload

    @property
    def kind(self) -> str:
        """``"static"``, ``"password"`` or ``"none"``; a static token takes precedence."""
        if self.static_token is not None:
            return "static"
        if self.password is not None:
            return "password"
        return "none"

    def __repr__(self) -> str:
        if self.kind == "password":
            return "<Credentials password for %r>" % (self.email if self.email is not None else self.identifier,)
        return "<Credentials %s>" % self.kind


class TokenState:
    """The tokens of a password policy. Plain data: each runner guards it with its own lock.

    ``generation`` grows at every change, so a caller can tell whether someone else already
    refreshed the token it saw fail. ``logins`` and ``refreshes`` count what happened.
    """

    __slots__ = ("access_token", "refresh_token", "expires_at", "refresh_at", "generation",
                 "logins", "refreshes")

    access_token: Optional[str]
    refresh_token: Optional[str]
    expires_at: Optional[float]
    refresh_at: Optional[float]
    generation: int
    logins: int
    refreshes: int

    def __init__(self) -> None:
        self.access_token = None
        self.refresh_token = None
        self.expires_at = None
        self.refresh_at = None
        self.generation = 0
        self.logins = 0
        self.refreshes = 0

    def usable(self, now: float) -> bool:
        """Whether the access token can be sent as it is (it exists and is not about to expire)."""
        return self.access_token is not None and (self.refresh_at is None or now < self.refresh_at)

    def store(self, data: Mapping[str, Any], now: float) -> None:
        """Take the tokens of a login or refresh answer's ``data``."""
        access, refresh = data.get("access_token"), data.get("refresh_token")
        if not isinstance(access, str) or not access:
            raise AuthenticationError("the server's authentication answer carried no access token",
                                      status=200)
        self.access_token = access
        self.refresh_token = refresh if isinstance(refresh, str) and refresh else None
        expires_ms = data.get("expires")
        if isinstance(expires_ms, (int, float)) and expires_ms > 0:
            lifetime = expires_ms / 1000.0
            self.expires_at = now + lifetime
            self.refresh_at = self.expires_at - min(_MARGIN_MAX, lifetime * _MARGIN_SHARE)
        else:
            self.expires_at = self.refresh_at = None
        self.generation += 1

    def clear(self) -> None:
        self.access_token = self.refresh_token = self.expires_at = self.refresh_at = None
        self.generation += 1

    def __repr__(self) -> str:
        return "<TokenState generation=%d logins=%d refreshes=%d %s>" % (
            self.generation, self.logins, self.refreshes,
            "with token" if self.access_token else "without token")


def _auth_request(policy: RequestPolicy, path: str, payload: Mapping[str, Optional[str]]) -> Request:
    headers = dict(policy.base_headers)
    headers["Content-Type"] = "application/json"
    return Request("POST", policy.base_url + path, headers, encode_json(payload), auth=False)


def _login(policy: RequestPolicy) -> Flow[None]:
    credentials = policy.credentials
    payload = credentials.login_payload()
    path = "/auth/login"
    if credentials.provider:
        path += "/" + quote_path_value("provider", credentials.provider)
    request = _auth_request(policy, path, payload)
    response = yield from policy.send_with_retries(request)
    if response.status != 200:
        raise error_from_response(response.status, response.headers, response.body, "POST", request.url,
                                  response.attempts)
    policy.tokens.store(response.json()["data"], policy.clock())
    policy.tokens.logins += 1


def authenticate_flow(policy: RequestPolicy, seen_generation: int) -> Flow[None]:
    """Make ``policy.tokens`` hold a usable access token. Runs under the authentication lock.

    ``seen_generation`` is the token generation the caller saw expire or fail. If another caller
    has replaced that token meanwhile, its result is reused; otherwise the refresh token is spent,
    and when it is dead (or its answer was lost), the client logs in again with the password.
    """
    tokens = policy.tokens
    if tokens.generation != seen_generation and tokens.usable(policy.clock()):
        return
    if policy.credentials.kind != "password":
        raise AuthenticationError("the client has no password to log in with")
    if tokens.refresh_token is not None:
        request = _auth_request(policy, "/auth/refresh",
                                {"refresh_token": tokens.refresh_token, "mode": "json"})
        tokens.refresh_token = None  # single use: whatever happens next, it is spent
        try:
            response = yield from policy.send_with_retries(request)
        except TransportError as error:
            if not error.may_have_been_processed:
                raise
            response = None  # the refresh may have rotated the tokens: only a login is safe now
        if response is not None and response.status == 200:
            tokens.store(response.json()["data"], policy.clock())
            tokens.refreshes += 1
            return
        if response is not None and response.status != 401:
            raise error_from_response(response.status, response.headers, response.body, "POST", request.url,
                                      response.attempts)
    yield from _login(policy)


def logout_flow(policy: RequestPolicy) -> Flow[None]:
    """Revoke the refresh token on the server and forget the tokens."""
    tokens = policy.tokens
    refresh_token = tokens.refresh_token
    tokens.clear()
    if refresh_token is None:
        return
    request = _auth_request(policy, "/auth/logout", {"refresh_token": refresh_token, "mode": "json"})
    response = yield from policy.send_with_retries(request)
    if response.status >= 300:
        raise error_from_response(response.status, response.headers, response.body, "POST", request.url,
                                  response.attempts)


# What login(), refresh() and logout() of both clients run: each under the authentication lock.

def login_now_flow(policy: RequestPolicy) -> Flow[None]:
    """Log in now (or refresh, when there is a refresh token), one at a time like every request."""
    yield Authenticate(authenticate_flow(policy, policy.tokens.generation))


def refresh_now_flow(policy: RequestPolicy) -> Flow[None]:
    """Rotate the tokens now: refresh, or log in when there is nothing to refresh."""
    if policy.credentials.kind != "password":
        raise TypeError("refresh() needs a client that logs in with username and password")
    yield Authenticate(authenticate_flow(policy, policy.tokens.generation))


def logout_now_flow(policy: RequestPolicy) -> Flow[None]:
    """Revoke the refresh token and forget the tokens, while no login or refresh runs."""
    yield Authenticate(logout_flow(policy))


def access_token_flow(policy: RequestPolicy, stale: Optional[str] = None) -> Flow[Tuple[Optional[str], Optional[float]]]:
    """A flow (run it with the client's runner): a usable access token and its expiry on the
    policy's clock (None: never), and one other than ``stale`` when the credentials can make one.

    For a static token it is the token, without credentials (None, None). A password session logs
    in or refreshes first when needed, one at a time like every request does. Whoever needs the
    token outside a request (a realtime socket, an asset URL) gets it here: a socket must change
    tokens before the server expires them, which can be earlier than the REST token manager would
    refresh by itself, so ``stale`` asks for the client's own single-flight refresh (under the
    client's authentication lock); the session's single-use refresh token is spent where the REST
    session expects it, and never elsewhere.
    """
    credentials = policy.credentials
    if credentials.kind == "static":
        return credentials.static_token, None
    if credentials.kind == "none":
        return None, None
    tokens = policy.tokens
    if not tokens.usable(policy.clock()):
        yield from login_now_flow(policy)
    if stale is not None and tokens.access_token == stale:
        yield Authenticate(authenticate_flow(policy, tokens.generation))
    return tokens.access_token, tokens.expires_at
