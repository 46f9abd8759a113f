"""Writes of any size: a list body (or a ``keys`` list) split into chunks, two on their way at once.

Directus refuses a batch above MAX_BATCH_MUTATION (400 "Exceeded max batch mutation limit of N"),
and a body above MAX_PAYLOAD_SIZE (1 MB by default). ``chunked_write_flow`` splits by both, learns
the server's batch limit from that refusal (which comes before anything is written) and carries on
with smaller chunks, and when a chunk fails, raises a BulkWriteError that says which chunks were
committed and which were not, so nothing is lost silently. Once a first chunk is written, the next
one is sent while the server writes it (``BatchLimits.in_flight``), each on a connection of its
own: the server may commit two chunks in either order, and their answers are put back in the
entries' order. Free of I/O: a runner runs the flow.

Directus 10 answers a batch create or update with at most QUERY_LIMIT_MAX of the items it wrote
(its read-back is clamped to the query limit; 11 and 12 return them all): an answer shorter than
its chunk lowers ``max_items`` to that length, so the chunks after it, and the client's later
writes, come back whole; the short chunk's missing records are logged (a ``Log`` effect: the
client's logger).
"""

from __future__ import annotations

import re

from collections import deque

from .effects import Join, Log, Start
from ..errors import DirectusError, TransportError, error_from_response
from .records import Request, decode_result, encode_json, models

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing stays out of import time
    from typing import Any, Deque, Dict, List, Mapping, NoReturn, Optional, Sequence, Tuple, Type, Union

    from .effects import Flow, Started
    from .records import Response
    from ..models import Item
    from .policy import RequestPolicy
    from .spec import Operation

__all__ = ["BulkWriteError", "BatchLimits", "chunkable", "chunked_write_flow",
           "refused_for_batch_size"]

_BATCH_LIMIT = re.compile(r"max batch mutation limit of (\d+)")


class BatchLimits:
    """How large one request of a bulk write may be: ``max_items`` entries, ``max_bytes`` of body;
    and ``in_flight``, how many chunks may be on their way at once (1: one after another)."""

    __slots__ = ("max_items", "max_bytes", "in_flight")

    max_items: int
    max_bytes: int
    in_flight: int

    def __init__(self, max_items: int = 500, max_bytes: int = 900 * 1024, in_flight: int = 2) -> None:
        if max_items < 1 or max_bytes < 1 or in_flight < 1:
            raise ValueError("batch limits must be positive")
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.in_flight = in_flight

    def __repr__(self) -> str:
        return "BatchLimits(max_items=%d, max_bytes=%d, in_flight=%d)" % (self.max_items, self.max_bytes,
                                                                          self.in_flight)


class BulkWriteError(DirectusError):
    """A chunk of a bulk write failed.

    ``committed``: how many entries the server wrote, in the chunks before the failure;
    ``results``: what those chunks returned (an ItemList, when the operation returns items);
    ``failed``: how many entries the failed chunk held, and ``uncertain`` whether the server may
    have written them anyway (the answer was lost after the request went out);
    ``not_sent``: how many entries after it were never sent; ``error``: the cause;
    ``chunks``: ``(first index, count, state)`` for each chunk, state being "committed",
    "failed", "uncertain" or "not sent".
    """

    error: DirectusError
    chunks: List[Tuple[int, int, str]]
    results: Optional[List[Any]]  # None when the operation returns no items
    committed: int
    failed: int
    uncertain: bool
    not_sent: int

    def __init__(self, error: DirectusError, chunks: List[Tuple[int, int, str]],
                 results: Optional[List[Any]]) -> None:
        self.error = error
        self.chunks = chunks
        self.results = results
        self.committed = sum(count for _, count, state in chunks if state == "committed")
        self.failed = sum(count for _, count, state in chunks if state in ("failed", "uncertain"))
        self.uncertain = any(state == "uncertain" for _, _, state in chunks)
        self.not_sent = sum(count for _, count, state in chunks if state == "not sent")
        failed_at = next(i for i, (_, _, state) in enumerate(chunks) if state in ("failed", "uncertain"))
        first, count, state = chunks[failed_at]
        committed_chunks = sum(1 for _, _, state in chunks if state == "committed")
        later = sum(count for _, count, state in chunks[failed_at + 1:] if state == "committed")
        super().__init__(
            "chunk %d of %d (entries %d to %d) %s: %s; %d entries in %d other chunks were committed%s, "
            "%d entries were not sent" % (
                failed_at + 1, len(chunks), first, first + count - 1,
                "may or may not have been written" if state == "uncertain" else "failed", error,
                self.committed, committed_chunks,
                " (%d of them after it: they were on their way)" % later if later else "", self.not_sent))


def chunkable(operation: Operation, data: object) -> Optional[Tuple[List[Any], Optional[Dict[str, Any]]]]:
    """The list to split in ``data`` and how to rebuild a body around a part of it, or None.

    A list body (create, batch update, delete by keys) is split itself; an object with a ``keys``
    list (update or delete by keys) has its keys split. Anything else goes in one request.
    """
    if operation.method not in ("POST", "PATCH", "DELETE"):
        return None
    if isinstance(data, (list, tuple)):
        return list(data), None
    if isinstance(data, dict) and isinstance(data.get("keys"), (list, tuple)) and "query" not in data:
        rest = {key: value for key, value in data.items() if key != "keys"}
        return list(data["keys"]), rest
    return None


def _encode_parts(entries: List[Any], rest: Optional[Dict[str, Any]]) -> Tuple[List[bytes], bytes, bytes]:
    """Each entry encoded once, and the body bytes around them: (parts, prefix, suffix)."""
    parts = [encode_json(entry) for entry in entries]
    if rest is None:
        return parts, b"[", b"]"
    envelope = encode_json(dict(rest, keys=[]))  # ...,"keys":[]} : the keys go between the brackets
    cut = envelope.rindex(b"[]") + 1
    return parts, envelope[:cut], envelope[cut:]


def _plan(parts: List[bytes], start: int, limits: BatchLimits, overhead: int) -> List[Tuple[int, int]]:
    """The chunks (first index, count) from ``start`` on, within ``limits``."""
    chunks = []
    index = start
    while index < len(parts):
        size, count = overhead, 0
        while index + count < len(parts) and count < limits.max_items:
            added = len(parts[index + count]) + (1 if count else 0)
            if count and size + added > limits.max_bytes:
                break
            size += added
            count += 1
        chunks.append((index, count))
        index += count
    return chunks


def refused_for_batch_size(response: Response) -> bool:
    """Whether ``response`` is Directus refusing a batch above MAX_BATCH_MUTATION."""
    return response.status == 400 and _BATCH_LIMIT.search(
        response.body.decode("utf-8", "replace")) is not None  # type: ignore[union-attr]  # buffered: body is bytes


def _chunk_flow(policy: RequestPolicy, request: Request) -> Flow[Union[Response, TransportError]]:
    """One chunk's request: its answer, or the TransportError that stood for one."""
    try:
        return (yield from policy.request_flow(request))
    except TransportError as error:
        return error


def chunked_write_flow(policy: RequestPolicy, operation: Operation, url: str, headers: Mapping[str, str], data: object,
                       limits: BatchLimits, model: Optional[Type[Item]] = None) -> Flow[Any]:
    """Send a bulk write in chunks; the result is what the method returns, merged over the chunks.

    Once a first chunk is written (a refusal for its size would have taught the server's limit),
    ``limits.in_flight`` chunks go at once (``Start``): the next chunk travels while the server
    writes the one before, so that the link and the server are both kept busy. The answers are
    taken in the chunks' order; after a failure nothing more is sent, and the chunks already on
    their way are waited for, so that the error says what became of each.

    A refusal for batch size lowers ``limits.max_items`` in place, so the client remembers it.
    """
    entries, rest = chunkable(operation, data)  # type: ignore[misc]  # not None: callers checked that it splits
    parts, prefix, suffix = _encode_parts(entries, rest)
    overhead = len(prefix) + len(suffix)
    headers = dict(headers)
    headers["Content-Type"] = "application/json"
    states = []  # type: List[Tuple[int, int, str]]  # (first, count, state) of the chunks settled so far
    merged = []  # type: List[Any]
    meta = None  # type: Any
    plan = _plan(parts, 0, limits, overhead)
    position = 0  # the next chunk to settle; plan[position:position + len(flying)] are on their way
    flying = deque()  # type: Deque[Started]
    failure = None  # type: Optional[DirectusError]
    try:
        def chunk_request(first: int, count: int) -> Request:
            body = prefix + b",".join(parts[first:first + count]) + suffix
            return Request(operation.method, url, headers, body, operation.auth)

        while position < len(plan):
            width = limits.in_flight if states else 1
            first, count = plan[position]
            if width == 1 and not flying:  # one at a time: no chunk travels beside it
                if failure is not None:
                    break  # failed: the chunks after it were never sent
                outcome = yield from _chunk_flow(policy, chunk_request(first, count))
            else:
                while failure is None and position + len(flying) < len(plan) and len(flying) < width:
                    flying.append((yield Start(_chunk_flow(policy, chunk_request(*plan[position + len(flying)])))))
                if not flying:
                    break  # failed: the chunks after it were never sent
                outcome = yield Join(flying.popleft())
            if isinstance(outcome, TransportError):
                states.append((first, count, "uncertain" if outcome.may_have_been_processed else "failed"))
                failure = failure or outcome
                position += 1
                continue
            response = outcome
            if response.status >= 300:
                refusal = error_from_response(response.status, response.headers, response.body, operation.method,
                                              url, response.attempts)
                found = _BATCH_LIMIT.search(refusal.message or "")
                if found and count > int(found.group(1)) >= 1 and failure is None and not flying:
                    # refused before anything was written: learn the server's limit (for the client's
                    # later writes too), split again from here
                    limits.max_items = int(found.group(1))
                    plan = plan[:position] + _plan(parts, first, limits, overhead)
                    continue
                states.append((first, count, "failed"))
                failure = failure or refusal
                position += 1
                continue
            states.append((first, count, "committed"))
            result = decode_result(operation, response, model)
            if isinstance(result, list):
                merged.extend(result)
                meta = getattr(result, "meta", None) or meta
                if operation.method in ("POST", "PATCH") and 1 <= len(result) < count and "limit=" not in url:
                    # Directus 10 clamps the read-back to QUERY_LIMIT_MAX: smaller chunks from here on
                    yield Log(30, "%s %s: the server answered %d of the %d items written by this chunk (Directus 10 "
                              "returns at most QUERY_LIMIT_MAX)", operation.method, url.split("?")[0],
                              len(result), count)  # 30: logging.WARNING
                    if len(result) < limits.max_items:
                        limits.max_items = len(result)
                        started = position + 1 + len(flying)  # the chunks after those on their way: re-planned
                        if started < len(plan):
                            plan = plan[:started] + _plan(parts, plan[started][0], limits, overhead)
            position += 1
    finally:
        for started_chunk in flying:  # closed early: those answers are not waited for
            started_chunk.cancel()
    if failure is not None:
        _fail(failure, states, plan[position:], merged, meta, operation)
    if operation.result in ("items", "files"):
        return models().ItemList(merged, meta)
    return None


def _fail(error: DirectusError, states: List[Tuple[int, int, str]], unsent: Sequence[Tuple[int, int]],
          merged: List[Any], meta: Any, operation: Operation) -> NoReturn:
    chunks = states + [(first, count, "not sent") for first, count in unsent]
    results = models().ItemList(merged, meta) if operation.result in ("items", "files") else None
    raise BulkWriteError(error, chunks, results)
