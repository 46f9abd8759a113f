"""Import time of pydirectus, requests and httpx, each in fresh interpreters (-X importtime).

    python3 tests/benchmarks/import_time.py [--runs 9]

The figure is the cumulative time of the top-level import as -X importtime reports it, median of
the runs. Modules not installed in this interpreter are left out. Not part of the test suite.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def import_time_us(module):
    env = dict(os.environ, PYTHONPATH=ROOT)
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", "import " + module], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, universal_newlines=True)
    if result.returncode != 0:
        return None
    for line in result.stderr.splitlines():
        parts = [part.strip() for part in line.split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1])
    return None


def measure(modules, runs):
    rows = []
    for module in modules:
        times = [import_time_us(module) for _ in range(runs)]
        if None in times:
            continue
        rows.append({"name": module, "median_ms": statistics.median(times) / 1000.0,
                     "min_ms": min(times) / 1000.0})
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = measure(["pydirectus", "requests", "httpx"], args.runs)
    if args.json:
        print(json.dumps(rows))
        return
    print("%-12s %10s %10s   (Python %d.%d, -X importtime, %d fresh interpreters)"
          % ("module", "median ms", "min ms", sys.version_info[0], sys.version_info[1], args.runs))
    for row in rows:
        print("%-12s %10.1f %10.1f" % (row["name"], row["median_ms"], row["min_ms"]))


if __name__ == "__main__":
    main()
