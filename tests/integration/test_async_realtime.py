"""The asyncio realtime client against a real Directus 12.4.0: the behaviours of the sync tests
(test_realtime.py) that its own I/O could break. It runs on that module's server A (handshake mode,
2 s heartbeat, 3 s auth timeout, 5 s access tokens) and restarts it in its last test.
"""

import asyncio
import time
import uuid

import pytest

from pydirectus import ForbiddenError, TimeoutError
from pydirectus.async_client import AsyncDirectusClient
from tests.integration.test_realtime import Relay, Writer, articles_a, server_a  # noqa: F401 (fixtures)


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
    async def test():
        async with static_client(server_a) as client, client.realtime() as rt:
            everything = rt.subscribe(articles_a, query={"fields": ["id", "title"]})
            creates = rt.subscribe(articles_a, event="create")
            assert (await next_event(everything)).type == (await next_event(creates)).type == "init"
            made = await client.create_item(articles_a, {"title": "async"})
            event = await next_event(everything)
            assert event.type == "create" and [item.to_dict() for item in event.data] == [
                {"id": made.id, "title": "async"}]
            assert (await next_event(creates)).data[0]["id"] == made.id

            broken = rt.subscribe("no_such_collection_" + uuid.uuid4().hex[:6])
            with pytest.raises(ForbiddenError):
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


def test_graphql_and_a_connect_proxy(server_a, articles_a):
    proxy = Relay()  # a CONNECT proxy: the REST requests go direct, from their own client

    async def test():
        tunnelled = static_client(server_a, proxies={"http": "http://127.0.0.1:%d" % proxy.port})
        settings = dict(path="/websocket", auth="handshake", heartbeat=2, graphql_path="/graphql")
        async with static_client(server_a) as rest, tunnelled, tunnelled.realtime(**settings) as rt:
            creates = rt.subscribe(articles_a, event="create")
            assert (await next_event(creates)).type == "init"
            subscription = rt.graphql.subscribe("subscription { %s_mutated(event: create) { key } }" % articles_a)
            await asyncio.sleep(0.5)  # no acknowledgement exists for a GraphQL subscribe
            made = await rest.create_item(articles_a, {"title": "gql"})
            event = await next_event(subscription)
            assert event.type == "next" and event.data == {articles_a + "_mutated": {"key": str(made.id)}}
            assert (await next_event(creates)).data[0]["id"] == made.id
    try:
        run(test)
    finally:
        proxy.close()
    port = server_a.url.rsplit(":", 1)[1]
    assert proxy.heads == ["CONNECT 127.0.0.1:%s HTTP/1.1" % port] * 2  # /websocket and /graphql


def test_five_second_tokens_with_a_writer_lose_and_duplicate_nothing(server_a, articles_a):
    async def test():
        client = AsyncDirectusClient(hostname=server_a.url, username=server_a.email, password=server_a.password,
                                     proxies={})
        async with client, client.realtime() as rt:
            subscription = rt.subscribe(articles_a, event="create", query={"fields": ["id"]})
            assert (await next_event(subscription)).type == "init"
            writer = Writer(server_a, articles_a, 12.0).start()
            await asyncio.get_running_loop().run_in_executor(None, writer.join)
            events = await collect(subscription, lambda found: len(found) >= len(writer.ids), 10)
            assert [e.data[0]["id"] for e in events] == writer.ids and len(writer.ids) >= 50
            stats = rt.stats
            assert stats["reauths"] >= 2 and stats.get("token_expired", 0) == 0 and stats.get("disconnects", 0) == 0
            assert client.tokens.refreshes == stats["reauths"] and client.tokens.logins == 1
            print("\nasync proactive: %d created, %d received, %d re-auths" % (
                len(writer.ids), len(events), stats["reauths"]))
    run(test)


def test_server_restart_restores_each_subscription_with_one_init(server_a, articles_a):
    async def test():
        async with static_client(server_a) as client, client.realtime(random=lambda: 0.5) as rt:
            everything = rt.subscribe(articles_a, query={"fields": ["id", "title"]})
            creates = rt.subscribe(articles_a, event="create")
            assert (await next_event(everything)).type == (await next_event(creates)).type == "init"
            before = await client.create_item(articles_a, {"title": "before"})
            await collect(everything, lambda found: bool(found), 5)
            await collect(creates, lambda found: bool(found), 5)
            stopped = time.monotonic()
            server_a.restart()  # blocks the loop: the connection is found dead once it runs again
            events = {}
            for subscription in (everything, creates):
                events[subscription.uid] = await collect(
                    subscription, lambda found: any(e.type == "init" for e in found), 45)
            back_in = time.monotonic() - stopped
            made = await client.create_item(articles_a, {"title": "after"})
            for subscription in (everything, creates):
                events[subscription.uid] += await collect(
                    subscription, lambda found: any(e.type == "create" for e in found), 10)
                events[subscription.uid] += await collect(subscription, lambda found: False, 1.0)
            for found in events.values():
                assert [e.type for e in found] == ["reconnected", "init", "create"]
            assert [item["id"] for item in events[everything.uid][1].data] == [before.id]
            assert events[creates.uid][2].data[0]["id"] == made.id
            assert rt.stats["subscribes_sent"] == 4  # two at the start, exactly one each after the restart
            print("\nasync restart: subscriptions back in %.1f s" % back_in)
    run(test)
