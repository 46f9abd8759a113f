"""Rolling restart: four threads of mixed traffic through nginx (reads, creates, updates, deletes, one
upload) while instance 1, then instance 2, is stopped with SIGTERM and started again.

Then: 0 failed reads; every write either succeeded once or raised an error saying whether it may have been
processed (TransportError.may_have_been_processed); PostgreSQL shows no duplicate and no lost write that
was reported as done (each create carries a unique marker), and no write whose error said "not processed"
took effect. The counts are printed in the deployment figures.

The threads pace themselves (under 10 operations per second each) to stay under the stack's shared rate
limit (50 per second): this test is about restarts, test_rate_limit.py about the limiter."""

import collections
import threading
import time

from pydirectus import DirectusClient, RateLimitedError

THREADS = 4
OWN_ITEMS = 5  # items each thread updates (only that thread: the last value it wrote is known)
PAUSE = 0.1


class Outcomes:
    def __init__(self):
        self.lock = threading.Lock()
        self.reads_ok = 0
        self.read_failures = []
        self.writes_ok = 0
        self.failed = collections.Counter()  # "maybe" | "not processed" | "unclear" | "rate limited"
        self.messages = collections.Counter()  # kind, error class and message of failed writes
        self.created = {}  # marker -> id, reported done
        self.create_failed = {}  # marker -> kind
        self.deleted = {}  # id -> kind ("ok" or a failure kind)
        self.updates = collections.defaultdict(list)  # id -> [(title, "ok" | kind)] in order

    def classify(self, error):
        if isinstance(error, RateLimitedError):
            return "rate limited"
        said = getattr(error, "may_have_been_processed", None)  # TransportError's; any error that says it
        if isinstance(said, bool):
            return "maybe" if said else "not processed"
        return "unclear"  # today an APIError (a proxy's bare 502, say) does not say whether the server acted

    def write_failed(self, what, error):
        kind = self.classify(error)
        with self.lock:
            self.failed[kind] += 1
            status = getattr(error, "status", None)
            text = str(error)
            text = text if len(text) <= 200 else text[:70] + " [...] " + text[-130:]
            self.messages["%s %s %s%s: %s" % (what, kind, type(error).__name__, " %s" % status if status else "",
                                                text)] += 1
        return kind


def _traffic(client, number, collection, own_ids, outcomes, stop, upload_now, upload_result):
    sequence = 0
    mine = []  # ids this thread created and did not delete yet
    while not stop.is_set():
        sequence += 1
        step = sequence % 6
        try:
            if step in (0, 3):
                client.read_items(collection, limit=10, sort=["-id"])
                with outcomes.lock:
                    outcomes.reads_ok += 1
            elif step == 1:
                client.read_item(collection, own_ids[sequence % len(own_ids)])
                with outcomes.lock:
                    outcomes.reads_ok += 1
        except Exception as error:  # noqa: BLE001 - a failed read is what this test counts
            with outcomes.lock:
                outcomes.read_failures.append("%s: %s" % (type(error).__name__, error))
        if step == 2:
            marker = "rr-%d-%d" % (number, sequence)
            try:
                item = client.create_item(collection, {"title": "created", "marker": marker, "views": number})
                with outcomes.lock:
                    outcomes.writes_ok += 1
                    outcomes.created[marker] = item.id
                mine.append(item.id)
            except Exception as error:  # noqa: BLE001
                outcomes.create_failed[marker] = outcomes.write_failed("create", error)
        elif step == 4:
            target = own_ids[sequence % len(own_ids)]
            title = "upd-%d-%d" % (number, sequence)
            try:
                client.update_item(collection, target, {"title": title})
                with outcomes.lock:
                    outcomes.writes_ok += 1
                    outcomes.updates[target].append((title, "ok"))
            except Exception as error:  # noqa: BLE001
                outcomes.updates[target].append((title, outcomes.write_failed("update", error)))
        elif step == 5 and len(mine) > 2:
            target = mine.pop(0)
            try:
                client.delete_item(collection, target)
                with outcomes.lock:
                    outcomes.writes_ok += 1
                    outcomes.deleted[target] = "ok"
            except Exception as error:  # noqa: BLE001
                outcomes.deleted[target] = outcomes.write_failed("delete", error)
        if number == 0 and upload_now.is_set() and not upload_result:
            try:
                uploaded = client.upload_file(b"rolling restart upload\n" * 40000, filename="rolling.txt",
                                              title="rolling-restart-upload")
                upload_result.append(("ok", uploaded.id))
                with outcomes.lock:
                    outcomes.writes_ok += 1
            except Exception as error:  # noqa: BLE001
                upload_result.append((outcomes.write_failed("upload", error), None))
        time.sleep(PAUSE)


def test_rolling_restart(stack, admin, collection, figures):
    seeded = admin.create_items(collection, [{"title": "seed", "marker": "seed-%d" % i, "views": 0}
                                             for i in range(THREADS * OWN_ITEMS)])
    ids = [item.id for item in seeded]
    outcomes = Outcomes()
    stop = threading.Event()
    upload_now = threading.Event()
    upload_result = []
    client = DirectusClient(hostname=stack.url, static_token=stack.token, ssl_verify=stack.ca_file)
    since = stack.access_log_size()
    threads = [threading.Thread(target=_traffic, args=(client, number, collection,
                                                       ids[number * OWN_ITEMS:(number + 1) * OWN_ITEMS], outcomes,
                                                       stop, upload_now, upload_result))
               for number in range(THREADS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    restarts = []
    try:
        time.sleep(2)
        for index in range(len(stack.servers)):
            if index == 0:
                upload_now.set()  # the upload goes out while instance 1 restarts
            restarts.append(stack.restart_instance(index))
            time.sleep(2)
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
        client.close()
    elapsed = time.monotonic() - started

    # ---- what the database says
    rows = stack.psql("SELECT id, marker, title FROM %s" % collection)
    by_marker = collections.Counter(row[1] for row in rows)
    title_of = {int(row[0]): row[2] for row in rows}
    present_markers = set(by_marker)
    duplicates = sorted(marker for marker, count in by_marker.items() if count > 1)
    lost = []
    for marker, item_id in outcomes.created.items():
        if outcomes.deleted.get(item_id) == "ok":
            if item_id in title_of:
                lost.append("delete of %s reported done, row still there" % item_id)
        elif marker not in present_markers and item_id not in outcomes.deleted:
            lost.append("create %s reported done, not in the database" % marker)
    for item_id, kind in outcomes.deleted.items():
        if kind == "not processed" and item_id not in title_of:
            lost.append("delete of %s said 'not processed' but took effect" % item_id)
    processed_anyway = collections.Counter()
    for marker, kind in outcomes.create_failed.items():
        if marker in present_markers:
            processed_anyway[kind] += 1
            if kind == "not processed":
                lost.append("create %s said 'not processed' but is in the database" % marker)
    for item_id, history in outcomes.updates.items():
        final = title_of.get(item_id)
        last_ok = max((i for i, (_, kind) in enumerate(history) if kind == "ok"), default=-1)
        allowed = {title for i, (title, kind) in enumerate(history) if i >= last_ok and kind != "not processed"}
        if last_ok == -1:
            allowed.add("seed")
        if final not in allowed:
            lost.append("item %s ends as %r; the last update reported done was %r" % (
                item_id, final, history[last_ok][0] if last_ok >= 0 else None))
    upload_rows = stack.psql("SELECT count(*) FROM directus_files WHERE title = 'rolling-restart-upload'")
    upload_count = int(upload_rows[0][0])
    if upload_result and upload_result[0][0] == "ok" and upload_count != 1:
        lost.append("the upload reported done is in directus_files %d times" % upload_count)
    if upload_count > 1:
        duplicates.append("upload x%d" % upload_count)

    entries = stack.access_entries(since)
    statuses = collections.Counter(entry["status"] for entry in entries)
    retried_upstream = sum(1 for entry in entries if "," in entry["upstream"])
    failed_total = sum(outcomes.failed.values())
    figures["rolling restart"] = (
        "%.0f s, restarts %s s; reads %d ok, %d failed; writes %d ok, %d failed (maybe processed %d, creates "
        "among them in the database %d; not processed %d; error does not say %d, in the database %d; rate "
        "limited %d); upload %s; duplicates %d; lost %d" % (
            elapsed, ["%.1f" % seconds for seconds in restarts], outcomes.reads_ok, len(outcomes.read_failures),
            outcomes.writes_ok, failed_total, outcomes.failed["maybe"], processed_anyway["maybe"],
            outcomes.failed["not processed"], outcomes.failed["unclear"], processed_anyway["unclear"],
            outcomes.failed["rate limited"], upload_result[0][0] if upload_result else "not sent", len(duplicates),
            len(lost)))
    bad_gateway = collections.Counter(entry["method"] for entry in entries if entry["status"] == "502")
    figures["rolling restart, nginx"] = "statuses %s (502 by method %s); %d requests passed to the next instance" % (
        dict(statuses), dict(bad_gateway), retried_upstream)
    if outcomes.messages:
        figures["rolling restart, failed writes"] = "; ".join(
            "%d x %s" % (count, message) for message, count in outcomes.messages.most_common(6))
    if outcomes.read_failures:
        figures["rolling restart, failed reads"] = "; ".join(outcomes.read_failures[:4])

    assert outcomes.reads_ok > 100 and outcomes.writes_ok > 50, "too little traffic to mean anything"
    assert not outcomes.read_failures, "%d reads failed: %s" % (len(outcomes.read_failures),
                                                                 outcomes.read_failures[:5])
    assert not duplicates, duplicates
    assert not lost, lost
    assert upload_result, "the upload never ran"
    assert outcomes.failed["unclear"] == 0, (
        "%d writes raised an error that does not say whether the server may have processed them: %s"
        % (outcomes.failed["unclear"], [m for m in outcomes.messages if " unclear " in m]))
    assert outcomes.failed["rate limited"] == 0, outcomes.messages
