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
    result = script.run(chunked_write_flow(s, OPS[op], "http://h/items/a", {}, data, limits or BatchLimits(2)))
    return result, script


def test_results_are_merged_over_the_chunks():
    result, script = run([answer(200, {"data": [{"id": 1}, {"id": 2}]}), answer(200, {"data": [{"id": 3}]})],
                         [{"t": 1}, {"t": 2}, {"t": 3}])
    assert [item.id for item in result] == [1, 2, 3]
    assert [json.loads(r.body) for r in script.sent] == [[{"t": 1}, {"t": 2}], [{"t": 3}]]


def test_a_refusal_for_batch_size_is_learnt_and_nothing_is_lost():
    limits = BatchLimits(4)
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
        run([answer(200, {"data": [{"id": 1}, {"id": 2}]}), failure], [{"n": i} for i in range(5)])
    error = caught.value
    assert (error.committed, error.failed, error.not_sent, error.uncertain) == (2, 2, 1, False)
    assert error.chunks == [(0, 2, "committed"), (2, 2, "failed"), (4, 1, "not sent")]
    assert [item.id for item in error.results] == [1, 2]
    assert "chunk 2 of 3 (entries 2 to 3) failed" in str(error) and "2 entries in 1 earlier chunks" in str(error)


def test_a_lost_answer_makes_the_chunk_uncertain():
    lost = TransportError("reset", may_have_been_processed=True)
    with pytest.raises(BulkWriteError) as caught:
        run([lost], [1, 2, 3], op="delete_items")
    assert caught.value.uncertain and "may or may not have been written" in str(caught.value)
    assert caught.value.chunks == [(0, 2, "uncertain"), (2, 1, "not sent")]
