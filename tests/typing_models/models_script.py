"""A user's script on the models ``python -m pydirectus models`` generated (directus_models.py, from
tests/codegen_schema.py): mypy --strict and pyright strict report nothing (tests/unit/test_typing.py)."""

import asyncio
import datetime
from typing import Iterator, List, Optional, Union

from pydirectus import Item, ItemList

from directus_models import Articles, AsyncDirectus, Authors, Comments, Directus, SiteSettings

directus = Directus(hostname="http://127.0.0.1:8055", static_token="your_static_token")

articles: ItemList[Articles] = directus.read_items("articles", limit=10, fields=["*", "author.*"])
first: Articles = articles[0]
title: str = first.title
views: int = first.views
body: Optional[str] = first.body
rating: Optional[float] = first.rating
published_on: Optional[datetime.datetime] = first.published_on
author: Optional[Union[str, Authors]] = first.author
if isinstance(first.author, Authors):
    name: str = first.author.name
comments: List[Union[int, Comments]] = first.comments
one: Articles = directus.read_item("articles", 1)
created: Articles = directus.create_item("articles", {"title": "Hello"})
updated: Articles = directus.update_item("articles", 1, {"title": "Hi"})
many: ItemList[Articles] = directus.create_items("articles", [{"title": "a"}, {"title": "b"}])
every: Iterator[Articles] = directus.iter_items("articles", page_size=50)
settings: SiteSettings = directus.read_singleton("site_settings")
site_name: Optional[str] = settings.site_name
other: ItemList[Item] = directus.read_items("not_generated")
anything: object = other[0].whatever
new = Articles(title="Hello", views=0, published=False)
key: str = directus.read_item("authors", "9b0e4c2e-0000-0000-0000-000000000000").id


async def main() -> None:
    async with AsyncDirectus(hostname="http://127.0.0.1:8055", static_token="your_static_token") as client:
        items: ItemList[Articles] = await client.read_items("articles")
        item: Articles = await client.read_item("articles", 1)
        made: Articles = await client.create_item("articles", {"title": "x"})
        async for article in client.iter_items("articles"):
            text: str = article.title
            print(text)
        print(items, item, made)


asyncio.run(main())
