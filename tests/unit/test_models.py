"""Item, File and ItemList: dict-like and object-like, typed subclasses, unknown fields kept."""

import copy
import dataclasses
import json
import pickle
from typing import Optional

import pytest

from pydirectus import File, Item, ItemList
from pydirectus._core.records import encode_json


@dataclasses.dataclass(eq=False)
class Article(Item):
    id: Optional[int] = None
    title: str = ""
    tags: list = dataclasses.field(default_factory=list)


def test_item_is_a_mapping_and_an_object():
    item = Item.from_dict({"id": 7, "title": "Hello", "author": {"name": "A"}})
    assert item["title"] == "Hello" and item.title == "Hello" and item.id == 7
    assert item.get("missing") is None and item.get("title") == "Hello"
    assert "author" in item and "nope" not in item
    assert dict(item) == {"id": 7, "title": "Hello", "author": {"name": "A"}} == item.to_dict()
    assert list(item) == ["id", "title", "author"] and len(item) == 3
    assert item == {"id": 7, "title": "Hello", "author": {"name": "A"}}
    item["title"] = "New"
    item.views = 3
    assert item.title == "New" and item["views"] == 3
    del item["views"]
    assert "views" not in item
    with pytest.raises(KeyError):
        item["missing"]
    with pytest.raises(AttributeError, match="no field 'missing'"):
        item.missing


def test_item_without_id_key():
    # a record keyed otherwise (a singleton, a custom primary key): id is None, nothing is invented
    item = Item.from_dict({"key": "x"})
    assert item.id is None and "id" not in item and item.to_dict() == {"key": "x"} and item["key"] == "x"
    assert Item.from_dict({"id": 0}).id == 0  # a falsy key is still the key


def test_typed_subclass_keeps_unknown_fields_and_fills_defaults():
    article = Article.from_dict({"id": 1, "title": "T", "extra": True})
    assert isinstance(article, Article) and article.title == "T" and article.extra is True
    assert article["extra"] is True and article.to_dict() == {"id": 1, "title": "T", "tags": [], "extra": True}
    partial = Article.from_dict({"id": 2})
    assert partial.title == "" and partial.tags == [] and partial.tags is not Article.from_dict({}).tags
    assert Article(id=3, title="x").to_dict() == {"id": 3, "title": "x", "tags": []}
    with pytest.raises(KeyError):
        del article["title"]


def test_file_has_the_directus_files_fields():
    names = {f.name for f in dataclasses.fields(File)}
    assert {"id", "storage", "filename_disk", "filename_download", "title", "type", "folder", "filesize",
            "width", "height", "duration", "metadata", "uploaded_on"} <= names
    record = File.from_dict({"id": "u", "filesize": 10, "from_the_future": 1})
    assert record.filesize == 10 and record["from_the_future"] == 1 and record.title is None
    assert File(**{"storage": "local", "filename_download": "a.mp4"}).filename_download == "a.mp4"


def test_items_serialise_copy_and_pickle():
    article = Article.from_dict({"id": 1, "title": "T", "x": [1]})
    assert json.loads(encode_json({"a": article})) == {"a": {"id": 1, "title": "T", "tags": [], "x": [1]}}
    assert pickle.loads(pickle.dumps(article)) == article
    clone = copy.deepcopy(article)
    clone.x.append(2)
    assert article.x == [1]


def test_item_list_keeps_meta():
    items = ItemList([Item.from_dict({"id": 1})], {"total_count": 10, "filter_count": 4})
    assert isinstance(items, list) and len(items) == 1 and items[0].id == 1
    assert items.total_count == 10 and items.filter_count == 4
    assert ItemList().total_count is None


def test_a_files_size_is_an_integer_whatever_the_database_answers():
    from pydirectus.models import File
    # PostgreSQL answers the bigInteger filesize as a string; SQLite as a number
    assert File.from_dict({"id": "f", "filesize": "1234567890123"}).filesize == 1234567890123
    assert File.from_dict({"id": "f", "filesize": 12}).filesize == 12
    assert File.from_dict({"id": "f", "filesize": None}).filesize is None
