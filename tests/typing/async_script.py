"""A typical asyncio script against AsyncDirectusClient: ``mypy --strict`` must accept it with no
error (tests/unit/test_typing.py). Every operation is awaited and the annotations state what the
async stub promises, the same results as DirectusClient's.

It runs too: ``python tests/typing/async_script.py URL TOKEN`` against a server with an
``articles`` collection (id, title, views).
"""

import asyncio
import io
import sys
from dataclasses import dataclass
from typing import Any, List, Optional

from pydirectus import AsyncDirectusClient, BulkWriteError, File, Item, ItemList, NotFoundError


@dataclass
class Article(Item):
    id: Optional[int] = None
    title: str = ""
    views: int = 0


async def crud(directus: AsyncDirectusClient) -> str:
    created: Article = await directus.create_item("articles", {"title": "Hello", "views": 1}, model=Article)
    assert created.id is not None
    read: Item = await directus.read_item("articles", created.id, fields=["id", "title"])
    await directus.update_item("articles", created.id, {"title": read["title"] + "!"})
    articles: ItemList[Article] = await directus.read_items(
        "articles", filter={"id": {"_eq": created.id}}, limit=1, meta="*", model=Article)
    await directus.delete_item("articles", created.id)
    try:
        await directus.read_item("articles", created.id)
    except NotFoundError as error:
        print(error.status, error.code)
    return articles[0].title


async def concurrently(directus: AsyncDirectusClient, keys: List[int]) -> List[Item]:
    return list(await asyncio.gather(*(directus.read_item("articles", key) for key in keys)))


async def large(directus: AsyncDirectusClient) -> int:
    seen = 0
    async for article in directus.iter_items("articles", filter={"views": {"_gte": 0}}, page_size=100):
        print(article.id, article["title"])
        seen += 1
    counted: int = await directus.count_items("articles", filter={"views": {"_gte": 0}})
    grouped: Any = await directus.aggregate("articles", count="*", group_by=["views"])
    print(counted, grouped)
    return seen


async def bulk(directus: AsyncDirectusClient) -> int:
    try:
        created: ItemList[Item] = await directus.create_items(
            "articles", [{"title": "t%d" % number} for number in range(1200)])
    except BulkWriteError as error:
        print(error.committed, error.chunks)
        raise
    await directus.delete_items("articles", [item.id for item in created])
    return len(created)


async def files(directus: AsyncDirectusClient) -> int:
    uploaded: File = await directus.upload_file(b"some text", filename="notes.txt", title="Notes",
                                                progress=lambda done, total: None)
    assert uploaded.id is not None
    target = io.BytesIO()
    written: Optional[str] = await directus.download_file(uploaded.id, target)
    size = 0
    async for chunk in directus.iter_file(uploaded.id, chunk_size=1024):
        size += len(chunk)
    print(written, uploaded.filesize, size)
    await directus.delete_file(uploaded.id)
    return size


async def live(directus: AsyncDirectusClient) -> List[str]:
    titles: List[str] = []
    async with directus.realtime(timeout=10.0) as rt:
        async for event in rt.subscribe("articles", query={"fields": ["id", "title"]}):
            if event.type in ("init", "create"):
                titles.extend(article["title"] for article in event.data)
            if event.type != "init" or len(titles) >= 3:
                break
        print(await rt.items.create("articles", {"title": "over the socket"}))
    return titles


async def main(url: str, token: str) -> None:
    async with AsyncDirectusClient(hostname=url, static_token=token, max_connections=8) as directus:
        title = await crud(directus)
        created = await directus.create_items("articles", [{"title": "a"}, {"title": "b"}])
        fetched = await concurrently(directus, [item.id for item in created])
        print(title, len(fetched), await large(directus), await bulk(directus), await files(directus))
        await directus.delete_items("articles", [item.id for item in created])
        print(await directus.server_ping(), await directus.request("GET", "/server/info"))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
