"""DirectusClient: the spec's operations and the helpers as methods, run by the sync room.

The packaged spec is read here; the operations (``read_items``, ``create_item``, ...) and the
helpers (``upload_file``, ``iter_items``, ``realtime``, ...) are installed when this module is
imported (see ``_core/interpreter.py`` and ``_core/helpers.py``). What is written here is only what
ties ``ClientBase`` to its room: the TLS context, the transport, the runner, and closing.
"""

from __future__ import annotations

from ._core.client import IN_PYODIDE, USER_AGENT, ClientBase
from ._core.files import FileFlows
from ._core.helpers import install_helpers
from ._core.interpreter import install_operations
from ._core.paging import PagingFlows
from ._core.realtime import RealtimeFlows
from ._core.spec import load_spec
from ._core.tus import TusFlows
from ._sync.runner import Runner, method_for

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing stays out of import time
    import os
    from typing import Any, Dict, Union

__all__ = ["DirectusClient", "USER_AGENT"]


def packaged_spec() -> Dict[str, Any]:
    """The endpoint spec shipped in this package, read through the package's own loader (as
    ``pkgutil.get_data`` does, without importing it), so that a copy vendored under another name
    or imported from a zip file finds it too."""
    import json
    import os
    import sys
    name = __name__.rpartition(".")[0]  # not __package__: Python 3.8's zipimport sets it only after the import
    package = sys.modules[name]
    loader = package.__spec__.loader if package.__spec__ is not None else None
    if loader is None or package.__file__ is None:
        raise RuntimeError("pydirectus cannot find its own files: its package %r has no loader" % name)
    # every loader of a package (a folder's, a zip's) is a ResourceLoader, which typeshed does not say
    data: bytes = loader.get_data(os.path.join(os.path.dirname(package.__file__), "endpoints.json"))  # type: ignore[attr-defined]
    spec: Dict[str, Any] = json.loads(data.decode("utf-8"))
    return spec


def read_json_file(path: Union[str, os.PathLike[str]]) -> Any:
    """The JSON document in the file at ``path`` (a spec given to ``extend``)."""
    import json
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


class DirectusClient(ClientBase, FileFlows, PagingFlows, TusFlows, RealtimeFlows):
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
    ``proxies`` (a dict like ``urllib.request.getproxies()``) replaces them. ``max_connections``
    bounds the connections kept open to the server (the async client: open at once).

    Bulk writes (a list of items, or of keys) of any size are sent in chunks of at most
    ``batch_size`` entries and ``max_batch_bytes`` of JSON; a smaller MAX_BATCH_MUTATION of the
    server is learnt from its first refusal. A failed chunk raises ``BulkWriteError``, which says
    what was committed.

    One client can be shared by many threads. Use it as a context manager, or call ``close()``.
    """

    def _new_tls_context(self, verify, cafile):
        if IN_PYODIDE:  # TLS is the browser's
            return None
        from ._sync.transport import make_ssl_context
        return make_ssl_context(verify, cafile)

    def _new_transport(self, settings):
        if IN_PYODIDE:  # no sockets: the browser's fetch, waited for with JSPI
            from ._pyodide.transport import SyncFetchTransport
            return SyncFetchTransport(connect_timeout=settings.connect_timeout, read_timeout=settings.read_timeout)
        from ._sync.transport import HTTPTransport
        return HTTPTransport(ssl_context=settings.ssl_context, connect_timeout=settings.connect_timeout,
                             read_timeout=settings.read_timeout, proxies=settings.proxies,
                             max_idle_per_origin=settings.max_connections)

    _read_json_file = staticmethod(read_json_file)

    def _new_runner(self, transport, logger, sleep, clock):
        import time
        if IN_PYODIDE:  # no threads; sleeping suspends on a timer where JSPI allows
            from ._pyodide.runner import PyodideRunner
            from ._pyodide.transport import sync_sleep
            return PyodideRunner(transport, logger, sleep or sync_sleep, clock or time.monotonic)
        return Runner(transport, logger, sleep or time.sleep, clock or time.monotonic)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        """Close the pooled connections."""
        self.transport.close()


install_helpers(DirectusClient, method_for)
_SPEC = packaged_spec()
ClientBase.spec_query_sets = _SPEC["query_sets"]
install_operations(DirectusClient, load_spec(_SPEC))
if IN_PYODIDE:  # no sockets for the realtime connection: realtime() says so
    from ._pyodide.transport import refuse_realtime
    refuse_realtime(DirectusClient)
