"""AsyncDirectusClient: the spec's operations and the helpers as coroutine methods, run by the async room.

Every operation of ``DirectusClient`` is here as an ``async def`` with the same name, signature and
docstring, installed by the same interpreter from the same spec; the helpers run the same flows of
``_core`` (``FileFlows``, ``PagingFlows``, ``TusFlows``, ``RealtimeFlows``). ``_async/runner.py``'s
``AsyncRunner`` performs them over ``_async/transport.py``. What is written here is only what
ties ``ClientBase`` to the async room.

    async with AsyncDirectusClient(hostname="http://127.0.0.1:8055", static_token="...") as directus:
        articles = await directus.read_items("articles", limit=10)
"""

from ._async.runner import AsyncRunner, method_for
from ._core.realtime import RealtimeFlows
from ._core.client import IN_PYODIDE, ClientBase
from ._core.files import FileFlows
from ._core.tus import TusFlows
from .client import DirectusClient, read_json_file
from ._core.helpers import install_helpers
from ._core.interpreter import install_operations
from ._core.paging import PagingFlows

__all__ = ["AsyncDirectusClient"]


class AsyncDirectusClient(ClientBase, FileFlows, PagingFlows, TusFlows, RealtimeFlows):
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

    def _new_tls_context(self, verify, cafile):
        if IN_PYODIDE:  # TLS is the browser's
            return None
        from ._sync.transport import make_ssl_context
        return make_ssl_context(verify, cafile)

    def _new_transport(self, settings):
        if IN_PYODIDE:  # no sockets: the browser's fetch
            from ._pyodide.transport import FetchTransport
            return FetchTransport(connect_timeout=settings.connect_timeout, read_timeout=settings.read_timeout)
        from ._async.transport import AsyncHTTPTransport
        return AsyncHTTPTransport(ssl_context=settings.ssl_context, connect_timeout=settings.connect_timeout,
                                  read_timeout=settings.read_timeout, proxies=settings.proxies,
                                  max_connections=settings.max_connections)

    _read_json_file = staticmethod(read_json_file)

    def _new_runner(self, transport, logger, sleep, clock):
        import time
        return AsyncRunner(transport, logger, sleep, clock or time.monotonic)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        await self.aclose()

    async def aclose(self):
        """Close the pooled connections."""
        await self.transport.aclose()


install_helpers(AsyncDirectusClient, method_for)
# the same operations as DirectusClient's; the hand-written ones are above (login, refresh, logout)
# or come from FileFlows and TusFlows (uploads, TUS) as helpers
install_operations(AsyncDirectusClient, list(DirectusClient.operations.values()), asynchronous=True)
if IN_PYODIDE:  # no sockets for the realtime connection: realtime() says so
    from ._pyodide.transport import refuse_realtime
    refuse_realtime(AsyncDirectusClient)
