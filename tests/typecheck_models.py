"""mypy --strict and pyright strict over a module ``python -m pydirectus models`` generated and the
user scripts of tests/typing_models/ that use it, in a project of their own (a temporary directory,
pydirectus seen as an installed package): what tests/unit/test_codegen.py (from a canned schema) and
tests/integration/test_models_command.py (from a live server) assert.

A script marks the lines a checker must reject with ``# E: <text>`` (mypy's words; pyright's differ:
there a marked line must get some error); every other line of every file must get none."""

import collections
import glob
import importlib.util
import json
import os
import re
import subprocess
import sys
import tokenize

from pydirectus.testing import cache_root

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS_DIR = os.path.join(ROOT, "tests", "typing_models")
MODULE = "directus_models.py"  # the name the scripts import the generated module by
_EXPECTED = re.compile(r"#\s*E:\s*(.+?)\s*$")
_REPORTED = re.compile(r"^(?P<file>[^:\n]+\.py):(?P<line>\d+): error: (?P<message>.*)$")


def scripts():
    return sorted(os.path.basename(path) for path in glob.glob(os.path.join(SCRIPTS_DIR, "*.py")))


def expected_errors(path):
    """{line: text} of the ``# E: text`` comments of a file."""
    expected = {}
    with open(path, "rb") as handle:
        for token in tokenize.tokenize(handle.readline):
            match = _EXPECTED.match(token.string) if token.type == tokenize.COMMENT else None
            if match:
                expected[token.start[0]] = match.group(1)
    return expected


def checkers_missing():
    """Why the checkers cannot run here (None when both can)."""
    if importlib.util.find_spec("mypy") is None:
        return "mypy is not installed in %s" % sys.prefix
    if not os.environ.get("PYDIRECTUS_PYRIGHT", "").split():
        return "PYDIRECTUS_PYRIGHT (pyright's command line) is not set"
    return None


def project(directory, module_text):
    """Write the generated module and the scripts into ``directory``; the names of the files."""
    with open(os.path.join(directory, MODULE), "w", encoding="utf-8") as handle:
        handle.write(module_text)
    for script in scripts():
        with open(os.path.join(SCRIPTS_DIR, script), "rb") as source, \
                open(os.path.join(directory, script), "wb") as target:
            target.write(source.read())
    return [MODULE] + scripts()


def run_mypy(directory, files):
    """{file: {line: [messages]}} of mypy --strict over ``files`` in ``directory``."""
    environment = dict(os.environ, PYTHONPATH=ROOT)
    environment.pop("MYPYPATH", None)
    cache_dir = os.path.join(cache_root(), "mypy-cache", "models-py%d.%d" % sys.version_info[:2])
    result = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--cache-dir", cache_dir, "--no-color-output",
                             "--no-error-summary", "--hide-error-context", "--show-error-codes"] + files,
                            cwd=str(directory), env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, timeout=900)
    assert result.returncode in (0, 1), "mypy could not run (exit %d):\n%s" % (result.returncode, result.stdout)
    errors = {name: collections.defaultdict(list) for name in files}
    for line in result.stdout.splitlines():
        match = _REPORTED.match(line)
        if match:
            assert match.group("file") in errors, result.stdout
            errors[match.group("file")][int(match.group("line"))].append(match.group("message"))
    return errors


def run_pyright(directory, files):
    """{file: {line: [messages]}} of pyright strict over ``directory``."""
    command = os.environ["PYDIRECTUS_PYRIGHT"].split()
    config = os.path.join(str(directory), "pyrightconfig.json")
    with open(config, "w") as handle:
        json.dump({"typeCheckingMode": "strict", "include": ["."], "pythonVersion": "%d.%d" % sys.version_info[:2]},
                  handle)
    environment = dict(os.environ, PYTHONPATH=ROOT)
    result = subprocess.run(command + ["--outputjson", "--project", config, "--pythonpath", sys.executable],
                            cwd=str(directory), env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=900)
    assert result.returncode in (0, 1), "pyright could not run (exit %d):\n%s\n%s" % (
        result.returncode, result.stdout[-3000:], result.stderr[-3000:])
    report = json.loads(result.stdout)
    assert report["summary"]["filesAnalyzed"] == len(files), result.stdout[-3000:]
    errors = {name: collections.defaultdict(list) for name in files}
    for diagnostic in report["generalDiagnostics"]:
        if diagnostic["severity"] == "error":
            errors[os.path.basename(diagnostic["file"])][diagnostic["range"]["start"]["line"] + 1].append(
                diagnostic["message"].splitlines()[0])
    return errors


def mismatches(directory, files, errors, by_text):
    """The differences between ``errors`` and the ``# E:`` comments: unexpected errors, and marked
    lines without one (``by_text``: the error must contain the comment's text, as mypy's do)."""
    problems = []
    for name in files:
        expected = expected_errors(os.path.join(str(directory), name))
        reported = errors[name]
        problems += ["%s:%d: unexpected: %s" % (name, line, message)
                     for line, messages in sorted(reported.items()) if line not in expected for message in messages]
        problems += ["%s:%d: no error containing %r (got: %s)" % (name, line, text, reported.get(line) or "none")
                     for line, text in sorted(expected.items())
                     if not any(text in message or not by_text for message in reported.get(line, []))]
    return problems


def check(directory, module_text):
    """Both checkers over the generated module and the scripts: a list of problems (empty: as expected)."""
    files = project(directory, module_text)
    return (mismatches(directory, files, run_mypy(directory, files), True)
            + ["pyright: " + problem for problem in mismatches(directory, files, run_pyright(directory, files), False)])
