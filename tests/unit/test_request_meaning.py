"""Requests that Directus reads as the caller meant (issue 15 §1), checked on what goes out.

Each test looks at the request pydirectus sends: its URL (built by ``messages.build_request``, as
the client sends it) or, through a loopback fake server, the whole request of both clients. The
server's side of each case is shown by tests/integration/test_request_meaning.py.
"""

from urllib.parse import unquote, urlsplit

import pytest

from pydirectus import DirectusClient
from pydirectus.query import flatten_fields
from tests.unit.test_query import query_of, url_for

OPS = DirectusClient.operations


# ------------------------------------------------------------------ 1. many-to-any fields

M2A_FIELDS = ["title", {"sections": [{"item": {"headings": ["title", "level"], "paragraphs": ["body"]}}]}]
M2A_WIRE = "title,sections.item:headings.title,sections.item:headings.level,sections.item:paragraphs.body"


def test_a_relation_given_a_dict_is_many_to_any_in_directus_scope_syntax():
    assert ",".join(flatten_fields(M2A_FIELDS)) == M2A_WIRE
    url = url_for("read_items", "pages", fields=M2A_FIELDS)
    assert unquote(urlsplit(url).query) == "fields=" + M2A_WIRE
    # the same in the query dict, and with a string or a nested relation inside a collection's fields
    assert query_of(url_for("read_items", "pages", query={"fields": M2A_FIELDS}))["fields"] == M2A_WIRE
    assert flatten_fields([{"item": {"headings": "*", "people": ["name", {"avatar": ["id"]}]}}]) == [
        "item:headings.*", "item:people.name", "item:people.avatar.id"]


def test_the_list_and_relation_forms_are_unchanged():
    assert flatten_fields(["id", {"author": ["name", {"avatar": ["id", "type"]}]}, "title"]) == [
        "id", "author.name", "author.avatar.id", "author.avatar.type", "title"]
    assert flatten_fields({"translations": "*"}) == ["translations.*"]
    assert flatten_fields([{"tags": [{"tags_id": ["name"]}]}]) == ["tags.tags_id.name"]


@pytest.mark.parametrize("fields, message", [
    ([{"item": {}}], "needs at least one collection"),
    ([{"item": {"": ["title"]}}], "non-empty string"),
    ([{"item": {"headings": [3]}}], "expected names"),
])
def test_a_malformed_many_to_any_is_refused_before_sending(fields, message):
    with pytest.raises(TypeError, match=message):
        url_for("read_items", "pages", fields=fields)
