"""Transports that answer from a function, without sockets: the seam of ``_core.records.Transport``
and ``AsyncTransport`` (as httpx's MockTransport), for tests of everything above it.

    def handler(request):
        return json_response(200, {"data": []})

    client = DirectusClient(hostname="http://directus.test", static_token="t",
                            transport=MockTransport(handler))

``handler(request)`` returns a Response or raises a TransportError; ``requests`` records every
request sent.
"""

import json

from pydirectus._core.records import Response
from pydirectus._core.http11 import Headers


def json_response(status, document, headers=None):
    """A Response with ``document`` as its JSON body."""
    fields = [("Content-Type", "application/json; charset=utf-8")] + list((headers or {}).items())
    return Response(status, Headers(fields), json.dumps(document).encode("utf-8"))


class MockTransport:
    """A sync transport: ``send`` asks ``handler``."""

    def __init__(self, handler):
        self.handler = handler
        self.requests = []
        self.closed = False

    def send(self, request):
        self.requests.append(request)
        response = self.handler(request)
        response.method, response.url = request.method, request.url
        return response

    def close(self):
        self.closed = True


class AsyncMockTransport(MockTransport):
    """The async twin: ``send`` and ``aclose`` are coroutines."""

    async def send(self, request):  # type: ignore[override]
        return MockTransport.send(self, request)

    async def aclose(self):
        self.closed = True
