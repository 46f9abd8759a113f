"""AsyncDirectusClient against a real Directus: the seed examples' calls, every auth path, errors,
a chunked bulk write, and 200 concurrent reads within the configured number of connections.

Each test runs its coroutine with asyncio.run (pytest is the only test dependency).
"""

import asyncio
import time

import pytest

from pydirectus import (AuthenticationError, DirectusError, ForbiddenError, InvalidPayloadError, InvalidQueryError, Item,
                        ItemList)
from pydirectus.async_client import AsyncDirectusClient
from tests.rest import call


def run(coroutine):
    return asyncio.run(coroutine)


def static_client(server, **kwargs):
    return AsyncDirectusClient(hostname=server.url, static_token=server.token, **kwargs)


def password_client(server, **kwargs):
    return AsyncDirectusClient(hostname=server.url, username=server.email, password=server.password, **kwargs)


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


def test_static_password_and_public_auth(directus):
    async def main():
        async with password_client(directus) as client:
            assert (await client.read_me(fields=["email"]))["email"] == directus.email
            assert (await client.read_me(fields=["email"]))["email"] == directus.email
            assert client.tokens.logins == 1
            await client.refresh()
            assert client.tokens.refreshes == 1
            await client.logout()
            assert client.tokens.access_token is None
            await client.read_me(fields=["id"])  # logs in again
            assert client.tokens.logins == 2
        async with AsyncDirectusClient(hostname=directus.url, static_token="wrong-token", retries=0) as client:
            with pytest.raises(AuthenticationError):
                await client.read_me()
        async with AsyncDirectusClient(hostname=directus.url, username=directus.email, password="nope") as client:
            with pytest.raises(AuthenticationError):
                await client.read_me()
            assert client.tokens.access_token is None
    run(main())


def test_expiry_refresh_replay_and_dead_refresh_token(short_ttl_server):
    async def main():
        async with password_client(short_ttl_server) as client:
            await client.read_me()
            client.tokens.refresh_at = None  # pretend it never expires: the server must say TOKEN_EXPIRED
            await asyncio.sleep(3.5)
            assert (await client.read_me(fields=["email"]))["email"] == short_ttl_server.email
            assert client.tokens.refreshes == 1 and client.tokens.logins == 1
            # someone else spends the single-use refresh token: the client logs in again
            stolen = call(short_ttl_server.url, "POST", "/auth/refresh",
                          {"refresh_token": client.tokens.refresh_token, "mode": "json"})
            assert stolen.status == 200
            client.tokens.refresh_at = 0.0
            assert (await client.read_me(fields=["email"]))["email"] == short_ttl_server.email
            assert client.tokens.logins == 2
    run(main())


def test_errors_map_like_the_sync_client(directus, collection):
    async def main():
        async with static_client(directus, retries=0) as client:
            with pytest.raises(ForbiddenError):
                await client.read_item(collection, 999999)
            with pytest.raises(InvalidPayloadError) as caught:
                await client.create_collection({"collection": collection, "schema": {}, "meta": {}})
            assert caught.value.status == 400 and caught.value.code == "INVALID_PAYLOAD"
            with pytest.raises(InvalidQueryError) as caught:
                await client.read_items(collection, filter={"title": {"_bogus": "x"}})
            assert caught.value.code == "INVALID_QUERY"
        async with AsyncDirectusClient(hostname="http://127.0.0.1:9", retries=0, proxies={}) as client:
            with pytest.raises(DirectusError):
                await client.server_ping()
    run(main())


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
