"""DirectusClient: the spec's operations as methods, on a session policy and an HTTP transport.

The operation methods (``read_items``, ``create_item``, ...) are installed from the spec when this
module is imported; see ``interpreter``. What is written by hand here is what is not an operation:
construction, ``login``/``logout``, a raw ``request`` for custom endpoints, and ``close``.
"""

import sys
import time

from . import __version__  # set by the package's __init__ before it imports this module
from .auth import Credentials, authenticate_flow, logout_flow
from .bulk import BatchLimits, chunkable, chunked_write_flow, refused_for_batch_size
from .effects import Authenticate
from .files import FilesMixin
from .interpreter import install_operations
from .messages import Request, build_request, check_header_values, decode_raw, decode_result, encode_json
from .policy import Session
from .query import encode_free_query
from .realtime import RealtimeMixin
from .retry import RetryPolicy
from .spec import load_spec, load_user_spec
from .paging import PagingMixin
from .tus import TusMixin

__all__ = ["DirectusClient"]

USER_AGENT = "pydirectus/%s Python/%d.%d" % ((__version__,) + tuple(sys.version_info[:2]))


def _base_url(hostname):
    if not isinstance(hostname, str) or not hostname.strip():
        raise TypeError("hostname must be the server's URL, e.g. 'https://directus.example.com'")
    from urllib.parse import urlsplit  # here, not at import time: it is costly to import
    parts = urlsplit(hostname.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("hostname must be an http:// or https:// URL, got %r" % hostname)
    if parts.query or parts.fragment:
        raise ValueError("hostname must not have a query or fragment: %r" % hostname)
    if parts.username or parts.password:
        raise ValueError("hostname must not carry credentials: pass static_token or username/password")
    return "%s://%s%s" % (parts.scheme, parts.netloc, parts.path.rstrip("/"))


class DirectusClient(FilesMixin, PagingMixin, TusMixin, RealtimeMixin):
    """A client of one Directus server.

    Authentication: a ``static_token`` takes precedence; otherwise ``username`` (the e-mail) and
    ``password``, plus ``otp`` (a code, or a callable returning one) for two-factor accounts,
    logged in on the first request and refreshed shortly before the token expires. ``provider``
    names a credentials provider such as LDAP (the login then goes to /auth/login/{provider}).
    Without any credentials, requests go out as the public role.

    Transport: TLS is verified unless ``ssl_verify=False``; ``ssl_verify`` may also be the path of
    a CA bundle, and ``ssl_context`` an ``ssl.SSLContext``. ``connect_timeout`` and
    ``read_timeout`` are in seconds. ``retries`` is how many times a failed request may be sent
    again (0 never; or a ``RetryPolicy`` with its backoff and random source), within ``deadline``
    seconds across the retries; ``sleep`` and ``clock`` (a monotonic clock) replace
    ``time.sleep`` and ``time.monotonic``, for tests. HTTP(S)_PROXY and NO_PROXY are honoured, or
    ``proxies`` (a dict like ``urllib.request.getproxies()``) replaces them.

    Bulk writes (a list of items, or of keys) of any size are sent in chunks of at most
    ``batch_size`` entries and ``max_batch_bytes`` of JSON; a smaller MAX_BATCH_MUTATION of the
    server is learnt from its first refusal. A failed chunk raises ``BulkWriteError``, which says
    what was committed.

    One client can be shared by many threads. Use it as a context manager, or call ``close()``.
    """

    def __init__(self, hostname=None, static_token=None, username=None, password=None, ssl_verify=True,
                 logger=None, *, email=None, otp=None, provider=None, ssl_context=None, connect_timeout=10.0,
                 read_timeout=60.0, retries=3, deadline=300.0, proxies=None, user_agent=None,
                 batch_size=500, max_batch_bytes=900 * 1024, transport=None, sleep=None, clock=None):
        if email is not None and username is not None and email != username:
            raise TypeError("give username or email, not both")
        self.url = _base_url(hostname)
        self._credentials = Credentials(static_token, email if email is not None else username, password, otp,
                                        provider)
        if logger is None:
            import logging
            logger = logging.getLogger(__name__.rpartition(".")[0] or __name__)
        self.logger = logger
        if transport is None:
            from .transport import HTTPTransport, make_ssl_context
            if ssl_context is None and self.url.startswith("https:"):
                verify = ssl_verify is not False
                ssl_context = make_ssl_context(verify, ssl_verify if isinstance(ssl_verify, str) else None)
            transport = HTTPTransport(ssl_context=ssl_context, connect_timeout=connect_timeout,
                                      read_timeout=read_timeout, proxies=proxies)
        self.transport = transport
        self.batch_limits = BatchLimits(batch_size, max_batch_bytes)
        headers = {"User-Agent": user_agent or USER_AGENT, "Accept": "application/json"}
        check_header_values(headers)
        retry = retries if isinstance(retries, RetryPolicy) else RetryPolicy(retries)
        clock = clock or time.monotonic
        self._session = Session(self.url, self._credentials, headers, retry, clock, deadline)
        from .driver import SyncDriver
        self._driver = SyncDriver(transport, logger, sleep or time.sleep, clock)

    def __repr__(self):  # never shows a secret
        return "<DirectusClient %s, %s>" % (self.url, self._credentials.kind)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    @property
    def tokens(self):
        """The token state of a password session (counts ``logins`` and ``refreshes``)."""
        return self._session.tokens

    def _call(self, operation, path_values, data, query_values, model):
        request = build_request(self.url, operation, path_values, data, query_values,
                                self._session.headers_for(operation.auth))
        split = chunkable(operation, data) if request.body is not None else None
        if split is not None and (len(split[0]) > self.batch_limits.max_items
                                  or len(request.body) > self.batch_limits.max_bytes):
            return self._write_in_chunks(operation, request, data, model)
        response = self._send(request)
        if split is not None and len(split[0]) > 1 and refused_for_batch_size(response):
            return self._write_in_chunks(operation, request, data, model)  # nothing was written
        return decode_result(operation, response, model)

    def _write_in_chunks(self, operation, request, data, model):
        return self._driver.run(chunked_write_flow(self._session, operation, request.url, request.headers, data,
                                                   self.batch_limits, model))

    def _send(self, request):
        """Send a Request through the session policy (credentials, refresh, retries): its Response."""
        return self._driver.run(self._session.request_flow(request))

    def _access_token(self):
        """A usable access token and its expiry on the ``time.monotonic`` clock (None: never).

        For a password session this logs in or refreshes first when needed, one at a time like
        every request does; for a static token it is the token; without credentials (None, None).
        The realtime client authenticates its socket with this: the socket itself never spends the
        REST session's single-use refresh token.
        """
        session = self._session
        kind = session.credentials.kind
        if kind == "static":
            return session.credentials.static_token, None
        if kind == "none":
            return None, None
        if not session.tokens.usable(session.clock()):
            self._driver.run(_authenticating(authenticate_flow(session, session.tokens.generation)))
        return session.tokens.access_token, session.tokens.expires_at

    def request(self, method, path, *, params=None, json=None, data=None, headers=None, auth=True):
        """Send a request to any path of the server (custom endpoints of extensions, say).

        It goes through the same authentication, retries and error mapping as every method.
        ``params`` are query parameters (dicts and lists are sent as JSON), ``json`` a body to send
        as JSON, ``data`` raw bytes. Returns the decoded JSON answer (its ``data`` member when it
        has one), the bytes of a non-JSON answer, or None for an empty one.
        """
        if not isinstance(method, str) or not method.isalpha():
            raise ValueError("method must be an HTTP method name, got %r" % (method,))
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError("path must start with '/', got %r" % (path,))
        if json is not None and data is not None:
            raise TypeError("give json or data, not both")
        url = self.url + path
        if params:
            url += ("&" if "?" in path else "?") + encode_free_query(params)
        request_headers = dict(self._session.headers_for(auth))
        body = data
        if json is not None:
            body = encode_json(json)
            request_headers["Content-Type"] = "application/json"
        if headers:
            check_header_values(headers)
            request_headers.update(headers)
        return decode_raw(self._send(Request(method.upper(), url, request_headers, body, auth)))

    @classmethod
    def extend(cls, spec, name=None):
        """A subclass of this client with more operations, described in the spec format.

        ``spec`` is a dict with ``operations`` (see spec/README.md), a list of operations, or the
        path of a JSON file. Each becomes a method like the built-in ones, with a signature, a
        docstring, authentication, retries and errors. Use it for the endpoints of your own
        extensions::

            Client = DirectusClient.extend([{"name": "greet", "method": "GET", "path": "/greet/{name}",
                                             "doc": "Greet someone."}])
            Client(hostname=..., static_token=...).greet("Ada")
        """
        subclass = type(name or cls.__name__, (cls,), {"__module__": cls.__module__})
        install_operations(subclass, load_user_spec(spec), inherited=cls.operations)
        return subclass

    def add_operations(self, spec):
        """Give this one client more operations (see ``extend``); other clients are left as they are."""
        self.__class__ = type(self).extend(spec)
        return self

    def login(self):
        """Log in now with the username and password (otherwise it happens on the first request).

        POST /auth/login (POST /auth/login/{provider} for a client made with ``provider=``)
        """
        session = self._session
        self._driver.run(_authenticating(authenticate_flow(session, session.tokens.generation)))

    def refresh(self):
        """Refresh the access token now, with the refresh token (or a new login when it is dead).

        The client does this by itself shortly before the token expires; call it to rotate the
        tokens early. Only for a password session.

        POST /auth/refresh
        """
        session = self._session
        if session.credentials.kind != "password":
            raise TypeError("refresh() needs a client that logs in with username and password")
        if session.tokens.access_token is None:
            self.login()
            return
        self._driver.run(_authenticating(authenticate_flow(session, session.tokens.generation)))

    def logout(self):
        """Revoke the refresh token on the server and forget the tokens of this client.

        POST /auth/logout. The next request logs in again.
        """
        with self._driver.auth_lock:
            self._driver.run(logout_flow(self._session))

    def close(self):
        """Close the pooled connections."""
        self.transport.close()


def _authenticating(flow):
    """A flow that runs an authentication flow under the client's authentication lock."""
    yield Authenticate(flow)


install_operations(DirectusClient, load_spec())
