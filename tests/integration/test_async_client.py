"""AsyncDirectusClient used natively against a real Directus: the seed examples' calls awaited,
``async for`` over a collection, a chunked bulk write, and 200 concurrent reads within the
configured number of connections. The behaviours both clients share (auth paths, errors, faults,
files, bulk, realtime) are tested once for both: see ``make_client`` in tests/conftest.py.

Each test runs its coroutine with asyncio.run (pytest is the only test dependency).
"""

import asyncio
import time

import pytest

from pydirectus import Item, ItemList
from pydirectus.async_client import AsyncDirectusClient
from tests.rest import call

# The conformance core: runs against every supported Directus version (tests/conftest.py).
pytestmark = pytest.mark.conformance


def run(coroutine):
    return asyncio.run(coroutine)


def static_client(server, **kwargs):
    return AsyncDirectusClient(hostname=server.url, static_token=server.token, **kwargs)


def test_seed_examples_calls(directus, collection):
    async def main():
        async with AsyncDirectusClient(hostname=directus.url) as public:
            assert await public.server_ping() == b"pong"
        async with static_client(directus) as directus_client:
            created = await directus_client.create_item(collection, data={"title": "Hello", "views": 1})
            assert isinstance(created, Item) and created["title"] == "Hello" and created.id
            await directus_client.create_items(collection, data=[{"title": "One"}, {"title": "Two"}])
            items = await directus_client.read_items(collection, query={"limit": 10})
            assert isinstance(items, ItemList) and len(items) == 3
            filtered = await directus_client.read_items(collection=collection,
                                                        query={"filter": {"title": {"_eq": "One"}}})
            assert [item["title"] for item in filtered] == ["One"]
            page = await directus_client.read_items(collection, limit=2, sort=["-id"], meta="*")
            assert page.total_count == 3 and [item.title for item in page] == ["Two", "One"]
            item = await directus_client.read_item(collection=collection, id=created.id)
            assert item.title == "Hello"
            updated = await directus_client.update_item(collection=collection, id=created.id, data={"title": "Hi"})
            assert updated["title"] == "Hi" and updated["views"] == 1
            await directus_client.update_items(collection, data={"keys": [created.id], "data": {"views": 5}})
            assert (await directus_client.read_item(collection, created.id)).views == 5
            assert await directus_client.delete_item(collection=collection, id=created.id) is None
            assert await directus_client.request("GET", "/server/ping", auth=False) == b"pong"
            me = await directus_client.read_me(fields=["email"])
            assert me["email"] == directus.email
    run(main())
    assert call(directus.url, "GET", "/items/%s" % collection, token=directus.token).body["data"][0]["title"] == "One"


def test_native_iteration_counts_and_aggregates(directus, collection):
    call(directus.url, "POST", "/items/%s" % collection, [{"title": "x%d" % i, "views": i} for i in range(25)],
         token=directus.token)

    async def main():
        async with static_client(directus) as client:
            items = client.iter_items(collection, page_size=10, fields=["title"])  # nothing sent yet
            titles = [item["title"] async for item in items]
            early = []
            async for item in client.iter_items(collection, sort=["-views"], page_size=4):
                early.append(item.views)
                if len(early) == 6:
                    break
            return (titles, early, await client.count_items(collection, filter={"views": {"_lt": 10}}),
                    await client.aggregate(collection, sum="views", group_by=["views"], limit=3))
    titles, early, count, groups = run(main())
    assert sorted(titles) == sorted("x%d" % i for i in range(25))
    assert early == [24, 23, 22, 21, 20, 19] and count == 10
    assert len(groups) == 3 and all(isinstance(group["sum"]["views"], int) for group in groups)


def test_chunked_bulk_write(directus, collection):
    async def main():
        async with static_client(directus, batch_size=40) as client:
            created = await client.create_items(collection, [{"title": "t%d" % i} for i in range(101)])
            assert len(created) == 101 and [item.title for item in created[:2]] == ["t0", "t1"]
            await client.update_items(collection, {"keys": [item.id for item in created], "data": {"views": 7}})
            assert (await client.read_items(collection, aggregate={"sum": ["views"]}))[0]["sum"]["views"] in (707, "707")
            await client.delete_items(collection, [item.id for item in created])
            assert len(await client.read_items(collection)) == 0
    run(main())


def test_200_concurrent_reads_within_the_connection_bound(directus, collection):
    call(directus.url, "POST", "/items/%s" % collection, [{"title": "x%d" % i} for i in range(5)],
         token=directus.token)

    async def main():
        async with static_client(directus, max_connections=8) as client:
            started = time.monotonic()
            results = await asyncio.gather(*[client.read_items(collection, limit=5) for _ in range(200)],
                                           return_exceptions=True)
            elapsed = time.monotonic() - started
            return results, client.transport.stats(), elapsed
    results, stats, elapsed = run(main())
    errors = [result for result in results if isinstance(result, BaseException)]
    assert errors == [] and all(len(result) == 5 for result in results)
    assert stats["peak_open"] <= 8 and stats["opened"] <= 8 and stats["waiting"] == 0
    assert elapsed < 20
