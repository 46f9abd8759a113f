"""pydirectus: a Python client for the Directus REST API, standard library only.

    from pydirectus import DirectusClient

    directus = DirectusClient(hostname="http://127.0.0.1:8055", static_token="...")
    articles = directus.read_items("articles", limit=10, meta="total_count")

Every method comes from the endpoint spec in ``endpoints.json``. ``AsyncDirectusClient``, the
same operations as coroutines, is imported on first use (it brings asyncio, which ``import
pydirectus`` alone does not pay for), and so are the models ``Item``, ``File`` and ``ItemList``
(dataclasses). ``pydirectus.testing`` (not imported here) starts a
throwaway Directus server for tests.
"""

from __future__ import annotations

__version__ = "0.1.0"  # the one place the version is written (the build reads it here)

from ._core import records as _records  # noqa: E402 - after __version__, which _core/client.py reads on import
from ._core.bulk import BulkWriteError  # noqa: E402
from .client import DirectusClient  # noqa: E402
from .errors import (APIError, Attempt, AuthenticationError, BadRequestError, DirectusError,  # noqa: E402
                     ForbiddenError, InvalidPayloadError, InvalidQueryError, NotFoundError, RateLimitedError,
                     ServerError, TimeoutError, TransportError, UniqueConflictError, UnsupportedOperationError)
from ._core.retry import RetryPolicy  # noqa: E402

__all__ = [
    "DirectusClient", "AsyncDirectusClient", "__version__", "RetryPolicy",
    "Item", "Model", "File", "ItemList",
    "DirectusError", "APIError", "AuthenticationError", "ForbiddenError", "NotFoundError",
    "UnsupportedOperationError", "BadRequestError", "InvalidPayloadError", "InvalidQueryError", "UniqueConflictError",
    "RateLimitedError", "ServerError", "TransportError", "TimeoutError", "BulkWriteError", "Attempt",
]

TYPE_CHECKING = False  # type checkers read this as True (mypy and pyright know the name), so they see the imports
if TYPE_CHECKING:
    from typing import Any

    from .async_client import AsyncDirectusClient  # noqa: F401
    from .models import File, Item, ItemList, Model  # noqa: F401


def __getattr__(name: str) -> Any:
    """``AsyncDirectusClient`` and the models, imported on first access (PEP 562): asyncio, and the
    dataclasses (with the inspect module they import), cost more than the rest of the package."""
    found: Any
    if name == "AsyncDirectusClient":
        from .async_client import AsyncDirectusClient as found
    elif name in ("Item", "Model", "File", "ItemList"):
        found = getattr(_records.models(), name)
    else:
        raise AttributeError("module %r has no attribute %r" % (__name__, name))
    globals()[name] = found
    return found
