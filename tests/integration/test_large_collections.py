"""Large collections on a server with QUERY_LIMIT_MAX=100 and MAX_BATCH_MUTATION=1000: bulk writes
of any size in chunks, lazy iteration exactly once, counts and aggregates, on both clients.

Directus 10 answers a batch write with at most QUERY_LIMIT_MAX of the items it wrote (11 and 12
return them all): there the module's client writes in chunks of QUERY_LIMIT_MAX, and
test_the_servers_batch_limit_is_learnt checks how the client learns that limit from a short answer."""

import threading
import uuid

import logging

import pytest

import pydirectus
from pydirectus import BulkWriteError, DirectusClient
from tests.conftest import COLLECTION_FIELDS, remove_collection, version_of
from tests.rest import call

# The conformance core: runs against every supported Directus version (tests/conftest.py).
pytestmark = pytest.mark.conformance


@pytest.fixture(scope="module")
def limited(directus_factory):
    return directus_factory(QUERY_LIMIT_MAX="100", MAX_BATCH_MUTATION="1000")


@pytest.fixture
def big(limited):
    name = "big_" + uuid.uuid4().hex[:8]
    created = call(limited.url, "POST", "/collections", {"collection": name, "meta": {}, "schema": {},
                                                         "fields": COLLECTION_FIELDS}, token=limited.token)
    assert created.status == 200, created
    yield name
    remove_collection(limited, name)


@pytest.fixture
def client(limited, make_client):
    """The sync client, then the async one (the conformance suite: see tests/blocking.py); on
    Directus 10 with chunks of QUERY_LIMIT_MAX, so that every chunk's answer holds all its items."""
    settings = {"batch_size": 100} if version_of(limited) < (11,) else {}
    return make_client(hostname=limited.url, static_token=limited.token, **settings)


def test_ten_thousand_and_seven_items_in_one_call_then_each_yielded_once(client, big, limited):
    created = client.create_items(big, [{"title": "item %d" % i, "views": i} for i in range(10007)])
    assert len(created) == 10007 and len({item.id for item in created}) == 10007
    assert client.count_items(big) == 10007
    assert call(limited.url, "GET", "/items/%s?aggregate[count]=*" % big, token=limited.token).body["data"] == [
        {"count": 10007}]

    # fields without the primary key: keyset paging adds it to the query and leaves it out of the items
    seen = [item.to_dict() for item in client.iter_items(big, page_size=100, fields=["title"])]
    assert len(seen) == 10007 and {tuple(item) for item in seen} == {("title",)}
    assert sorted(item["title"] for item in seen) == sorted("item %d" % i for i in range(10007))

    # offset paging for any other sort, still exactly once
    by_views = [item["views"] for item in client.iter_items(big, sort=["-views"], fields=["views"], page_size=100)]
    assert by_views == list(range(10006, -1, -1))

    # a page size above QUERY_LIMIT_MAX is lowered to it, and limit caps what is yielded
    assert len(list(client.iter_items(big, page_size=500, limit=250))) == 250

    # update and delete by keys, of any size, in chunks
    keys = [item.id for item in created[:2500]]
    updated = client.update_items(big, {"keys": keys, "data": {"published": True}})
    assert len(updated) == 2500
    assert client.count_items(big, filter={"published": {"_eq": True}}) == 2500
    client.delete_items(big, keys)
    assert client.count_items(big) == 7507


def test_items_inserted_during_iteration_are_never_yielded_twice(client, big):
    client.create_items(big, [{"title": "old %d" % i} for i in range(1000)])
    seen = []
    writer_done = threading.Event()

    def insert_while_iterating():
        with DirectusClient(hostname=client.url, static_token=client._policy.credentials.static_token) as writer:
            for i in range(20):
                writer.create_items(big, [{"title": "new %d-%d" % (i, j)} for j in range(25)])
        writer_done.set()

    thread = None
    for index, item in enumerate(client.iter_items(big, page_size=100)):
        seen.append(item.id)
        if index == 150:
            thread = threading.Thread(target=insert_while_iterating)
            thread.start()
        if index == 300:
            writer_done.wait(60)
    thread.join()
    assert len(seen) == len(set(seen)), "an item was yielded twice"
    assert len(seen) >= 1000 and seen == sorted(seen)


def test_a_failure_in_the_middle_of_a_bulk_write_reports_the_committed_chunks(client, big):
    client.update_field(big, "title", {"schema": {"is_unique": True}})
    client.create_item(big, {"title": "taken"})
    entries = [{"title": "t%d" % i} for i in range(2500)]
    entries[1700] = {"title": "taken"}  # in the fourth chunk of 500
    size = client.batch_limits.max_items  # 500; 100 on Directus 10 (see the client fixture)
    with pytest.raises(BulkWriteError) as caught:
        client.create_items(big, entries)
    error = caught.value
    failed_at, chunks = 1700 // size, 2500 // size
    # the chunk after the failed one was on its way (two chunks travel at once after the first): written
    after = 1 if failed_at + 1 < chunks else 0
    assert [state for _, _, state in error.chunks] == (
        ["committed"] * failed_at + ["failed"] + ["committed"] * after + ["not sent"] * (chunks - failed_at - 1 - after))
    assert error.committed == (failed_at + after) * size and error.failed == size and not error.uncertain
    assert error.not_sent == (chunks - failed_at - 1 - after) * size
    assert error.chunks[failed_at][:2] == (failed_at * size, size)
    assert isinstance(error.error, pydirectus.UniqueConflictError)
    assert len(error.results) == error.committed and "chunk %d of %d" % (failed_at + 1, chunks) in str(error)
    assert client.count_items(big) == error.committed + 1  # what it says is what the server has


def test_the_servers_batch_limit_is_learnt(limited, big, make_client, caplog):
    # the client's batch size is above the server's MAX_BATCH_MUTATION of 1000
    with make_client(hostname=limited.url, static_token=limited.token, batch_size=5000) as client:
        with caplog.at_level(logging.WARNING, logger="pydirectus"):
            created = client.create_items(big, [{"title": "x%d" % i} for i in range(2100)])
        if version_of(limited) >= (11,):
            assert len(created) == 2100 and client.batch_limits.max_items == 1000
        else:
            # Directus 10 answered the first chunk of 1000 with QUERY_LIMIT_MAX (100) of its items:
            # the client said so and wrote the other 1100 in chunks of 100, each answered whole
            assert len(created) == 100 + 1100 and client.batch_limits.max_items == 100
            assert [r.getMessage() for r in caplog.records if "QUERY_LIMIT_MAX" in r.getMessage()] == [
                "POST %s/items/%s: the server answered 100 of the 1000 items written by this chunk (Directus 10 "
                "returns at most QUERY_LIMIT_MAX)" % (limited.url, big)]
        assert len(client.create_items(big, [{"title": "y%d" % i} for i in range(1500)])) == 1500
    assert call(limited.url, "GET", "/items/%s?aggregate[count]=*" % big, token=limited.token).body["data"] == [
        {"count": 3600}]


def test_system_collections_iterate_through_their_endpoints(client):
    users = list(client.iter_items("directus_users", fields=["email"], page_size=1))
    assert any(user["email"] for user in users) and all("id" not in user for user in users)
    activity = list(client.iter_items("directus_activity", page_size=50, limit=120))
    assert 0 < len(activity) <= 120 and len({a.id for a in activity}) == len(activity)
    assert client.count_items("directus_users") == len(users)


def test_counts_and_aggregates(client, big):
    client.create_items(big, [{"title": "a%d" % i, "views": i, "published": i % 2 == 0} for i in range(10)])
    page = client.read_items(big, limit=3, meta="*", filter={"published": {"_eq": True}})
    assert len(page) == 3 and page.total_count == 10 and page.filter_count == 5
    assert client.count_items(big, filter={"views": {"_gte": 5}}) == 5
    totals = client.aggregate(big, count="*", sum="views", avg="views", min="views", max="views")
    assert totals == {"count": 10, "sum": {"views": 45}, "avg": {"views": 4.5}, "min": {"views": 0},
                      "max": {"views": 9}}
    groups = client.aggregate(big, count="*", sum=["views"], group_by=["published"], sort=["published"])
    assert groups == [{"published": False, "count": 5, "sum": {"views": 25}},
                      {"published": True, "count": 5, "sum": {"views": 20}}]
    assert client.aggregate(big, count_distinct="published") == {"countDistinct": {"published": 2}}
