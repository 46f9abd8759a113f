"""A typical script against DirectusClient, as a user writes it: ``mypy --strict`` must accept it
with no error (tests/unit/test_typing.py). The annotations state what the stubs promise (an
``ItemList[Article]`` for ``model=Article``, a ``File`` from an upload, an ``int`` from a count), so
a stub that loosens or breaks a promise fails the check.

It runs too: ``python tests/typing/sync_script.py URL TOKEN`` against a server with an
``articles`` collection (id, title, views).
"""

import io
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional

from pydirectus import (BulkWriteError, DirectusClient, DirectusError, File, ForbiddenError, InvalidPayloadError,
                        Item, ItemList, NotFoundError, TransportError)


@dataclass
class Article(Item):
    id: Optional[int] = None
    title: str = ""
    views: int = 0


@dataclass
class Photo(File):
    credit: str = ""
    keywords: List[str] = field(default_factory=lambda: list[str]())


def popular_titles(directus: DirectusClient, minimum_views: int) -> List[str]:
    articles: ItemList[Article] = directus.read_items(
        "articles", filter={"views": {"_gte": minimum_views}}, sort=["-views"], limit=10, model=Article)
    total: Optional[int] = articles.total_count
    print("total", total)
    return [article.title for article in articles]


def crud(directus: DirectusClient) -> int:
    created: Item = directus.create_item("articles", {"title": "Hello", "views": 1})
    article_id: Any = created.id
    same: Article = directus.read_item("articles", article_id, fields=["id", "title", "views"], model=Article)
    updated: Item = directus.update_item("articles", article_id, {"views": same.views + 1})
    print(updated["views"], dict(updated), updated.to_dict())
    seed_style: ItemList[Item] = directus.read_items(
        collection="articles", query={"filter": {"title": {"_eq": "Hello"}}, "limit": 5})
    for item in seed_style:
        print(item.get("title"), item["views"])
    directus.delete_item("articles", article_id)
    try:
        directus.read_item("articles", article_id)
    except NotFoundError as error:
        print(error.status, error.code, error.message)
    return len(seed_style)


def walk(directus: DirectusClient) -> int:
    seen = 0
    every: Iterator[Item] = directus.iter_items("articles", filter={"views": {"_gt": 0}}, page_size=100)
    for article in every:
        print(article.id, article["title"])
        seen += 1
    counted: int = directus.count_items("articles", filter={"views": {"_gt": 0}})
    totals: Dict[str, Any] = directus.aggregate("articles", count="*", sum="views")
    print(counted, totals)
    return seen


def bulk(directus: DirectusClient) -> List[Any]:
    rows = [{"title": "t%d" % number, "views": number} for number in range(1200)]
    try:
        created: ItemList[Article] = directus.create_items("articles", rows, model=Article)
    except BulkWriteError as error:
        print(error.committed, error.failed, error.not_sent, error.chunks, error.results)
        raise
    keys = [article.id for article in created]
    directus.update_items("articles", {"keys": keys, "data": {"views": 0}})
    directus.delete_items("articles", keys)
    return keys


def files(directus: DirectusClient) -> None:
    uploaded: File = directus.upload_file(b"some text", filename="notes.txt", title="Notes",
                                          progress=lambda done, total: None)
    size: Optional[int] = uploaded.filesize
    print(uploaded.id, uploaded.type, size)
    photos: ItemList[Photo] = directus.read_files(limit=5, model=Photo)
    for photo in photos:
        print(photo.credit, photo.keywords, photo.width)
    both: List[File] = directus.upload_files([b"one", {"file": io.BytesIO(b"two"), "title": "Two"}])
    target = io.BytesIO()
    assert uploaded.id is not None
    directus.download_file(uploaded.id, target)
    for chunk in directus.iter_file(uploaded.id, chunk_size=1024):
        target.write(chunk)
    url: str = directus.asset_url(uploaded.id, width=64)
    thumbnail: bytes = directus.read_asset(uploaded.id, width=32, format="png")
    print(url, len(thumbnail), len(both))
    directus.delete_files([uploaded.id] + [file.id for file in both])


def resumable(directus: DirectusClient, path: str) -> File:
    uploaded: File = directus.upload_file_resumable(path, chunk_size=1024 * 1024, progress=lambda done, total: None)
    return uploaded


def live(directus: DirectusClient) -> List[str]:
    titles: List[str] = []
    with directus.realtime(timeout=10.0) as rt:
        for event in rt.subscribe("articles", query={"fields": ["id", "title"]}, event="create"):
            if event.type == "create":
                titles.extend(article["title"] for article in event.data)
            elif event.type in ("reconnected", "gap", "error"):
                break
            if len(titles) >= 3:
                break
        created = rt.items.create("articles", {"title": "over the socket"})
        print(created, rt.stats)
    return titles


def errors(directus: DirectusClient) -> Optional[str]:
    try:
        directus.create_item("articles", {"views": "not a number"})
    except InvalidPayloadError as error:
        return error.message
    except (ForbiddenError, TransportError) as error:
        print(type(error).__name__, error)
    except DirectusError:
        raise
    return None


def main(url: str, token: str) -> None:
    with DirectusClient(hostname=url, static_token=token, retries=2, read_timeout=30.0) as directus:
        print(popular_titles(directus, 1), crud(directus), walk(directus), len(bulk(directus)))
        files(directus)
        print(errors(directus))
        me = directus.read_me(fields=["id", "email"])
        print(me.id, directus.server_ping(), directus.request("GET", "/server/info"))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
