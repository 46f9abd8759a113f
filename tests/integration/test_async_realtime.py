"""The asyncio realtime client used natively against a real Directus: ``async with``,
``await subscription.get()``, REST and socket requests awaited side by side, 50 concurrent socket
reads. Every realtime behaviour runs on both clients in test_realtime.py (the conformance suite);
this module uses its server A (handshake mode, 2 s heartbeat, 5 s access tokens).
"""

import asyncio
import time
import uuid

import pytest

from pydirectus import ForbiddenError, TimeoutError
from tests.conftest import version_of
from pydirectus.async_client import AsyncDirectusClient
from tests.integration.test_realtime import articles_a, server_a  # noqa: F401 (fixtures)

# The conformance core: runs against every supported Directus version (tests/conftest.py).
pytestmark = pytest.mark.conformance


def static_client(server, **kwargs):
    kwargs.setdefault("proxies", {})
    return AsyncDirectusClient(hostname=server.url, static_token=server.token, **kwargs)


def run(test):
    asyncio.run(asyncio.wait_for(test(), 80))


async def next_event(subscription, timeout=10.0, skip=()):
    while True:
        event = await subscription.get(timeout)
        assert event is not None, "no event within %s s on %r" % (timeout, subscription)
        if event.type not in skip:
            return event


async def collect(subscription, until, seconds):
    """Events until ``until(events)`` is true or ``seconds`` pass."""
    events = []
    deadline = time.monotonic() + seconds
    while not until(events) and time.monotonic() < deadline:
        event = await subscription.get(0.5)
        if event is not None:
            events.append(event)
    return events


def test_events_items_and_a_failing_sibling(server_a, articles_a):
    version = version_of(server_a)

    async def test():
        async with static_client(server_a) as client, client.realtime(timeout=3.0) as rt:
            everything = rt.subscribe(articles_a, query={"fields": ["id", "title"]})
            creates = rt.subscribe(articles_a, event="create")
            assert (await next_event(everything)).type == (await next_event(creates)).type == "init"
            made = await client.create_item(articles_a, {"title": "async"})
            event = await next_event(everything)
            assert event.type == "create" and [item.to_dict() for item in event.data] == [
                {"id": made.id, "title": "async"}]
            assert (await next_event(creates)).data[0]["id"] == made.id

            broken = rt.subscribe("no_such_collection_" + uuid.uuid4().hex[:6])
            # 12 refuses it; 10 and 11 never answer it: the client gives up after its timeout
            with pytest.raises(ForbiddenError if version >= (12,) else TimeoutError):
                await next_event(broken)
            assert await broken.get(0.1) is None

            one = await rt.items.create(articles_a, {"title": "socket"})
            assert one.title == "socket" and (await next_event(creates)).data[0]["id"] == one.id
            several = await rt.items.create(articles_a, [{"title": "a"}, {"title": "b"}])
            keys = [made.id, one.id] + [item.id for item in several]
            reads = await asyncio.gather(*[rt.items.read(articles_a, key) for key in keys * 5])
            assert [item.id for item in reads] == keys * 5  # replies found their callers by uid
            assert (await rt.items.update(articles_a, {"views": 7}, one.id)).views == 7
            assert await rt.items.delete(articles_a, ids=keys[2:]) == keys[2:]
            with pytest.raises(TimeoutError):
                await rt.send({"type": "no-such-type"}, timeout=1.0)
            types = [e.type for e in await collect(everything, lambda found: False, 1.0)]
            assert types.count("create") == 3 and types[-2:] == ["update", "delete"]
            assert rt.connected and rt.stats.get("disconnects", 0) == 0
    run(test)
