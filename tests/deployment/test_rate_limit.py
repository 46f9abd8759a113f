"""The rate limiter in Redis, shared by both instances (RATE_LIMITER_STORE=redis, 50 points per 1 s for
everyone behind nginx's one address): a burst of 600 reads from 8 threads through nginx ends with 0
failures, the client waiting as each 429's Retry-After says (pydirectus's default retry policy).

The limit (50 per second, the stack's default) is well below what 8 threads get through (100-150 reads per
second here), so that most of every second is spent over the limit: Directus then answers Retry-After: 1
early in its window and Retry-After: 0 in its last 500 ms (it rounds the milliseconds it has left)."""

import collections
import logging
import re
import threading
import time

from pydirectus import DirectusClient

THREADS = 8
PER_THREAD = 75


class _Waits(logging.Handler):
    """Per thread, the statuses and waits the client logs (runner: "-> 429 in", "waiting 1.00 s")."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.by_thread = collections.defaultdict(list)

    def emit(self, record):
        message = record.getMessage()
        status = re.search(r" -> (\d{3}) in ", message)
        wait = re.match(r"waiting ([\d.]+) s", message)
        if status:
            self.by_thread[record.thread].append(("status", int(status.group(1))))
        elif wait:
            self.by_thread[record.thread].append(("wait", float(wait.group(1))))


def test_burst_above_the_shared_limit_ends_without_failures(stack, collection, figures):
    waits = _Waits()
    logger = logging.getLogger("pydirectus.deployment.burst")
    logger.addHandler(waits)
    logger.setLevel(logging.DEBUG)
    client = DirectusClient(hostname=stack.url, static_token=stack.token, ssl_verify=stack.ca_file,
                            logger=logger, max_connections=THREADS)
    failures = []
    done = [0]
    lock = threading.Lock()

    def burst():
        for _ in range(PER_THREAD):
            try:
                client.read_items(collection, limit=1)
                with lock:
                    done[0] += 1
            except Exception as error:  # noqa: BLE001 - every failure is counted and shown
                failures.append(repr(error))

    client.server_ping()  # connect first
    since = stack.access_log_size()
    started = time.monotonic()
    threads = [threading.Thread(target=burst) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    client.close()
    logger.removeHandler(waits)

    entries = [entry for entry in stack.access_entries(since) if "/items/" in entry["uri"]]
    limited = [entry for entry in entries if entry["status"] == "429"]
    retry_after = collections.Counter(entry["retry_after"] for entry in limited)
    upstreams = collections.Counter(entry["upstream"] for entry in entries)
    # the client's wait right after each 429, per thread
    after_429 = []
    for events in waits.by_thread.values():
        for (kind, value), following in zip(events, events[1:] + [("end", None)]):
            if kind == "status" and value == 429:
                after_429.append(following[1] if following[0] == "wait" else None)
    figures["rate limiter burst"] = (
        "%d reads from %d threads in %.1f s (limit %d per %d s, Redis): %d ok, %d failed; nginx saw %d requests, "
        "%d answered 429 (Retry-After %s) across %s; client waits after a 429: min %s max %s" % (
            THREADS * PER_THREAD, THREADS, elapsed, stack.rate_limiter_points, stack.rate_limiter_duration, done[0],
            len(failures), len(entries), len(limited), dict(retry_after), dict(upstreams),
            min(after_429, key=lambda w: -1 if w is None else w) if after_429 else "-",
            max(after_429, key=lambda w: -1 if w is None else w) if after_429 else "-"))
    assert not failures, "%d of the burst's reads failed: %s" % (len(failures), failures[:5])
    assert done[0] == THREADS * PER_THREAD
    assert limited, "the burst never went above the limit (%d requests in %.1f s)" % (len(entries), elapsed)
    assert len(upstreams) == 2, "both instances answered: %s" % upstreams
    # Directus rounds the wait to whole seconds; the client sleeps what Retry-After says (0 is 0)
    asked = sorted(float(value) for value in retry_after.elements())
    assert None not in after_429, "a 429 was not followed by a wait: %s" % after_429
    assert all(wait >= asked[0] - 0.01 for wait in after_429), (after_429, asked)
    assert all(wait <= asked[-1] + 1.0 for wait in after_429), (after_429, asked)
