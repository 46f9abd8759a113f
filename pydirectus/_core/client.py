"""What the sync and the async client share: construction, the request policy state, extension
from data. Each client adds its room: its transport and its runner."""

from __future__ import annotations

import os
import sys

from ..errors import ForbiddenError, UnsupportedOperationError, is_whole
from .auth import Credentials, login_now_flow, logout_now_flow, refresh_now_flow
from .bulk import BatchLimits
from .helpers import helper
from .interpreter import install_operations
from .records import build_raw_request, build_request, check_header_values, decode_raw
from .policy import RequestPolicy
from .retry import RetryPolicy
from .spec import DIRECTUS_MAJORS, load_user_spec, server_major, versions_phrase

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing stays out of import time
    import logging
    import ssl
    from typing import Any, Callable, Dict, List, Mapping, Optional, Type, TypeVar, Union

    from ..models import Item
    from .auth import TokenState
    from .effects import Flow
    from .records import Request
    from .spec import Operation

    _Client = TypeVar("_Client", bound="ClientBase")
    SpecSource = Union[str, "os.PathLike[str]", List[Dict[str, Any]], Dict[str, Any]]

__all__ = ["ClientBase", "ConnectionSettings", "USER_AGENT", "IN_PYODIDE"]

# Python compiled to WebAssembly (Pyodide: JupyterLite, PyScript, marimo, Node): no sockets, so the
# clients' room hooks choose the browser room (``_pyodide/``: fetch), imported only then
IN_PYODIDE = sys.platform == "emscripten"

_ITEM_RESULTS = frozenset(("item", "items"))  # the results collection_models applies to (not files)


def _user_agent() -> str:
    import sys
    from .. import __version__
    return "pydirectus/%s Python/%d.%d" % (__version__, sys.version_info[0], sys.version_info[1])


USER_AGENT = _user_agent()


def base_url(hostname: object) -> str:
    """The server's base URL from ``hostname``, checked: http(s), no query, no credentials."""
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


def unsupported_error(operation: Operation, server_version: Optional[str], **answer: Any) -> UnsupportedOperationError:
    """The error of ``operation`` on a server that lacks it: ``server_version`` when known, else the
    server's 404 ROUTE_NOT_FOUND (``answer``: that APIError's attributes)."""
    versions = operation.versions or ()
    message = "%s needs %s" % (operation.name, versions_phrase(versions))
    if versions and versions[-1] == DIRECTUS_MAJORS[-1] and versions[0] > DIRECTUS_MAJORS[0] \
            and versions == tuple(range(versions[0], versions[-1] + 1)):
        message += " (%s came with Directus %d)" % (operation.group, versions[0])
    elif versions and versions[0] == DIRECTUS_MAJORS[0] and versions[-1] < DIRECTUS_MAJORS[-1] \
            and versions == tuple(range(versions[0], versions[-1] + 1)):
        message += " (%s went away in Directus %d)" % (operation.group, versions[-1] + 1)
    if server_version is not None:
        message += "; this server is %s" % server_version
    else:
        message += ("; this server has no route for it (404 ROUTE_NOT_FOUND): it runs another Directus version, "
                    "or the feature is switched off")
    return UnsupportedOperationError(message, operation=operation.name, versions=versions,
                                     server_version=server_version, **answer)


def _route_not_found_explained(flow: Flow[Any], operation: Operation) -> Flow[Any]:
    """``flow``, its 404 ROUTE_NOT_FOUND turned into the UnsupportedOperationError of ``operation``."""
    try:
        return (yield from flow)
    except ForbiddenError as error:
        if error.status != 404 or error.code != "ROUTE_NOT_FOUND" or isinstance(error, UnsupportedOperationError):
            raise
        raise unsupported_error(operation, None, status=error.status, code=error.code, errors=error.errors,
                                method=error.method, url=error.url, body=error.body,
                                attempts=error.attempts) from error


def _version_learnt(flow: Flow[Any], client: ClientBase) -> Flow[Any]:
    """``flow`` (server_info's), whose answer's version the client keeps: ``version`` (what 10.13.4,
    11.17.4 and 12.4.0 tell an administrator; others are told none) or ``directus.version`` (what
    some older releases said)."""
    info = yield from flow
    if isinstance(info, dict):
        version = info.get("version")
        if not isinstance(version, str) and isinstance(info.get("directus"), dict):
            version = info["directus"].get("version")
        if isinstance(version, str) and server_major(version) is not None:
            client.server_version = version
    return info


class ConnectionSettings:
    """How a client connects (``client.connection_settings``): its default transport and its
    realtime sockets use the same TLS context, timeouts and proxies, whatever transport it has.
    ``proxies`` None means HTTP(S)_PROXY and NO_PROXY from the environment; ``max_connections``
    bounds the connections the default transport keeps to the server."""

    __slots__ = ("ssl_context", "connect_timeout", "read_timeout", "proxies", "max_connections")

    def __init__(self, ssl_context: Optional[ssl.SSLContext], connect_timeout: float, read_timeout: float,
                 proxies: Optional[Mapping[str, str]], max_connections: int = 10) -> None:
        self.ssl_context = ssl_context
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.proxies = proxies
        self.max_connections = max_connections

    def __repr__(self) -> str:
        return "ConnectionSettings(connect_timeout=%r, read_timeout=%r, proxies=%r, max_connections=%r, tls=%s)" % (
            self.connect_timeout, self.read_timeout, self.proxies, self.max_connections, self.ssl_context is not None)


class ClientBase:
    """The state both clients hold; see ``DirectusClient`` for what the arguments mean."""

    _asynchronous = False  # whether operations are installed as coroutine methods
    operations: Dict[str, Operation]  # the spec's operations by name (set by install_operations)
    spec_query_sets: Dict[str, Any]  # the packaged spec's query sets, which extensions may name (set by client.py)
    # The model of each collection's items when a call gives no ``model=``: empty here, filled by the
    # typed clients ``python -m pydirectus models`` generates (a dict lookup per items call, no more).
    collection_models: Dict[str, Type[Item]] = {}

    def __init__(self, hostname: Optional[str] = None, static_token: Optional[str] = None,
                 username: Optional[str] = None, password: Optional[str] = None,
                 ssl_verify: Union[bool, str] = True, logger: Optional[logging.Logger] = None, *,
                 email: Optional[str] = None, otp: Union[str, Callable[[], str], None] = None, provider: Optional[str] = None,
                 ssl_context: Optional[ssl.SSLContext] = None, connect_timeout: float = 10.0,
                 read_timeout: float = 60.0, retries: Union[int, RetryPolicy] = 3, deadline: Optional[float] = 300.0,
                 proxies: Optional[Mapping[str, str]] = None, user_agent: Optional[str] = None,
                 batch_size: int = 500, max_batch_bytes: int = 900 * 1024, max_connections: int = 10,
                 server_version: Optional[str] = None, transport: Any = None,
                 sleep: Optional[Callable[[float], Any]] = None, clock: Optional[Callable[[], float]] = None) -> None:
        if not is_whole(max_connections, 1):
            raise ValueError("max_connections must be a positive integer, got %r" % (max_connections,))
        if email is not None and username is not None and email != username:
            raise TypeError("give username or email, not both")
        self.url = base_url(hostname)
        self.server_version = server_version
        # The default provider logs in by e-mail; another provider by the user name it knows (the
        # "identifier" Directus's LDAP driver reads). email= is an e-mail whatever the provider (one
        # on Directus's local driver).
        identifier = None
        if email is None:
            if provider is None:
                email = username
            else:
                identifier = username
        self._credentials = Credentials(static_token, email, password, otp, provider, identifier)
        if logger is None:
            import logging
            logger = logging.getLogger(__name__.rsplit(".", 2)[0])  # the package's own name, above _core.client
        self.logger = logger
        if ssl_context is None and self.url.startswith("https:"):
            ssl_context = self._new_tls_context(ssl_verify is not False, ssl_verify if isinstance(ssl_verify, str) else None)
        self.connection_settings = ConnectionSettings(ssl_context, connect_timeout, read_timeout, proxies,
                                                      max_connections)
        if transport is None:
            transport = self._new_transport(self.connection_settings)
        self.transport = transport
        self.batch_limits = BatchLimits(batch_size, max_batch_bytes)
        headers = {"User-Agent": user_agent or USER_AGENT, "Accept": "application/json"}
        check_header_values(headers)
        retry = retries if isinstance(retries, RetryPolicy) else RetryPolicy(retries)
        self._runner = self._new_runner(transport, logger, sleep, clock)
        self._policy = RequestPolicy(self.url, self._credentials, headers, retry, self._runner.clock, deadline)

    def _new_tls_context(self, verify: bool, cafile: Optional[str]) -> ssl.SSLContext:
        raise NotImplementedError  # each client brings its own (reading CA files is I/O)

    @staticmethod
    def _read_json_file(path: Union[str, os.PathLike[str]]) -> Any:
        raise NotImplementedError  # each client brings its own (reading a file is I/O)

    def _new_transport(self, settings: ConnectionSettings) -> Any:
        raise NotImplementedError  # each client brings its own

    def _new_runner(self, transport: Any, logger: logging.Logger, sleep: Optional[Callable[[float], Any]],
                    clock: Optional[Callable[[], float]]) -> Any:
        raise NotImplementedError  # each client brings its own

    def __repr__(self) -> str:  # never shows a secret
        return "<%s %s, %s>" % (type(self).__name__, self.url, self._credentials.kind)

    @property
    def server_version(self) -> Optional[str]:
        """The server's Directus version (``"11.17.4"``), when known: given as ``server_version=``, or
        learnt from ``server_info()`` (which tells it to an administrator). With it, an operation
        the server's version lacks raises UnsupportedOperationError before anything is sent."""
        return self._server_version

    @server_version.setter
    def server_version(self, version: Optional[str]) -> None:
        major = server_major(version)
        if version is not None and major is None:
            raise ValueError("server_version must be a Directus version such as '11.17.4', got %r" % (version,))
        self._server_version = version
        self._server_major = major

    @property
    def tokens(self) -> TokenState:
        """The token state of a password session (counts ``logins`` and ``refreshes``)."""
        return self._policy.tokens

    def _operation_request(self, operation: Operation, path_values: Mapping[str, Any], data: Any,
                           query_values: Mapping[str, Any]) -> Request:
        return build_request(self.url, operation, path_values, data, query_values,
                             self._policy.headers_for(operation.auth))

    def _call_flow(self, operation: Operation, path_values: Mapping[str, Any], data: Any,
                   query_values: Mapping[str, Any], model: Optional[Type[Item]], versions_checked: bool = False
                   ) -> Flow[Any]:
        """The flow of a call of ``operation`` with bound arguments: what its method returns. The
        request is built now: a bad argument raises before anything is sent."""
        if operation.version_aware and not versions_checked:  # the one check every call pays: an attribute
            return self._version_aware_flow(operation, path_values, data, query_values, model)
        if model is None and self.collection_models and operation.result in _ITEM_RESULTS:
            model = self.collection_models.get(path_values.get("collection", ""))
        request = self._operation_request(operation, path_values, data, query_values)
        if operation.payload == "multipart":  # its files are opened by effects first (see files.py)
            from .files import multipart_call_flow
            return multipart_call_flow(request, lambda ready: self._policy.call_flow(operation, ready, data,
                                                                        self.batch_limits, model))
        return self._policy.call_flow(operation, request, data, self.batch_limits, model)

    def _version_aware_flow(self, operation: Operation, path_values: Mapping[str, Any], data: Any,
                            query_values: Mapping[str, Any], model: Optional[Type[Item]]) -> Flow[Any]:
        """A call of an operation that only some Directus versions have (refused at once when the
        server's version is known to lack it; its 404 ROUTE_NOT_FOUND explained when the version is
        not known), or of one whose answer tells the version (kept)."""
        versions = operation.versions
        if versions is not None and self._server_major is not None and self._server_major not in versions:
            raise unsupported_error(operation, self._server_version)
        flow = self._call_flow(operation, path_values, data, query_values, model, True)
        if versions is not None and self._server_major is None:
            return _route_not_found_explained(flow, operation)
        if versions is None:  # it tells the version (server_info)
            return _version_learnt(flow, self)
        return flow

    def _raw_request(self, method: str, path: str, params: Optional[Mapping[str, Any]], json: Any, data: Any,
                     headers: Optional[Mapping[str, str]], auth: bool) -> Request:
        return build_raw_request(self.url, self._policy.headers_for(auth), method, path, params, json, data,
                                 headers, auth)

    @helper("run")
    def request(self, method: str, path: str, *, params: Optional[Mapping[str, Any]] = None, json: Any = None,
                data: Optional[bytes] = None, headers: Optional[Mapping[str, str]] = None, auth: bool = True
                ) -> Flow[Any]:
        """Send a request to any path of the server (custom endpoints of extensions, say).

        It goes through the same authentication, retries and error mapping as every method.
        ``params`` are query parameters (dicts and lists are sent as JSON), ``json`` a body to send
        as JSON, ``data`` raw bytes. Returns the decoded JSON answer (its ``data`` member when it
        has one), the bytes of a non-JSON answer, or None for an empty one.
        """
        request = self._raw_request(method, path, params, json, data, headers, auth)
        return decode_raw((yield from self._policy.request_flow(request)))

    @helper("run")
    def login(self) -> Flow[None]:
        """Log in now with the username and password (otherwise it happens on the first request).

        POST /auth/login (POST /auth/login/{provider} for a client made with ``provider=``)
        """
        return login_now_flow(self._policy)

    @helper("run")
    def refresh(self) -> Flow[None]:
        """Refresh the access token now, with the refresh token (or a new login when it is dead).

        The client does this by itself shortly before the token expires; call it to rotate the
        tokens early. Only for a password session.

        POST /auth/refresh
        """
        return refresh_now_flow(self._policy)

    @helper("run")
    def logout(self) -> Flow[None]:
        """Revoke the refresh token on the server and forget the tokens of this client.

        POST /auth/logout. The next request logs in again.
        """
        return logout_now_flow(self._policy)

    @classmethod
    def extend(cls: Type[_Client], spec: SpecSource, name: Optional[str] = None) -> Type[_Client]:
        """A subclass of this client with more operations, described in the spec format.

        ``spec`` is a dict with ``operations`` (see spec/README.md), a list of operations, or the
        path of a JSON file. Each becomes a method like the built-in ones, with a signature, a
        docstring, authentication, retries and errors (a coroutine method on the async client).
        Use it for the endpoints of your own extensions::

            Client = DirectusClient.extend([{"name": "greet", "method": "GET", "path": "/greet/{name}",
                                             "doc": "Greet someone."}])
            Client(hostname=..., static_token=...).greet("Ada")
        """
        document = cls._read_json_file(spec) if isinstance(spec, (str, os.PathLike)) else spec
        subclass = type(name or cls.__name__, (cls,), {"__module__": cls.__module__})
        install_operations(subclass, load_user_spec(document, cls.spec_query_sets), inherited=cls.operations,
                           asynchronous=cls._asynchronous)
        return subclass

    def add_operations(self: _Client, spec: SpecSource) -> _Client:
        """Give this one client more operations (see ``extend``); other clients are left as they are."""
        self.__class__ = type(self).extend(spec)
        return self



