"""Mistakes ``mypy --strict`` and pyright must catch in a user's script on generated models
(directus_models.py): each line ending with ``# E: <text>`` must get an error, no other line one."""

from directus_models import Articles, AsyncDirectus, Directus

directus = Directus(hostname="http://127.0.0.1:8055", static_token="your_static_token")
article = directus.read_item("articles", 1)

print(article.titel)  # E: "Articles" has no attribute "titel"
views: str = article.views  # E: Incompatible types in assignment
directus.read_items("articles", limt=10)  # E: No overload variant of "read_items"
article.titel = "x"  # E: "Articles" has no attribute "titel"
Articles(titel="x")  # E: Unexpected keyword argument "titel"
Articles(views="many")  # E: Argument "views" to "Articles" has incompatible type "str"
count: int = directus.read_items("articles")[0].title  # E: Incompatible types in assignment


async def mistakes(client: AsyncDirectus) -> None:
    item = await client.read_item("articles", 1)
    print(item.titel)  # E: "Articles" has no attribute "titel"
