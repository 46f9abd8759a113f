"""DirectusClient: the spec's operations as methods, on a session policy and an HTTP transport.

The operation methods (``read_items``, ``create_item``, ...) are installed from the spec when this
module is imported; see ``interpreter``. What is written by hand here is what is not an operation
and performs I/O: running the shared flows with the sync driver (``ClientBase``, construction and extension from
data, is what both clients share).
"""

from ._core.auth import access_token_flow, login_now_flow, logout_now_flow, refresh_now_flow
from ._core.bulk import call_flow
from ._core.client import USER_AGENT, ClientBase
from ._core.files import FilesMixin
from ._core.interpreter import install_operations
from ._core.records import decode_raw
from ._core.paging import PagingMixin
from ._sync.realtime import RealtimeMixin
from ._core.spec import load_spec
from ._core.tus import TusMixin

__all__ = ["DirectusClient", "USER_AGENT"]


class DirectusClient(ClientBase, FilesMixin, PagingMixin, TusMixin, RealtimeMixin):
    """A client of one Directus server.

    Authentication: a ``static_token`` takes precedence; otherwise ``username`` (the e-mail) and
    ``password``, plus ``otp`` (a code, or a callable returning one) for two-factor accounts,
    logged in on the first request and refreshed shortly before the token expires. ``provider``
    names another provider that takes a password, such as LDAP: the login then goes to
    /auth/login/{provider} and names the user by ``username`` as its ``identifier`` (what
    Directus's LDAP driver reads); ``email=`` instead names an e-mail, for a provider on Directus's
    local driver. OAuth 2.0, OpenID and SAML providers have no password login.
    Without any credentials, requests go out as the public role.

    Transport: TLS is verified unless ``ssl_verify=False``; ``ssl_verify`` may also be the path of
    a CA bundle, and ``ssl_context`` an ``ssl.SSLContext``. ``connect_timeout`` and
    ``read_timeout`` are in seconds. ``retries`` is how many times a failed request may be sent
    again (0 never; or a ``RetryPolicy`` with its backoff, read-timeout retries and retry budget),
    within ``deadline`` seconds across the retries; ``sleep`` and ``clock`` (a monotonic clock) replace
    ``time.sleep`` and ``time.monotonic``, for tests. HTTP(S)_PROXY and NO_PROXY are honoured, or
    ``proxies`` (a dict like ``urllib.request.getproxies()``) replaces them.

    Bulk writes (a list of items, or of keys) of any size are sent in chunks of at most
    ``batch_size`` entries and ``max_batch_bytes`` of JSON; a smaller MAX_BATCH_MUTATION of the
    server is learnt from its first refusal. A failed chunk raises ``BulkWriteError``, which says
    what was committed.

    One client can be shared by many threads. Use it as a context manager, or call ``close()``.
    """

    def _new_tls_context(self, verify, cafile):
        from ._sync.transport import make_ssl_context
        return make_ssl_context(verify, cafile)

    def _new_transport(self, settings):
        from ._sync.transport import HTTPTransport
        return HTTPTransport(ssl_context=settings.ssl_context, connect_timeout=settings.connect_timeout,
                             read_timeout=settings.read_timeout, proxies=settings.proxies)

    def _new_driver(self, transport, logger, sleep, clock):
        import time
        from ._sync.runner import SyncDriver
        return SyncDriver(transport, logger, sleep or time.sleep, clock or time.monotonic)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _call(self, operation, path_values, data, query_values, model):
        request = self._operation_request(operation, path_values, data, query_values)
        return self._driver.run(call_flow(self._session, operation, request, data, self.batch_limits, model))

    def _send(self, request):
        """Send a Request through the session policy (credentials, refresh, retries): its Response."""
        return self._driver.run(self._session.request_flow(request))

    def _access_token(self, stale=None):
        """A usable access token and its expiry on the ``time.monotonic`` clock (None: never), one
        other than ``stale`` when the session can make one: what a realtime socket or an asset URL
        authenticates with (see ``auth.access_token_flow``).
        """
        return self._driver.run(access_token_flow(self._session, stale))

    def request(self, method, path, *, params=None, json=None, data=None, headers=None, auth=True):
        """Send a request to any path of the server (custom endpoints of extensions, say).

        It goes through the same authentication, retries and error mapping as every method.
        ``params`` are query parameters (dicts and lists are sent as JSON), ``json`` a body to send
        as JSON, ``data`` raw bytes. Returns the decoded JSON answer (its ``data`` member when it
        has one), the bytes of a non-JSON answer, or None for an empty one.
        """
        return decode_raw(self._send(self._raw_request(method, path, params, json, data, headers, auth)))

    def login(self):
        """Log in now with the username and password (otherwise it happens on the first request).

        POST /auth/login (POST /auth/login/{provider} for a client made with ``provider=``)
        """
        self._driver.run(login_now_flow(self._session))

    def refresh(self):
        """Refresh the access token now, with the refresh token (or a new login when it is dead).

        The client does this by itself shortly before the token expires; call it to rotate the
        tokens early. Only for a password session.

        POST /auth/refresh
        """
        self._driver.run(refresh_now_flow(self._session))

    def logout(self):
        """Revoke the refresh token on the server and forget the tokens of this client.

        POST /auth/logout. The next request logs in again.
        """
        self._driver.run(logout_now_flow(self._session))

    def close(self):
        """Close the pooled connections."""
        self.transport.close()


install_operations(DirectusClient, load_spec())
