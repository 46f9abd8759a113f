"""AsyncDirectusClient: the spec's operations as coroutine methods, on the same session policy.

Every operation of ``DirectusClient`` is here as an ``async def`` with the same name, signature and
docstring, installed by the same interpreter from the same spec. Authentication, refresh, replay
after TOKEN_EXPIRED, re-login, retries, redirects and chunked bulk writes are the very flows the
sync client runs (``policy``, ``auth``, ``bulk``), performed by ``async_driver.AsyncDriver`` over
``async_transport.AsyncHTTPTransport``. What is written here is only what awaits them. The
helpers come from mixins that run the sync client's flows too: paging (``paging``), files and TUS
(``async_files`` over the flows of ``files`` and ``tus``), realtime (``async_realtime`` over the
protocol cores of ``realtime``).

    async with AsyncDirectusClient(hostname="http://127.0.0.1:8055", static_token="...") as directus:
        articles = await directus.read_items("articles", limit=10)
"""

import inspect

from ._async.runner import AsyncFlowRunner
from ._async.files import AsyncFilesMixin, AsyncTusMixin
from ._async.realtime import AsyncRealtimeMixin
from ._core.auth import access_token_flow, login_now_flow, logout_now_flow, refresh_now_flow
from ._core.client import ClientBase
from ._core.bulk import call_flow
from .errors import is_whole
from .client import DirectusClient
from ._core.interpreter import install_operations
from ._core.records import decode_raw
from ._core.paging import AsyncPagingMixin

__all__ = ["AsyncDirectusClient"]


class AsyncDirectusClient(ClientBase, AsyncFilesMixin, AsyncPagingMixin, AsyncTusMixin, AsyncRealtimeMixin,
                          AsyncFlowRunner):
    """An asyncio client of one Directus server: ``DirectusClient``'s operations as coroutines.

    The arguments are ``DirectusClient``'s (see its docstring), plus ``max_connections``: how
    many connections to the server may be open at once; more concurrent requests wait for one to
    be free. ``sleep`` is a coroutine function replacing ``asyncio.sleep``, for tests.

    One client can be shared by many tasks of one event loop; only one login or refresh runs at
    a time, the others wait for it and reuse its result. Cancelling a call (``asyncio.wait_for``,
    ``task.cancel()``) closes the connection it was using and leaves the client usable. Use it as
    ``async with``, or ``await client.aclose()``.
    """

    _asynchronous = True

    def __init__(self, *args, max_connections=10, **kwargs):
        if not is_whole(max_connections, 1):
            raise ValueError("max_connections must be a positive integer, got %r" % (max_connections,))
        self.max_connections = max_connections
        super().__init__(*args, **kwargs)

    def _new_tls_context(self, verify, cafile):
        from ._sync.transport import make_ssl_context
        return make_ssl_context(verify, cafile)

    def _new_transport(self, settings):
        from ._async.transport import AsyncHTTPTransport
        return AsyncHTTPTransport(ssl_context=settings.ssl_context, connect_timeout=settings.connect_timeout,
                                  read_timeout=settings.read_timeout, proxies=settings.proxies,
                                  max_connections=self.max_connections)

    def _new_driver(self, transport, logger, sleep, clock):
        from ._async.runner import AsyncDriver
        import time
        return AsyncDriver(transport, logger, sleep, clock or time.monotonic)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        await self.aclose()

    async def _call(self, operation, path_values, data, query_values, model):
        request = self._operation_request(operation, path_values, data, query_values)
        return await self._driver.run(call_flow(self._session, operation, request, data, self.batch_limits, model))

    async def _send(self, request):
        """Send a Request through the session policy (credentials, refresh, retries): its Response."""
        return await self._driver.run(self._session.request_flow(request))

    async def _access_token(self, stale=None):
        """``DirectusClient._access_token``, awaited."""
        return await self._driver.run(access_token_flow(self._session, stale))

    async def request(self, method, path, *, params=None, json=None, data=None, headers=None, auth=True):
        """Send a request to any path of the server (custom endpoints of extensions, say).

        It goes through the same authentication, retries and error mapping as every method.
        ``params`` are query parameters (dicts and lists are sent as JSON), ``json`` a body to send
        as JSON, ``data`` raw bytes. Returns the decoded JSON answer (its ``data`` member when it
        has one), the bytes of a non-JSON answer, or None for an empty one.
        """
        return decode_raw(await self._send(self._raw_request(method, path, params, json, data, headers, auth)))

    async def login(self):
        """Log in now with the username and password (otherwise it happens on the first request).

        POST /auth/login (POST /auth/login/{provider} for a client made with ``provider=``)
        """
        await self._driver.run(login_now_flow(self._session))

    async def refresh(self):
        """Refresh the access token now, with the refresh token (or a new login when it is dead).

        The client does this by itself shortly before the token expires; call it to rotate the
        tokens early. Only for a password session.

        POST /auth/refresh
        """
        await self._driver.run(refresh_now_flow(self._session))

    async def logout(self):
        """Revoke the refresh token on the server and forget the tokens of this client.

        POST /auth/logout. The next request logs in again.
        """
        await self._driver.run(logout_now_flow(self._session))

    async def aclose(self):
        """Close the pooled connections."""
        await self.transport.aclose()


# the constructor's signature, for help() and IDEs: DirectusClient's, plus max_connections
_base_signature = inspect.signature(ClientBase.__init__)
AsyncDirectusClient.__init__.__signature__ = _base_signature.replace(parameters=list(
    _base_signature.parameters.values()) + [inspect.Parameter("max_connections", inspect.Parameter.KEYWORD_ONLY,
                                                              default=10)])

# the same operations as DirectusClient's; the hand-written ones are above (login, refresh, logout)
# or come from AsyncFilesMixin and AsyncTusMixin (uploads, TUS)
install_operations(AsyncDirectusClient, list(DirectusClient.operations.values()), asynchronous=True)
