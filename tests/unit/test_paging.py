"""Paging above the seam, on both clients: a page size or group page above the server's
QUERY_LIMIT_MAX is lowered to it from the server's refusal, and nothing is lost or repeated."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.mocktransport import AsyncMockTransport, MockTransport, json_response

LIMIT_MAX = 3
ROWS = [{"id": n, "title": "t%d" % n} for n in range(1, 9)]


def server(request):
    """/fields answers an integer key; /items pages ROWS (keyset by _gt, or offset), refusing a
    limit above LIMIT_MAX as Directus does."""
    url = urlsplit(request.url)
    query = {name: values[0] for name, values in parse_qs(url.query).items()}
    if url.path.startswith("/fields/"):
        return json_response(200, {"data": [{"field": "id", "type": "integer", "schema": {"is_primary_key": True}}]})
    limit = int(query.get("limit", "100"))
    if limit > LIMIT_MAX:
        return json_response(400, {"errors": [{"message": 'Invalid query. "limit" must be less than or equal to %d'
                                                          % LIMIT_MAX, "extensions": {"code": "INVALID_QUERY"}}]})
    rows = ROWS
    if "filter" in query:
        after = json.loads(query["filter"])["id"]["_gt"]
        rows = [row for row in rows if row["id"] > after]
    if "groupBy" in query:
        rows = [{"title": row["title"], "count": "1"} for row in rows]
    offset = int(query.get("offset", "0"))
    return json_response(200, {"data": rows[offset:offset + limit]})


@pytest.fixture
def paging_client(client_kind, make_client):
    transport = (MockTransport if client_kind == "sync" else AsyncMockTransport)(server)
    return make_client(hostname="http://directus.test", static_token="tok", transport=transport), transport


def test_a_page_size_above_the_servers_limit_is_lowered_and_every_item_comes_once(paging_client):
    client, transport = paging_client
    assert [item.id for item in client.iter_items("articles", page_size=10)] == [row["id"] for row in ROWS]
    limits = [parse_qs(urlsplit(request.url).query).get("limit") for request in transport.requests]
    assert limits[1:3] == [["10"], ["3"]]  # refused once, then the server's size
    assert all(limit == ["3"] for limit in limits[2:])


def test_groups_are_paged_at_the_servers_limit_too(paging_client):
    client, _ = paging_client
    groups = client.aggregate("articles", count="*", group_by="title")
    assert [group["title"] for group in groups] == [row["title"] for row in ROWS]
    assert all(group["count"] == 1 for group in groups)  # numbers as numbers
