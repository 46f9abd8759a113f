"""Bulk writes split into chunks, without a server: the plan, the bodies, and what a failure says."""

import json

import pytest

from pydirectus import BulkWriteError, DirectusClient
from pydirectus._core.auth import Credentials
from pydirectus._core.bulk import BatchLimits, _encode_parts, _plan, chunkable, chunked_write_flow
from pydirectus.errors import TransportError
from pydirectus._core.records import Response
from pydirectus._core.policy import RequestPolicy
from pydirectus._core.retry import RetryPolicy
from tests.mocktransport import json_response
from tests.unit.test_policy import Clock, Headers, Script

OPS = DirectusClient.operations


def answer(status, document):
    return Response(status, Headers(), json.dumps(document).encode())


def session():
    return RequestPolicy("http://h", Credentials(static_token="t"), {}, RetryPolicy(0), Clock())


def test_what_is_chunkable():
    assert chunkable(OPS["create_items"], [1, 2]) == ([1, 2], None)
    assert chunkable(OPS["update_items"], {"keys": [1, 2], "data": {"a": 1}}) == ([1, 2], {"data": {"a": 1}})
    assert chunkable(OPS["update_items"], {"query": {"filter": {}}, "data": {}}) is None
    assert chunkable(OPS["delete_items"], {"keys": [1]}) == ([1], {})
    assert chunkable(OPS["search_items"], {"keys": [1]}) is None  # reads are never split


def test_plan_respects_items_and_bytes():
    parts = [b"x" * 10] * 25
    assert _plan(parts, 0, BatchLimits(10, 10 ** 6), 2) == [(0, 10), (10, 10), (20, 5)]
    # 2 bytes of brackets, 10 per part, 1 per comma: 4 parts fit in 45 bytes, not 5
    assert _plan(parts, 0, BatchLimits(100, 45), 2)[0] == (0, 4)
    assert _plan([b"y" * 100], 0, BatchLimits(10, 20), 2) == [(0, 1)]  # an oversize entry goes alone


def test_bodies_rebuild_the_envelope():
    parts, prefix, suffix = _encode_parts([1, 2, 3], {"data": {"title": "[]"}})
    body = prefix + b",".join(parts[:2]) + suffix
    assert json.loads(body) == {"data": {"title": "[]"}, "keys": [1, 2]}
    parts, prefix, suffix = _encode_parts([{"a": 1}], None)
    assert json.loads(prefix + parts[0] + suffix) == [{"a": 1}]


def run(answers, data, limits=None, op="create_items"):
    s = session()
    script = Script(s, answers)
    # one chunk at a time: answers in the order of the list (two at once: tests below)
    result = script.run(chunked_write_flow(s, OPS[op], "http://h/items/a", {}, data,
                                           limits or BatchLimits(2, in_flight=1)))
    return result, script


def test_results_are_merged_over_the_chunks():
    result, script = run([answer(200, {"data": [{"id": 1}, {"id": 2}]}), answer(200, {"data": [{"id": 3}]})],
                         [{"t": 1}, {"t": 2}, {"t": 3}])
    assert [item.id for item in result] == [1, 2, 3]
    assert [json.loads(r.body) for r in script.sent] == [[{"t": 1}, {"t": 2}], [{"t": 3}]]


def test_a_refusal_for_batch_size_is_learnt_and_nothing_is_lost():
    limits = BatchLimits(4, in_flight=1)
    refused = answer(400, {"errors": [{"message": "Invalid payload. Exceeded max batch mutation limit of 2.",
                                       "extensions": {"code": "INVALID_PAYLOAD"}}]})
    result, script = run([refused, answer(200, {"data": [1, 2]}), answer(200, {"data": [3, 4]}),
                          answer(200, {"data": [5]})], [1, 2, 3, 4, 5], limits, op="delete_items")
    assert limits.max_items == 2
    assert [json.loads(r.body) for r in script.sent] == [[1, 2, 3, 4], [1, 2], [3, 4], [5]]


def test_a_failed_chunk_says_what_was_committed():
    failure = answer(400, {"errors": [{"message": "Value has to be unique.",
                                       "extensions": {"code": "RECORD_NOT_UNIQUE"}}]})
    with pytest.raises(BulkWriteError) as caught:
        run([answer(200, {"data": [{"id": 1}, {"id": 2}]}), failure], [{"n": i} for i in range(5)],
            BatchLimits(2, in_flight=1))  # the chunk after the failed one is never sent
    error = caught.value
    assert (error.committed, error.failed, error.not_sent, error.uncertain) == (2, 2, 1, False)
    assert error.chunks == [(0, 2, "committed"), (2, 2, "failed"), (4, 1, "not sent")]
    assert [item.id for item in error.results] == [1, 2]
    assert "chunk 2 of 3 (entries 2 to 3) failed" in str(error) and "2 entries in 1 other chunks" in str(error)


def test_a_lost_answer_makes_the_chunk_uncertain():
    lost = TransportError("reset", may_have_been_processed=True)
    with pytest.raises(BulkWriteError) as caught:
        run([lost], [1, 2, 3], op="delete_items")
    assert caught.value.uncertain and "may or may not have been written" in str(caught.value)
    assert caught.value.chunks == [(0, 2, "uncertain"), (2, 1, "not sent")]


# ------------------------------------------------------------------ two chunks on their way at once

class Table:
    """A collection behind a mock transport: each POST of a list writes its entries (ids from 1 in
    the order written) unless one of them is in ``refuse``; ``in_flight`` records how many requests
    were being answered at once, at most."""

    def __init__(self, refuse=(), delay=0.02):
        import threading
        self.rows = []
        self.refuse = set(refuse)
        self.delay = delay
        self.lock = threading.Lock()
        self.busy = self.most_busy = 0

    def __call__(self, request):
        import time
        with self.lock:
            self.busy += 1
            self.most_busy = max(self.most_busy, self.busy)
        try:
            time.sleep(self.delay)  # the server writing: the next chunk may arrive meanwhile
            entries = json.loads(request.body)
            if self.refuse & {entry["n"] for entry in entries}:
                return json_response(400, {"errors": [{"message": "Value has to be unique.",
                                                       "extensions": {"code": "RECORD_NOT_UNIQUE"}}]})
            with self.lock:
                written = []
                for entry in entries:
                    self.rows.append(entry)
                    written.append(dict(entry, id=len(self.rows)))
            return json_response(200, {"data": written})
        finally:
            with self.lock:
                self.busy -= 1


def table_client(make_client, client_kind, table, **kwargs):
    from tests.mocktransport import AsyncMockTransport, MockTransport
    transport = (MockTransport if client_kind == "sync" else AsyncMockTransport)(table)
    return make_client(hostname="http://directus.test", static_token="tok", transport=transport, **kwargs)


def test_two_chunks_go_at_once_and_the_results_keep_the_entries_order(make_client, client_kind):
    table = Table()
    client = table_client(make_client, client_kind, table, batch_size=10)
    entries = [{"n": n} for n in range(100)]
    created = client.create_items("a", entries)
    assert [item["n"] for item in created] == list(range(100))
    assert sorted(row["n"] for row in table.rows) == list(range(100))  # each entry written once
    if client_kind == "sync":  # a thread; the async mock transport answers in the loop, one at a time
        assert table.most_busy == 2


def test_a_failure_with_a_chunk_on_its_way_says_what_became_of_each(make_client, client_kind):
    table = Table(refuse={25})
    client = table_client(make_client, client_kind, table, batch_size=10)
    with pytest.raises(BulkWriteError) as caught:
        client.create_items("a", [{"n": n} for n in range(100)])
    error = caught.value
    states = error.chunks
    assert states[2] == (20, 10, "failed")
    assert all(state == "committed" for _, _, state in states[:2])
    # the chunk after the failed one may have been on its way: committed then, else never sent
    assert all(state in ("committed", "not sent") for _, _, state in states[3:4])
    assert all(state == "not sent" for _, _, state in states[4:])
    written = sorted(row["n"] for row in table.rows)
    assert error.committed == len(written) and error.not_sent == 100 - 10 - len(written)
    assert written == [n for first, count, state in states if state == "committed" for n in range(first, first + count)]
    assert [item["n"] for item in error.results] == written
