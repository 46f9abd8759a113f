"""What Directus 12.4.0 answers to requests it used to read otherwise than the caller meant
(issue 15 §1): each test shows the difference in the server's answer (the comments say what it
answered before). The requests themselves are checked by tests/unit/test_request_meaning.py.
"""

import json
import uuid

import pytest

from tests.conftest import remove_collection
from tests.rest import call

PK = {"field": "id", "type": "integer", "meta": {"hidden": True},
      "schema": {"is_primary_key": True, "has_auto_increment": True}}


def create_collection(server, name, fields, meta=None):
    reply_ = call(server.url, "POST", "/collections", {"collection": name, "meta": meta or {}, "schema": {},
                                                       "fields": fields}, token=server.token)
    assert reply_.status == 200, reply_


# ------------------------------------------------------------------ 1. many-to-any fields

@pytest.fixture
def pages(directus):
    """A page with a many-to-any "sections" relation to a heading and a paragraph, as
    (pages collection, heading collection, paragraph collection, page id)."""
    suffix = uuid.uuid4().hex[:8]
    pages, headings, paragraphs = "pages_" + suffix, "headings_" + suffix, "paragraphs_" + suffix
    junction = "pages_sections_" + suffix
    made = []
    try:
        for name, fields, meta in (
                (pages, [PK, {"field": "title", "type": "string"}], None),
                (headings, [PK, {"field": "title", "type": "string"}, {"field": "level", "type": "integer"}], None),
                (paragraphs, [PK, {"field": "body", "type": "text"}], None),
                (junction, [PK, {"field": "pages_id", "type": "integer"}, {"field": "item", "type": "string"},
                            {"field": "collection", "type": "string"}], {"hidden": True})):
            create_collection(directus, name, fields, meta)
            made.append(name)
        for path, body in (
                ("/fields/" + pages, {"field": "sections", "type": "alias",
                                      "meta": {"special": ["m2a"], "interface": "list-m2a"}}),
                ("/relations", {"collection": junction, "field": "item", "related_collection": None,
                                "meta": {"one_allowed_collections": [headings, paragraphs],
                                         "one_collection_field": "collection", "junction_field": "pages_id"}}),
                ("/relations", {"collection": junction, "field": "pages_id", "related_collection": pages,
                                "meta": {"one_field": "sections", "junction_field": "item"},
                                "schema": {"on_delete": "SET NULL"}})):
            created = call(directus.url, "POST", path, body, token=directus.token)
            assert created.status == 200, created
        page = call(directus.url, "POST", "/items/" + pages, {"title": "Home", "sections": [
            {"collection": headings, "item": {"title": "Welcome", "level": 1}},
            {"collection": paragraphs, "item": {"body": "Hello"}}]}, token=directus.token)
        assert page.status == 200, page
        yield pages, headings, paragraphs, page.body["data"]["id"]
    finally:
        for name in reversed(made):
            remove_collection(directus, name)


def test_many_to_any_fields_read_each_collection_s_own_fields(client, pages):
    collection, headings, paragraphs, page_id = pages
    page = client.read_item(collection, page_id, fields=[
        "title", {"sections": [{"item": {headings: ["title", "level"], paragraphs: ["body"]}}]}])
    # sent as sections.item.<collection>.field, Directus answered [{"item": 1}, {"item": 1}]: the keys
    assert page["title"] == "Home"
    assert sorted(page["sections"], key=json.dumps) == [{"item": {"body": "Hello"}},
                                                        {"item": {"level": 1, "title": "Welcome"}}]
