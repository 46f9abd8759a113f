"""The effects a policy flow yields for its driver to perform.

A flow is a generator: it yields an effect, the driver performs it and sends back the result (or
throws the exception it raised). The sync driver performs them with sockets, ``time.sleep`` and a
``threading.Lock``; an async driver can perform the very same flows with asyncio.
"""

__all__ = ["Send", "Sleep", "Authenticate"]


class Send:
    """Send ``request``; the result is its Response, or a TransportError is thrown in."""

    __slots__ = ("request",)

    def __init__(self, request):
        self.request = request


class Sleep:
    """Wait ``seconds``; the result is None."""

    __slots__ = ("seconds",)

    def __init__(self, seconds):
        self.seconds = seconds


class Authenticate:
    """Run ``flow`` (an authentication flow) while holding the client's authentication lock.

    Directus refresh tokens are single use, so only one login or refresh may run at a time per
    client; the flow itself checks, once it holds the lock, whether another caller already did
    the work.
    """

    __slots__ = ("flow",)

    def __init__(self, flow):
        self.flow = flow
