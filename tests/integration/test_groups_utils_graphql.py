"""Round trips through utils (sort, random, cache, export, import), GraphQL, and the automatic
SEARCH fallback of a query too long for a URL."""

import json
import logging
import string

import pytest

import pydirectus
from tests.integration.groups_support import wait_for
from tests.rest import call


def test_sort_items_moves_an_item(client, collection, directus):
    client.create_field(collection, {"field": "sort", "type": "integer", "meta": {"hidden": True}, "schema": {}})
    client.update_collection(collection, {"meta": {"sort_field": "sort"}})
    created = {item.title: item.id for item in
               client.create_items(collection, [{"title": t, "sort": n} for n, t in enumerate("abcd", 1)])}
    client.sort_items(collection, item=created["d"], to=created["a"])  # d takes a's place
    rows = call(directus.url, "GET", "/items/%s?sort=sort&fields=title,sort" % collection, token=directus.token)
    assert [(row["title"], row["sort"]) for row in rows.body["data"]] == [("d", 1), ("a", 2), ("b", 3), ("c", 4)]


def test_random_string_and_clear_cache(client):
    first = client.random_string(length=40)
    assert isinstance(first, str) and len(first) == 40
    assert set(first) <= set(string.ascii_letters + string.digits + "-_")
    assert client.random_string() != client.random_string()
    assert len(client.random_string()) == 32  # the server's default length
    with pytest.raises(pydirectus.InvalidQueryError):
        client.random_string(length=501)
    assert client.clear_cache() is None
    assert client.clear_cache(system=True) is None


def test_export_writes_a_file_in_the_background(client, collection):
    client.create_items(collection, [{"title": "x", "views": 1}, {"title": "y", "views": 2},
                                     {"title": "z", "views": 3}])
    title = "export of " + collection
    client.export_items(collection, {"format": "json", "file": {"title": title},
                                     "query": {"filter": {"views": {"_gte": 2}}, "sort": ["views"],
                                               "fields": ["title", "views"]}})
    # the answer comes first; the file appears once the export has run
    files = wait_for(lambda: [f for f in client.read_files(filter={"title": {"_eq": title}})
                              if f.filesize and f.uploaded_on])
    assert files, "no exported file appeared"
    notices = []
    try:
        assert files[0].type == "application/json"
        assert json.loads(client.read_asset(files[0].id).decode("utf-8")) == [{"title": "y", "views": 2},
                                                                              {"title": "z", "views": 3}]
        # and the user who asked is told where the file is
        notices = wait_for(lambda: client.read_notifications(filter={"collection": {"_eq": "directus_files"},
                                                                     "item": {"_eq": files[0].id}}))
        assert [n.subject for n in notices] == ["Your export of %s is ready" % collection]
    finally:
        client.delete_files([f.id for f in files])
        if notices:
            client.delete_notifications([n.id for n in notices])


def test_import_collections_from_a_json_body(client, collection, directus):
    client.create_item(collection, {"title": "existing"})
    rows = [{"collection": collection, "items": [{"title": "imported 1", "views": 7},
                                                 {"title": "imported 2", "views": 8}]}]
    trial = client.import_collections(rows, dry_run=True)
    assert trial["applied"] is False and len(trial["collections"][collection]["new"]) == 2
    assert len(call(directus.url, "GET", "/items/" + collection, token=directus.token).body["data"]) == 1

    report = client.import_collections(rows)
    assert (report["applied"], report["mode"]) == (True, "add")
    new_keys = report["collections"][collection]["new"]
    stored = call(directus.url, "GET", "/items/%s?sort=id&fields=id,title,views" % collection,
                  token=directus.token).body["data"]
    assert [(r["title"], r["views"]) for r in stored] == [("existing", None), ("imported 1", 7), ("imported 2", 8)]
    assert sorted(new_keys) == [r["id"] for r in stored[1:]]


def test_graphql_on_items_and_system(client, collection, directus):
    client.create_items(collection, [{"title": "alpha", "views": 1}, {"title": "beta", "views": 2}])

    data = client.graphql("{ %s(sort: [\"id\"]) { id title } }" % collection)
    assert [row["title"] for row in data[collection]] == ["alpha", "beta"]
    by_variable = client.graphql("query Pick($title: String) { %s(filter: {title: {_eq: $title}}) { title views } }"
                                 % collection, variables={"title": "beta"}, operation_name="Pick")
    assert by_variable == {collection: [{"title": "beta", "views": 2}]}
    created = client.graphql("mutation { create_%s_item(data: {title: \"gamma\"}) { title } }" % collection)
    assert created == {"create_%s_item" % collection: {"title": "gamma"}}

    assert client.graphql_system("{ users_me { email } }") == {"users_me": {"email": directus.email}}
    assert client.graphql_system("query Find($email: String) { users(filter: {email: {_eq: $email}}) { email } }",
                                 variables={"email": directus.email}) == {"users": [{"email": directus.email}]}

    assert client.graphql_get(document="{ %s(filter: {views: {_eq: 1}}) { title } }" % collection) \
        == {collection: [{"title": "alpha"}]}
    assert client.graphql_get(document="query Pick($t: String) { %s(filter: {title: {_eq: $t}}) { views } }"
                              % collection, variables={"t": "beta"}, operation_name="Pick") \
        == {collection: [{"views": 2}]}
    assert client.graphql_system_get(document="{ users_me { email } }") == {"users_me": {"email": directus.email}}

    with pytest.raises(pydirectus.BadRequestError) as invalid:  # GraphQL errors come with a 400 here
        client.graphql("{ %s { no_such_field } }" % collection)
    assert invalid.value.code == "GRAPHQL_VALIDATION"
    with pytest.raises(pydirectus.DirectusError) as refused:  # mutations need POST
        client.graphql_get(document="mutation { delete_%s_items(ids: []) { id } }" % collection)
    assert refused.value.status == 405


def test_read_items_with_a_huge_filter_goes_as_search(client, collection, caplog):
    created = client.create_items(collection, [{"title": "t%d" % n, "views": n} for n in range(5)])
    keys = {item.views: item.id for item in created}
    wanted = list(range(3000))  # far over the URL limit once encoded
    with caplog.at_level(logging.DEBUG, logger="pydirectus"):
        caplog.clear()
        found = client.read_items(collection, filter={"id": {"_in": wanted}, "views": {"_gte": 2}},
                                  fields=["id", "views"], sort=["-views"], limit=2, meta="filter_count")
    assert [(item.id, item.views) for item in found] == [(keys[4], 4), (keys[3], 3)]
    assert set(found[0]) == {"id", "views"} and found.filter_count == 3
    sent = [r.getMessage() for r in caplog.records if r.name == "pydirectus" and "/items/" + collection in
            r.getMessage()]
    assert sent and all(message.startswith("SEARCH ") for message in sent), sent
