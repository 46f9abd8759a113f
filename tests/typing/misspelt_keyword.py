"""Mistakes ``mypy --strict`` must catch in a user's script (tests/unit/test_typing.py).

Each line ending with ``# E: <text>`` must get a mypy error containing <text>, and no other line
may get one: a stub that turns a checked parameter into ``**kwargs`` or a result into ``Any``
lets a mistake through and fails the test.
"""

from dataclasses import dataclass
from typing import List, Optional

from pydirectus import AsyncDirectusClient, DirectusClient, Item


@dataclass
class Article(Item):
    id: Optional[int] = None
    title: str = ""


directus = DirectusClient(hostname="http://127.0.0.1:8055", static_token="your_static_token")

directus.read_items("articles", quer={"limit": 10})  # E: Unexpected keyword argument "quer"
directus.read_items("articles", limit="10")  # E: No overload variant of "read_items"
directus.create_item("articles", data=[{"title": "one"}])  # E: No overload variant of "create_item"
directus.read_item("articles")  # E: No overload variant of "read_item"
views: int = directus.read_items("articles", model=Article)[0].title  # E: Incompatible types in assignment
titles: List[int] = [article.title for article in directus.read_items("articles", model=Article)]  # E: List comprehension has incompatible type List[str]
count: str = directus.count_items("articles")  # E: Incompatible types in assignment
directus.iter_items("articles", quer={})  # E: Unexpected keyword argument "quer"
first: str = next(directus.iter_items("articles", model=Article)).id  # E: Incompatible types in assignment


async def forgets_to_await(client: AsyncDirectusClient) -> None:
    items = client.read_items("articles")
    items[0]  # E: Value of type "Coroutine[Any, Any, ItemList[Item]]" is not indexable
    await client.read_items("articles", quer={})  # E: Unexpected keyword argument "quer"
    client.iter_items("articles", group_by=["title"])  # E: Unexpected keyword argument "group_by"
