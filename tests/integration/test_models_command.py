"""``python -m pydirectus models`` against a real Directus: a schema with every field type and
relation kind (m2o, o2m, m2m, m2a, translations, a file field, a singleton, a UUID key), the module
generated from it, used at run time (instances, values, relations expanded with ``fields=``) and
checked by mypy --strict and pyright strict with the user scripts of tests/typing_models/."""

import datetime
import importlib.util
import os
import subprocess
import sys
from decimal import Decimal

import pytest

from pydirectus import DirectusClient, File, Item
from tests import typecheck_models

REQUIRED = os.environ.get("PYDIRECTUS_REQUIRE_MYPY") == "1"
ROOT = typecheck_models.ROOT


def _pk(kind="integer"):
    if kind == "uuid":
        return {"field": "id", "type": "uuid", "meta": {"special": ["uuid"], "hidden": True},
                "schema": {"is_primary_key": True, "length": 36, "has_auto_increment": False}}
    return {"field": "id", "type": "integer", "meta": {"hidden": True},
            "schema": {"is_primary_key": True, "has_auto_increment": True}}


def _f(name, kind, nullable=True, special=None, default=None):
    schema = {"is_nullable": nullable}
    if default is not None:
        schema["default_value"] = default
    return {"field": name, "type": kind, "meta": {"special": special} if special else {}, "schema": schema}


def _alias(name, special):
    return {"field": name, "type": "alias", "meta": {"special": [special]}}


COLLECTIONS = [
    ("authors", [_pk("uuid"), _f("name", "string", nullable=False, default="")], {}),
    ("articles", [_pk(), _f("title", "string", nullable=False, default=""), _f("body", "text"), _f("slug", "uuid"),
                  _f("secret", "hash", special=["hash"]), _f("views", "integer", nullable=False, default=0),
                  _f("big", "bigInteger"), _f("rating", "float"), _f("price", "decimal"),
                  _f("published", "boolean", nullable=False, default=False), _f("data", "json", special=["cast-json"]),
                  _f("keywords", "csv", special=["cast-csv"]), _f("published_on", "dateTime"),
                  _f("date_created", "timestamp", special=["date-created"]), _f("day", "date"), _f("at", "time"),
                  _f("author", "uuid", special=["m2o"]), _f("cover", "uuid", special=["file"])], {}),
    ("comments", [_pk(), _f("article", "integer", special=["m2o"]), _f("text", "text")], {}),
    ("tags", [_pk(), _f("name", "string")], {}),
    ("articles_tags", [_pk(), _f("articles_id", "integer"), _f("tags_id", "integer")], {"hidden": True}),
    ("block_quotes", [_pk(), _f("quote", "text")], {}),
    ("block_images", [_pk(), _f("image", "uuid", special=["file"])], {}),
    ("articles_blocks", [_pk(), _f("articles_id", "integer"), _f("item", "string"), _f("collection", "string")],
     {"hidden": True}),
    ("languages", [{"field": "code", "type": "string", "schema": {"is_primary_key": True, "length": 10}},
                   _f("name", "string")], {}),
    ("articles_translations", [_pk(), _f("articles_id", "integer"), _f("languages_code", "string"),
                               _f("headline", "string")], {"hidden": True}),
    ("site_settings", [_pk(), _f("site_name", "string")], {"singleton": True}),
]
ALIASES = [("articles", "comments", "o2m"), ("articles", "tags", "m2m"), ("articles", "blocks", "m2a"),
           ("articles", "translations", "translations")]
RELATIONS = [
    {"collection": "articles", "field": "author", "related_collection": "authors"},
    {"collection": "articles", "field": "cover", "related_collection": "directus_files"},
    {"collection": "block_images", "field": "image", "related_collection": "directus_files"},
    {"collection": "comments", "field": "article", "related_collection": "articles", "meta": {"one_field": "comments"}},
    {"collection": "articles_tags", "field": "articles_id", "related_collection": "articles",
     "meta": {"one_field": "tags", "junction_field": "tags_id"}},
    {"collection": "articles_tags", "field": "tags_id", "related_collection": "tags",
     "meta": {"junction_field": "articles_id"}},
    {"collection": "articles_blocks", "field": "item", "related_collection": None,
     "meta": {"one_allowed_collections": ["block_quotes", "block_images"], "one_collection_field": "collection",
              "junction_field": "articles_id"}},
    {"collection": "articles_blocks", "field": "articles_id", "related_collection": "articles",
     "meta": {"one_field": "blocks", "junction_field": "item"}},
    {"collection": "articles_translations", "field": "articles_id", "related_collection": "articles",
     "meta": {"one_field": "translations", "junction_field": "languages_code"}},
    {"collection": "articles_translations", "field": "languages_code", "related_collection": "languages",
     "meta": {"junction_field": "articles_id"}},
]


@pytest.fixture(scope="module")
def server(directus_factory):
    """A server of its own (its user collections are exactly these), with the schema built."""
    server = directus_factory(QUERY_LIMIT_DEFAULT="100")
    with DirectusClient(hostname=server.url, static_token=server.token) as client:
        for name, fields, meta in COLLECTIONS:
            client.create_collection({"collection": name, "meta": meta, "schema": {}, "fields": fields})
        for collection, field, special in ALIASES:
            client.create_field(collection, {"field": field, "type": "alias", "meta": {"special": [special]}})
        for relation in RELATIONS:
            client.create_relation(relation)
    return server


def models_command(server, *arguments):
    environment = dict(os.environ, PYTHONPATH=ROOT, DIRECTUS_URL=server.url, DIRECTUS_TOKEN=server.token)
    return subprocess.run([sys.executable, "-m", "pydirectus", "models"] + list(arguments), env=environment,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=300)


@pytest.fixture(scope="module")
def generated(server, tmp_path_factory):
    """(the generated module's path, the module imported)."""
    path = tmp_path_factory.mktemp("live_models") / "directus_models.py"
    result = models_command(server, "--out", str(path))
    assert result.returncode == 0, result.stderr
    spec = importlib.util.spec_from_file_location("directus_models_live", str(path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield path, module
    del sys.modules[spec.name]


def test_the_module_has_a_model_per_user_collection_and_a_header(server, generated):
    path, module = generated
    text = path.read_text(encoding="utf-8")
    assert "# server: %s" % server.url in text and "# version: 12.4.0" in text and "# schema: sha256:" in text
    assert sorted(module.MODELS) == sorted(name for name, _, _ in COLLECTIONS)
    for line in ("    id: int = _absent()", "    title: str = _absent()", "    views: int = _absent()",
                 "    body: Optional[str] = _absent()",
                 "    price: Optional[float] = _absent()",  # SQLite: Directus reports decimal fields as float
                 "    published: bool = _absent()", "    data: Optional[JSON] = _absent()",
                 "    keywords: Optional[List[str]] = _absent()", "    big: Optional[int] = _absent()",
                 "    published_on: Optional[_dt.datetime] = _absent()",
                 "    day: Optional[_dt.date] = _absent()", "    at: Optional[_dt.time] = _absent()",
                 "    author: Optional[Union[str, Authors]] = _absent()",
                 "    cover: Optional[Union[str, File]] = _absent()",
                 "    comments: List[Union[int, Comments]] = _absent()",
                 "    tags: List[Union[int, ArticlesTags]] = _absent()",
                 "    blocks: List[Union[int, ArticlesBlocks]] = _absent()",
                 "    translations: List[Union[int, ArticlesTranslations]] = _absent()",
                 "    item: Optional[Union[str, int, BlockImages, BlockQuotes]] = _absent()",
                 "    languages_code: Optional[Union[str, Languages]] = _absent()",
                 '    """The items of site_settings (a singleton)."""'):
        assert line in text, line


def test_the_typed_client_returns_models_with_values_and_relations(server, generated):
    _, models = generated
    with models.Directus(hostname=server.url, static_token=server.token) as client:
        author = client.create_item("authors", {"name": "Ada"})
        assert isinstance(author, models.Authors) and len(author.id) == 36
        client.create_item("languages", {"code": "en", "name": "English"})
        cover = client.upload_file(b"GIF89a", filename="cover.gif")
        article = client.create_item("articles", {
            "title": "Hello", "views": 3, "published": True, "price": Decimal("12.50"), "rating": 4.5,
            "data": {"a": [1]}, "keywords": ["x", "y"], "published_on": datetime.datetime(2024, 5, 1, 10, 20, 30),
            "day": datetime.date(2024, 5, 1), "at": "10:20:30", "author": author.id, "cover": cover.id,
            "comments": [{"text": "first"}], "tags": [{"tags_id": {"name": "news"}}],
            "blocks": [{"collection": "block_quotes", "item": {"quote": "to be"}}],
            "translations": [{"languages_code": "en", "headline": "Hi"}]})
        assert isinstance(article, models.Articles) and isinstance(article.id, int)
        assert article.title == "Hello" and article.views == 3 and article.published is True
        assert article.price == 12.5  # a float on SQLite (sent as the Decimal's string)
        assert article.published_on == datetime.datetime(2024, 5, 1, 10, 20, 30)
        assert isinstance(article.date_created, datetime.datetime) and article.date_created.tzinfo is not None
        assert article.day == datetime.date(2024, 5, 1) and article.at == datetime.time(10, 20, 30)
        assert article.data == {"a": [1]} and article.keywords == ["x", "y"] and article.author == author.id
        assert len(article.comments) == 1 and isinstance(article.comments[0], int)

        fields = ["*", "author.*", "cover.*", "comments.*", "tags.*", "tags.tags_id.*", "blocks.*",
                  "blocks.item:block_quotes.*", "translations.*", "translations.languages_code.*"]
        read = client.read_item("articles", article.id, fields=fields)
        assert isinstance(read, models.Articles)
        assert isinstance(read.author, models.Authors) and read.author.name == "Ada"
        assert isinstance(read.cover, File) and read.cover.filename_download == "cover.gif"
        assert isinstance(read.comments[0], models.Comments) and read.comments[0].text == "first"
        assert isinstance(read.tags[0], models.ArticlesTags) and isinstance(read.tags[0].tags_id, models.Tags)
        assert read.tags[0].tags_id.name == "news"
        block = read.blocks[0]
        assert isinstance(block, models.ArticlesBlocks) and isinstance(block.item, models.BlockQuotes)
        assert block.item.quote == "to be"
        translation = read.translations[0]
        assert isinstance(translation, models.ArticlesTranslations) and translation.headline == "Hi"
        assert isinstance(translation.languages_code, models.Languages) and translation.languages_code.name == "English"

        made = client.create_item("articles", models.Articles(title="Made", views=1, published=False))
        assert isinstance(made, models.Articles) and made.title == "Made" and made.comments == []

        listed = client.read_items("articles", fields=["id", "title"])
        assert isinstance(listed[0], models.Articles) and listed[0].title == "Hello" and listed[0].views is None
        assert all(isinstance(entry, models.Articles) for entry in client.iter_items("articles", page_size=1))
        updated = client.update_item("articles", article.id, {"title": "Changed"})
        assert isinstance(updated, models.Articles) and updated.title == "Changed"
        settings = client.update_singleton("site_settings", {"site_name": "Site"})
        assert isinstance(settings, models.SiteSettings)
        assert isinstance(client.read_singleton("site_settings"), models.SiteSettings)
        plain = client.read_items("languages", model=Item)  # model= still wins
        assert type(plain[0]) is Item


def test_the_async_typed_client_returns_models(server, generated):
    import asyncio
    _, models = generated

    async def main():
        async with models.AsyncDirectus(hostname=server.url, static_token=server.token) as client:
            items = await client.read_items("tags")
            every = [tag async for tag in client.iter_items("tags")]
            return items, every
    items, every = asyncio.run(main())
    assert items and isinstance(items[0], models.Tags) and isinstance(every[0], models.Tags)


def test_check_says_whether_the_file_matches_the_schema(server, generated, tmp_path):
    path, _ = generated
    assert models_command(server, "--out", str(path), "--check").returncode == 0
    narrowed = tmp_path / "narrowed.py"
    assert models_command(server, "--out", str(narrowed), "--collections", "authors,tags").returncode == 0
    assert "class Authors(Model)" in narrowed.read_text() and "class Articles" not in narrowed.read_text()
    assert models_command(server, "--out", str(narrowed), "--check", "--collections", "authors,tags").returncode == 0
    with DirectusClient(hostname=server.url, static_token=server.token) as client:
        client.create_field("tags", {"field": "colour", "type": "string"})
        try:
            result = models_command(server, "--out", str(path), "--check")
            assert result.returncode == 1 and "does not match" in result.stderr
        finally:
            client.delete_field("tags", "colour")
    assert models_command(server, "--out", str(path), "--check").returncode == 0


# The type checkers run on the newest Python of a run (tests/run.py installs them there and sets
# PYDIRECTUS_REQUIRE_MYPY=1, which makes a missing checker fail this test). Elsewhere this test is
# not collected rather than skipped: a skipped integration test fails the run.
CHECKERS_HERE = REQUIRED or typecheck_models.checkers_missing() is None


def _the_generated_module_passes_both_type_checkers_with_the_scripts(generated, tmp_path):
    missing = typecheck_models.checkers_missing()
    if missing:
        pytest.fail("PYDIRECTUS_REQUIRE_MYPY=1 but " + missing, pytrace=False)
    path, _ = generated
    problems = typecheck_models.check(tmp_path, path.read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)


if CHECKERS_HERE:
    test_the_generated_module_passes_both_type_checkers_with_the_scripts = \
        _the_generated_module_passes_both_type_checkers_with_the_scripts
