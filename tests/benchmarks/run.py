#!/usr/bin/env python3
"""The benchmark suite: pydirectus side by side with its peers, in one table.

    python3 tests/benchmarks/run.py [--quick] [--out benchmark-results.md] [--skip files,bulk,network]

Makes its own venv (<cache root>/venvs/bench-py3.X) with requests and httpx, the peers; they are
never dependencies of the package. Each benchmark runs in that venv's interpreter and reports JSON;
this script prints one table and writes it to --out. Starts its own throwaway Directus servers.
--quick runs smaller sizes (no 1 GiB transfer, 10x fewer items), for a first look.
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PEERS = ["requests==2.32.3", "httpx==0.28.1"]


def cache_root():
    sys.path.insert(0, ROOT)
    from pydirectus.testing import cache_root as root
    return root()


def bench_python():
    venv = os.path.join(cache_root(), "venvs", "bench-py%d.%d" % sys.version_info[:2])
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    check = subprocess.run([python, "-c", "import requests, httpx"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    if check.returncode != 0:
        subprocess.run([python, "-m", "pip", "install", "--quiet"] + PEERS, check=True)
    return python


def run_json(python, script, *arguments):
    started = time.monotonic()
    result = subprocess.run([python, os.path.join(HERE, script), "--json"] + list(arguments),
                            stdout=subprocess.PIPE, universal_newlines=True, cwd=ROOT)
    if result.returncode != 0:
        raise SystemExit("%s failed (exit %d)" % (script, result.returncode))
    print("[bench] %s done in %.0f s" % (script, time.monotonic() - started), flush=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def request_section(rows, title):
    floor = rows[0]["cpu_us"]
    lines = ["### %s" % title, "", "| client | CPU us/request | wall us/request | CPU x floor |", "|---|---|---|---|"]
    lines += ["| %s | %.1f | %.1f | %.2f |" % (r["name"], r["cpu_us"], r["wall_us"], r["cpu_us"] / floor)
              for r in rows]
    ours = next(r for r in rows if r["name"].startswith("pydirectus"))
    peers = [r for r in rows if r["name"].startswith(("requests", "httpx"))]
    lines += ["", "Goal: pydirectus at most 1.3x the floor and below requests and httpx: %.2fx, %s." % (
        ours["cpu_us"] / floor,
        "below both" if peers and all(ours["cpu_us"] < p["cpu_us"] for p in peers) else "NOT below both")]
    by_name = {r["name"]: r["cpu_us"] for r in rows}
    asynchronous = by_name.get("pydirectus AsyncDirectusClient.read_item")
    if asynchronous is not None:
        lines += ["", "Async client CPU: %.2fx the sync client's (goal at most 1.3)%s." % (
            asynchronous / ours["cpu_us"],
            "; %.2fx the async floor" % (asynchronous / by_name["asyncio streams loop + json.loads (async floor)"])
            if "asyncio streams loop + json.loads (async floor)" in by_name else "")]
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default="benchmark-results.md")
    parser.add_argument("--skip", default="", help="comma list of: requests, imports, files, bulk, network")
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    python = bench_python()
    version = subprocess.run([python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                             stdout=subprocess.PIPE, universal_newlines=True).stdout.strip()
    lines = ["# pydirectus benchmarks", "", "Python %s, %s, %d cores; %s." % (
        version, time.strftime("%Y-%m-%d"), os.cpu_count() or 0, "quick sizes" if args.quick else "full sizes"), ""]
    if "requests" not in skip:
        result = run_json(python, "request_cpu.py", "--directus", "--requests", "2000" if args.quick else "5000",
                          "--rounds", "1" if args.quick else "3")
        lines += request_section(result["fast_server"], "Client CPU per small GET, fast local keep-alive server")
        lines += [""] + request_section(result["directus"], "The same against a real Directus 12.4.0") + [""]
    if "imports" not in skip:
        rows = run_json(python, "import_time.py", "--runs", "5" if args.quick else "11")
        by_name = {r["name"]: r["median_ms"] for r in rows}
        lines += ["### Import time (fresh interpreters, -X importtime, median)", "", "| module | ms |", "|---|---|"]
        lines += ["| %s | %.1f |" % (r["name"], r["median_ms"]) for r in rows]
        if "requests" in by_name:
            lines += ["", "Goal: at most a quarter of requests': %.2f of it." % (
                by_name["pydirectus"] / by_name["requests"])]
        lines.append("")
    if "files" not in skip and os.path.exists(os.path.join(HERE, "files_1gib.py")):
        size = ["--size-mib", "64"] if args.quick else []
        result = run_json(python, "files_1gib.py", *size)
        lines += ["### Upload and download", "", "```", json.dumps(result, indent=1), "```", ""]
    if "bulk" not in skip:
        sizes = ["--create", "1000", "--iterate", "10000", "--one-by-one", "100"] if args.quick else []
        result = run_json(python, "bulk.py", *sizes)
        bulk, single, iterate = result["bulk"], result["one_by_one"], result["iterate"]
        lines += ["### Bulk writes and iteration (real Directus 12.4.0)", "",
                  "| what | figure |", "|---|---|",
                  "| create_items(%d), chunked | %.2f ms/item, client CPU %.1f%% of wall |" % (
                      bulk["items"], bulk["ms_per_item"], bulk["cpu_share"] * 100),
                  "| create_item one by one (%d) | %.2f ms/item |" % (single["items"], single["ms_per_item"]),
                  "| bulk against one by one | %.1fx faster per item |" % result["speedup"],
                  "| iter_items over %d items | %.1f s, RSS growth %s KiB at its peak |" % (
                      iterate["items"], iterate["wall_s"], iterate["peak_growth_kib"]),
                  "", "RSS growth along the iteration (items, KiB): %s" % iterate["rss_growth_kib"], ""]
    if "network" not in skip:  # needs Debian's nginx (tests/benchmarks/network.py installs it as root)
        sizes = ["--items", "5000", "--create", "500", "--runs", "1"] if args.quick else []
        result = run_json(python, "network.py", *sizes)
        lines += ["### Over a 20 ms, 50 Mbit/s link, through nginx with gzip (tests/benchmarks/network.py)", "",
                  result["table"], ""]
    text = "\n".join(lines)
    print(text)
    with open(args.out, "w") as handle:
        handle.write(text + "\n")
    print("\n[bench] written to %s" % args.out)


if __name__ == "__main__":
    main()
