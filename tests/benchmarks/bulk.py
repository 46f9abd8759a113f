"""Bulk writes and iteration against a real Directus: the figures of the large-collections issue.

    python3 tests/benchmarks/bulk.py [--create 10000] [--iterate 100000] [--one-by-one 300]

- creating N items in one create_items call (chunked) against creating items one by one;
- the client's own CPU as a share of the wall time while doing it;
- peak RSS while iterating M items with iter_items, sampled along the way: it must not grow with M.
Starts its own throwaway Directus (pydirectus.testing). Not part of the test suite.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from pydirectus import DirectusClient  # noqa: E402
from pydirectus.testing import DirectusServer  # noqa: E402

FIELDS = [{"field": "id", "type": "integer", "schema": {"is_primary_key": True, "has_auto_increment": True}},
          {"field": "title", "type": "string"}, {"field": "views", "type": "integer"}]


def rss_kib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def timed(work):
    cpu, wall = time.process_time(), time.perf_counter()
    result = work()
    return result, time.process_time() - cpu, time.perf_counter() - wall


def run(create, iterate, one_by_one):
    rows = {}
    with DirectusServer() as server:
        client = DirectusClient(hostname=server.url, static_token=server.token)
        client.create_collection({"collection": "bench", "meta": {}, "schema": {}, "fields": FIELDS})
        items = [{"title": "item %d" % i, "views": i} for i in range(create)]
        created, cpu, wall = timed(lambda: client.create_items("bench", items))
        assert len(created) == create
        rows["bulk"] = {"items": create, "wall_s": wall, "cpu_s": cpu, "ms_per_item": wall / create * 1000,
                        "cpu_share": cpu / wall}
        _, cpu1, wall1 = timed(lambda: [client.create_item("bench", {"title": "one", "views": 0})
                                        for _ in range(one_by_one)])
        rows["one_by_one"] = {"items": one_by_one, "ms_per_item": wall1 / one_by_one * 1000,
                              "cpu_share": cpu1 / wall1}
        rows["speedup"] = rows["one_by_one"]["ms_per_item"] / rows["bulk"]["ms_per_item"]
        missing = iterate - client.count_items("bench")
        if missing > 0:
            client.create_items("bench", [{"title": "fill %d" % i, "views": i} for i in range(missing)])
        del items, created
        samples = []
        baseline = rss_kib()
        cpu, wall = time.process_time(), time.perf_counter()
        count = 0
        for _ in client.iter_items("bench", limit=iterate):  # default pages: sized by weight, one ahead
            count += 1
            if count % (iterate // 10) == 0:
                samples.append((count, rss_kib() - baseline))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        rows["iterate"] = {"items": count, "wall_s": wall, "cpu_share": cpu / wall,
                           "rss_growth_kib": samples, "peak_growth_kib": max(g for _, g in samples)}
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--create", type=int, default=10000)
    parser.add_argument("--iterate", type=int, default=100000)
    parser.add_argument("--one-by-one", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = run(args.create, args.iterate, args.one_by_one)
    if args.json:
        print(json.dumps(rows))
        return
    bulk, single, iterate = rows["bulk"], rows["one_by_one"], rows["iterate"]
    print("create_items(%d) in chunks: %.1f s, %.2f ms/item, client CPU %.1f%% of wall"
          % (bulk["items"], bulk["wall_s"], bulk["ms_per_item"], bulk["cpu_share"] * 100))
    print("create_item one by one (%d): %.2f ms/item, client CPU %.1f%% of wall; bulk is %.1fx faster per item"
          % (single["items"], single["ms_per_item"], single["cpu_share"] * 100, rows["speedup"]))
    print("iter_items over %d items: %.1f s, client CPU %.1f%% of wall, RSS growth (items, KiB): %s"
          % (iterate["items"], iterate["wall_s"], iterate["cpu_share"] * 100, iterate["rss_growth_kib"]))


if __name__ == "__main__":
    main()
