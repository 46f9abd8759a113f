"""Blocking access to AsyncDirectusClient, so that one conformance suite runs on both clients.

The behavioural tests are written once, against the sync API. For the async client, ``make_client``
builds an ``AsyncDirectusClient`` and wraps it in a ``BlockingProxy``: each method of the client,
or of an object it returns (a realtime connection, a subscription), is called on an event loop
running in a thread of its own and what it returns is awaited there; an ``async for`` becomes a
``for``, an ``async with`` a ``with``, and ``close()`` is ``aclose()``. Nothing of the client runs
outside that loop, so what is tested is the async client, awaited the way an application awaits
it; the loop keeps running between calls, as an application's does (heartbeats, token renewals
and socket reads go on).
The same idea is behind Motor's "Synchro" runner of PyMongo's test suite.
"""

import asyncio
import inspect
import threading

__all__ = ["EventLoopThread", "BlockingProxy", "blocking"]


class EventLoopThread:
    """An asyncio event loop running forever in a daemon thread; ``run`` awaits a coroutine there."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="async-client-loop", daemon=True)
        self._thread.start()

    def _serve(self):
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, awaitable, timeout=None):
        """Await ``awaitable`` on the loop; its result, or its exception raised here."""
        async def awaited():
            return await awaitable
        return asyncio.run_coroutine_threadsafe(awaited(), self.loop).result(timeout)

    def stop(self):
        """Cancel what is still running on the loop, finish async generators, end the thread."""
        async def cancel_the_rest():
            current = asyncio.current_task()
            tasks = [task for task in asyncio.all_tasks() if task is not current]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.loop.shutdown_asyncgens()
        if self.loop.is_running():
            self.run(cancel_the_rest(), timeout=30)
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)
        self.loop.close()


_ASYNC_TYPES = {}  # type -> whether its instances have coroutine methods or async protocols


def _is_async_api(value):
    kind = type(value)
    found = _ASYNC_TYPES.get(kind)
    if found is None:
        found = any(hasattr(kind, name) for name in ("__aenter__", "__aiter__", "__anext__")) or any(
            inspect.iscoroutinefunction(getattr(kind, name, None)) for name in dir(kind) if not name.startswith("__"))
        _ASYNC_TYPES[kind] = found
    return found


def blocking(value, runner):
    """``value`` as blocking code sees it: awaited if awaitable, wrapped if it has an async API."""
    if inspect.isawaitable(value):
        value = runner.run(value)
    return BlockingProxy(value, runner) if _is_async_api(value) else value


class BlockingProxy:
    """The blocking face of an object with an async API (see the module's docstring)."""

    def __init__(self, target, runner):
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_runner", runner)
        object.__setattr__(self, "_iterator", None)

    def __getattr__(self, name):
        target = self._target
        if name == "close" and not hasattr(target, "close") and hasattr(target, "aclose"):
            name = "aclose"
        value = getattr(target, name)
        if callable(value) and not isinstance(value, type):
            def call(*args, **kwargs):
                async def on_the_loop():  # plain methods too: they may start tasks, as subscribe() does
                    result = value(*args, **kwargs)
                    return (await result) if inspect.isawaitable(result) else result
                return blocking(self._runner.run(on_the_loop()), self._runner)
            call.__name__ = name
            return call
        return blocking(value, self._runner)

    def __setattr__(self, name, value):
        setattr(self._target, name, value)

    def __repr__(self):
        return "<blocking %r>" % (self._target,)

    def __enter__(self):
        entered = self._runner.run(self._target.__aenter__())
        return self if entered is self._target else blocking(entered, self._runner)

    def __exit__(self, *exc_info):
        return self._runner.run(self._target.__aexit__(*exc_info))

    def __iter__(self):
        if self._iterator is None:
            object.__setattr__(self, "_iterator", self._target.__aiter__())
        return self

    def __next__(self):
        iterator = self._iterator if self._iterator is not None else self.__iter__()._iterator
        try:
            return blocking(self._runner.run(iterator.__anext__()), self._runner)
        except StopAsyncIteration:
            raise StopIteration from None
