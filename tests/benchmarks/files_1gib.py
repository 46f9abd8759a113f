"""Upload and download 1 GiB with pydirectus and with curl against the same Directus: memory and speed.

    python3 tests/benchmarks/files_1gib.py [--size-mib 1024] [--rounds 5] [--url URL --token TOKEN]

Starts a throwaway Directus (pydirectus.testing) that accepts large uploads, unless --url is given.
Each transfer by pydirectus runs in a child process that has imported everything and made its
client before it measures, so the baseline is clean; the peak is VmHWM from /proc/self/status
(reset through /proc/self/clear_refs just before the transfer when the kernel allows it). curl
runs the same transfers on the same server, interleaved with ours, and dirty pages are flushed
before each transfer so that none pays for the one before. "download" writes a file (curl -o FILE,
download_file); "stream" reads the content and drops it (curl -o /dev/null, iter_file), which
leaves the disk out. Goals: the client's peak RSS stays under 64 MiB above its baseline, and its
throughput is at least 80% of curl's. Single transfers that write 1 GiB vary by up to 2x from one
run to the next for both tools on a small VM (the kernel's page cache), so the goal is judged on
the medians of the rounds; the best times are shown too.
Linux only (it reads /proc). Not part of the test suite.
"""

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MIB = 1024 * 1024
DIRECTIONS = ("upload", "download", "stream")
RSS_GOAL_MIB = 64
THROUGHPUT_GOAL = 0.8


# --------------------------------------------------------------------------- the child: one transfer

def status_kib(field):
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError("no %s in /proc/self/status" % field)


def child(argv):
    """``child upload URL TOKEN PATH``, ``child download URL TOKEN ID DEST`` or ``child stream URL TOKEN ID``
    (the content read and dropped, as ``curl -o /dev/null``): prints one JSON line."""
    sys.path.insert(0, ROOT)
    from pydirectus import DirectusClient  # noqa: E402  everything the transfer needs, imported first
    import pydirectus._sync.transport  # noqa: F401
    import mimetypes
    mimetypes.init()
    action, url, token = argv[:3]
    client = DirectusClient(hostname=url, static_token=token, proxies={}, read_timeout=600)
    client.server_ping()  # connected, and http.client and friends loaded
    try:  # "5" resets the peak RSS (VmHWM) to the current RSS: a clean baseline
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        reset = True
    except OSError:
        reset = False
    baseline = status_kib("VmRSS")
    import resource
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    if action == "upload":
        record = client.upload_file(argv[3])
        result = {"id": record.id, "bytes": record.filesize}
    elif action == "download":
        client.download_file(argv[3], argv[4], overwrite=True)
        result = {"bytes": os.path.getsize(argv[4])}
    else:
        received = 0
        for chunk in client.iter_file(argv[3], chunk_size=128 * 1024):
            received += len(chunk)
        result = {"bytes": received}
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    peak = status_kib("VmHWM")
    result.update(seconds=elapsed, baseline_kib=baseline, peak_kib=peak, hwm_reset=reset,
                  user_seconds=after.ru_utime - before.ru_utime, system_seconds=after.ru_stime - before.ru_stime)
    print(json.dumps(result))


def run_child(*args):
    output = subprocess.run([sys.executable, os.path.abspath(__file__), "child"] + list(args),
                            stdout=subprocess.PIPE, check=True, universal_newlines=True).stdout
    return json.loads(output.strip().splitlines()[-1])


# --------------------------------------------------------------------------- curl

def curl(args):
    started = time.perf_counter()
    output = subprocess.run(["curl", "--silent", "--show-error", "--fail", "--noproxy", "*"] + args,
                            stdout=subprocess.PIPE, check=True).stdout
    return time.perf_counter() - started, output


def curl_upload(url, token, path):
    seconds, output = curl(["-H", "Authorization: Bearer " + token, "-F", "file=@" + path,
                            url + "/files?fields=id,filesize"])
    data = json.loads(output)["data"]
    return seconds, data["id"], data["filesize"]


def curl_download(url, token, file_id, dest="/dev/null"):
    seconds, _ = curl(["-H", "Authorization: Bearer " + token, "-o", dest, url + "/assets/" + file_id])
    return seconds


# --------------------------------------------------------------------------- the parent

def make_source(path, size):
    """``size`` bytes of incompressible data, written in 1 MiB blocks; its sha256."""
    digest = hashlib.sha256()
    block = os.urandom(MIB)
    with open(path, "wb") as handle:
        remaining = size
        while remaining:
            piece = block[:min(MIB, remaining)]
            handle.write(piece)
            digest.update(piece)
            remaining -= len(piece)
    return digest.hexdigest()


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(4 * MIB), b""):
            digest.update(block)
    return digest.hexdigest()


def settle():
    """Flush dirty pages first, so that no transfer pays for the writeback of the one before."""
    os.sync()
    time.sleep(0.5)


def delete_file(url, token, file_id):
    curl(["-X", "DELETE", "-H", "Authorization: Bearer " + token, url + "/files/" + file_id])


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=5, help="transfers of each kind per tool")
    parser.add_argument("--url", help="an existing Directus instead of a throwaway one")
    parser.add_argument("--token", help="an admin token for --url")
    parser.add_argument("--workdir", help="where the source and downloaded files go (default: a temp folder)")
    parser.add_argument("--json", action="store_true", help="end with the summary as one line of JSON (run.py)")
    options = parser.parse_args(argv)
    if shutil.which("curl") is None:
        raise SystemExit("curl is not on PATH")
    size = options.size_mib * MIB
    server = None
    if options.url:
        url, token = options.url.rstrip("/"), options.token
    else:
        sys.path.insert(0, ROOT)
        from pydirectus.testing import DirectusServer
        server = DirectusServer({"FILES_MAX_UPLOAD_SIZE": "%dmb" % (options.size_mib * 2 + 16),
                                 "MAX_PAYLOAD_SIZE": "10mb"}).start()
        url, token = server.url, server.token
    workdir = tempfile.mkdtemp(prefix="pydirectus-bench-", dir=options.workdir)
    try:
        source = os.path.join(workdir, "source.bin")
        print("writing a %d MiB source file ..." % options.size_mib, flush=True)
        expected = make_source(source, size)
        results = {"%s %s" % (tool, kind): [] for tool in ("pydirectus", "curl") for kind in DIRECTIONS}
        memory = {kind: [] for kind in DIRECTIONS}
        downloads_checked = False
        for round_number in range(options.rounds):
            # curl first, then ours; the other way round the next round
            order = ("curl", "pydirectus") if round_number % 2 == 0 else ("pydirectus", "curl")
            ids = {}
            for tool in order:
                settle()
                if tool == "curl":
                    seconds, file_id, filesize = curl_upload(url, token, source)
                else:
                    measured = run_child("upload", url, token, source)
                    seconds, file_id, filesize = measured["seconds"], measured["id"], measured["bytes"]
                    memory["upload"].append(measured)
                assert filesize == size, (tool, filesize)
                results["%s upload" % tool].append(seconds)
                ids[tool] = file_id
            for tool in order:
                dest = os.path.join(workdir, "%s.bin" % tool)
                settle()
                if tool == "curl":
                    seconds = curl_download(url, token, ids["pydirectus"], dest)
                else:
                    measured = run_child("download", url, token, ids["curl"], dest)
                    seconds = measured["seconds"]
                    memory["download"].append(measured)
                assert os.path.getsize(dest) == size, (tool, os.path.getsize(dest))
                if tool == "pydirectus" and not downloads_checked:
                    assert sha256_of(dest) == expected, "the downloaded file differs from the source"
                    downloads_checked = True
                os.unlink(dest)
                results["%s download" % tool].append(seconds)
            for tool in order:  # the same without the disk: the content is read and dropped
                settle()
                if tool == "curl":
                    seconds = curl_download(url, token, ids["pydirectus"])
                else:
                    measured = run_child("stream", url, token, ids["curl"])
                    assert measured["bytes"] == size, measured
                    seconds = measured["seconds"]
                    memory["stream"].append(measured)
                results["%s stream" % tool].append(seconds)
            for file_id in ids.values():
                delete_file(url, token, file_id)
            print("round %d of %d done" % (round_number + 1, options.rounds), flush=True)
        summary = report(options.size_mib, results, memory)
        if options.json:
            print(json.dumps(summary))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if server is not None:
            server.stop()


def report(size_mib, results, memory):
    """Print the results; return their summary: medians per direction, RSS peaks, whether the goals are met."""
    summary = {"size_mib": size_mib, "rounds": len(results["curl upload"])}
    print()
    rounds = len(results["curl upload"])
    print("%d MiB, %d rounds; throughput in MiB/s, best (median)" % (size_mib, rounds))
    print("%-22s %16s %16s %16s" % ("", "seconds", "MiB/s", "vs curl"))
    ok = True
    for direction in DIRECTIONS:
        ours, theirs = results["pydirectus " + direction], results["curl " + direction]
        ratio, median_ratio = min(theirs) / min(ours), statistics.median(theirs) / statistics.median(ours)
        ok = ok and median_ratio >= THROUGHPUT_GOAL
        summary[direction] = {"pydirectus_mib_s": round(size_mib / statistics.median(ours), 1),
                              "curl_mib_s": round(size_mib / statistics.median(theirs), 1),
                              "vs_curl": round(median_ratio, 2)}
        for name, times in (("curl", theirs), ("pydirectus", ours)):
            print("%-22s %7.2f (%6.2f) %7.1f (%6.1f) %16s" % (
                name + " " + direction, min(times), statistics.median(times), size_mib / min(times),
                size_mib / statistics.median(times),
                "" if name == "curl" else "%6.0f%% (%5.0f%%)" % (ratio * 100, median_ratio * 100)))
    for name, times in sorted(results.items()):
        print("  %-20s %s" % (name, " ".join("%.2f" % t for t in times)))
    print()
    print("pydirectus client process, RSS in MiB:")
    for direction in DIRECTIONS:
        for measured in memory[direction]:
            above = (measured["peak_kib"] - measured["baseline_kib"]) / 1024.0
            ok = ok and above < RSS_GOAL_MIB
            summary[direction]["peak_above_baseline_mib"] = round(
                max(summary[direction].get("peak_above_baseline_mib", 0.0), above), 1)
            print("  %-9s baseline %6.1f  peak %6.1f  above baseline %5.1f  (%.2f s, cpu %.2f user %.2f system%s)"
                  % (direction, measured["baseline_kib"] / 1024.0, measured["peak_kib"] / 1024.0, above,
                     measured["seconds"], measured["user_seconds"], measured["system_seconds"],
                     "" if measured["hwm_reset"] else ", peak not reset"))
    print()
    print("goals (RSS < %d MiB above baseline, throughput >= %d%% of curl): %s"
          % (RSS_GOAL_MIB, THROUGHPUT_GOAL * 100, "met" if ok else "NOT met"))
    summary["goals_met"] = ok
    return summary


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        child(sys.argv[2:])
    else:
        main(sys.argv[1:])
