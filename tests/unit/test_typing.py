"""mypy --strict and pyright (strict) on the user scripts of tests/typing/, with pydirectus seen as
an installed package: its stubs (client.pyi, async_client.pyi, models.pyi), its inline annotations
and its py.typed marker.

Every ``tests/typing/*.py`` is checked, so a new script is picked up by itself. A script says what
mypy must reject with ``# E: <text>`` at the end of a line: that line must get an error containing
<text>, and every other line of every script must get none. A script without such comments is a
"good" script that must pass with 0 errors.

pyright words its messages its own way (a misspelt keyword on an overloaded method is "No
overloads for ... match"): there, a ``# E:`` line must get an error and every other line none.

The checkers are development checks, never dependencies of the package: tests/run.py installs a
pinned mypy into the newest Python's venv and a pinned pyright from npm, and sets
PYDIRECTUS_REQUIRE_MYPY=1 and PYDIRECTUS_PYRIGHT (pyright's command line) there, which turns a
missing checker into a failure; elsewhere these tests skip, saying why.
"""

import collections
import glob
import importlib.util
import json
import os
import re
import subprocess
import sys
import tokenize

import pytest

from pydirectus.testing import cache_root

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPTS_DIR = os.path.join(ROOT, "tests", "typing")
SCRIPTS = sorted(os.path.basename(path) for path in glob.glob(os.path.join(SCRIPTS_DIR, "*.py")))
REQUIRED = os.environ.get("PYDIRECTUS_REQUIRE_MYPY") == "1"

_EXPECTED = re.compile(r"#\s*E:\s*(.+?)\s*$")
_REPORTED = re.compile(r"^(?P<file>[^:\n]+\.py):(?P<line>\d+): error: (?P<message>.*)$")

MypyRun = collections.namedtuple("MypyRun", "errors output")  # errors: {script: {line: [messages]}}


def expected_errors(script):
    """{line: text} of the ``# E: text`` comments of a script (comments only, not docstrings)."""
    expected = {}
    with open(os.path.join(SCRIPTS_DIR, script), "rb") as handle:
        for token in tokenize.tokenize(handle.readline):
            match = _EXPECTED.match(token.string) if token.type == tokenize.COMMENT else None
            if match:
                expected[token.start[0]] = match.group(1)
    return expected


@pytest.fixture(scope="module")
def mypy_run():
    """One mypy --strict run over every script (one run is much faster than one per script)."""
    if importlib.util.find_spec("mypy") is None:
        reason = "mypy is not installed in %s (tests/run.py installs it into the newest Python's venv)" % sys.prefix
        if REQUIRED:
            pytest.fail("PYDIRECTUS_REQUIRE_MYPY=1 but " + reason, pytrace=False)
        pytest.skip(reason)
    cache_dir = os.path.join(cache_root(), "mypy-cache", "py%d.%d" % sys.version_info[:2])
    # pydirectus comes from PYTHONPATH, not from the working directory: mypy then treats it as an
    # installed package, as a user's mypy does (it needs py.typed and keeps the package's own
    # internals out of the report), and checks only the scripts.
    environment = dict(os.environ, PYTHONPATH=ROOT)
    environment.pop("MYPYPATH", None)
    command = [sys.executable, "-m", "mypy", "--strict", "--cache-dir", cache_dir, "--no-color-output",
               "--no-error-summary", "--hide-error-context", "--show-error-codes"] + SCRIPTS
    result = subprocess.run(command, cwd=SCRIPTS_DIR, env=environment, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True, timeout=600)
    errors = {script: collections.defaultdict(list) for script in SCRIPTS}
    for line in result.stdout.splitlines():
        match = _REPORTED.match(line)
        if match:
            errors.setdefault(match.group("file"), collections.defaultdict(list))[
                int(match.group("line"))].append(match.group("message"))
    # 0: no error, 1: errors found; anything else is mypy failing to run.
    assert result.returncode in (0, 1), "mypy could not run (exit %d):\n%s" % (result.returncode, result.stdout)
    assert set(errors) == set(SCRIPTS), "mypy reported errors outside the scripts:\n" + result.stdout
    return MypyRun(errors, result.stdout)


def test_there_are_good_and_rejected_scripts():
    assert {"sync_script.py", "async_script.py", "misspelt_keyword.py"} <= set(SCRIPTS)
    assert not expected_errors("sync_script.py") and not expected_errors("async_script.py")
    assert expected_errors("misspelt_keyword.py")


@pytest.mark.parametrize("script", SCRIPTS)
def test_mypy_strict_reports_exactly_the_expected_errors(mypy_run, script):
    expected = expected_errors(script)
    reported = mypy_run.errors[script]
    unexpected = ["%s:%d: %s" % (script, line, message)
                  for line, messages in sorted(reported.items()) if line not in expected for message in messages]
    missed = ["%s:%d: no error containing %r (got: %s)" % (script, line, text, reported.get(line) or "none")
              for line, text in sorted(expected.items())
              if not any(text in message for message in reported.get(line, []))]
    assert not unexpected and not missed, "\n".join(
        (["errors mypy --strict should not report:"] + unexpected if unexpected else [])
        + (["errors mypy --strict should report:"] + missed if missed else []))


def test_a_misspelt_keyword_is_rejected_by_its_name(mypy_run):
    line = next(number for number, text in expected_errors("misspelt_keyword.py").items() if '"quer"' in text)
    messages = mypy_run.errors["misspelt_keyword.py"][line]
    assert any('Unexpected keyword argument "quer"' in message and 'did you mean "query"' in message
               for message in messages), messages


@pytest.fixture(scope="module")
def pyright_errors(tmp_path_factory):
    """{script: {line: [messages]}} of one pyright run in strict mode over every script."""
    command = os.environ.get("PYDIRECTUS_PYRIGHT", "").split()
    if not command:
        reason = "PYDIRECTUS_PYRIGHT (pyright's command line) is not set: tests/run.py sets it for the newest Python"
        if REQUIRED:
            pytest.fail("PYDIRECTUS_REQUIRE_MYPY=1 but " + reason, pytrace=False)
        pytest.skip(reason)
    project = tmp_path_factory.mktemp("pyright")  # pyright's include paths are relative: the scripts go there
    for script in SCRIPTS:
        (project / script).write_bytes(open(os.path.join(SCRIPTS_DIR, script), "rb").read())
    config = project / "pyrightconfig.json"
    config.write_text(json.dumps({"typeCheckingMode": "strict", "include": ["."],
                                  "pythonVersion": "%d.%d" % sys.version_info[:2]}))
    environment = dict(os.environ, PYTHONPATH=ROOT)  # pydirectus as an installed package, as for mypy
    result = subprocess.run(command + ["--outputjson", "--project", str(config), "--pythonpath", sys.executable],
                            cwd=str(project), env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=600)
    assert result.returncode in (0, 1), "pyright could not run (exit %d):\n%s\n%s" % (
        result.returncode, result.stdout[-3000:], result.stderr[-3000:])
    report = json.loads(result.stdout)
    assert report["summary"]["filesAnalyzed"] == len(SCRIPTS), result.stdout[-3000:] + result.stderr[-3000:]
    errors = {script: collections.defaultdict(list) for script in SCRIPTS}
    for diagnostic in report["generalDiagnostics"]:
        if diagnostic["severity"] != "error":
            continue
        script = os.path.basename(diagnostic["file"])
        assert script in errors, "pyright reported an error outside the scripts: %r" % (diagnostic,)
        errors[script][diagnostic["range"]["start"]["line"] + 1].append(diagnostic["message"])
    return errors


@pytest.mark.parametrize("script", SCRIPTS)
def test_pyright_strict_reports_errors_exactly_where_expected(pyright_errors, script):
    expected = expected_errors(script)
    reported = pyright_errors[script]
    unexpected = ["%s:%d: %s" % (script, line, message.splitlines()[0])
                  for line, messages in sorted(reported.items()) if line not in expected for message in messages]
    missed = ["%s:%d: no error (mypy's words: %r)" % (script, line, text)
              for line, text in sorted(expected.items()) if not reported.get(line)]
    assert not unexpected and not missed, "\n".join(
        (["errors pyright strict should not report:"] + unexpected if unexpected else [])
        + (["errors pyright strict should report:"] + missed if missed else []))



def test_the_package_itself_passes_mypy_strict_when_vendored(tmp_path):
    """The package's own code, copied as ``myapp/_vendor/dx`` into a user's project, as vendoring
    does: mypy --strict over the project reports nothing (a vendored copy is checked as the user's
    own code, not as an installed package)."""
    if importlib.util.find_spec("mypy") is None:
        if REQUIRED:
            pytest.fail("PYDIRECTUS_REQUIRE_MYPY=1 but mypy is not installed in %s" % sys.prefix, pytrace=False)
        pytest.skip("mypy is not installed in %s" % sys.prefix)
    import shutil
    vendor = tmp_path / "myapp" / "_vendor"
    shutil.copytree(os.path.join(ROOT, "pydirectus"), str(vendor / "dx"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    for package in (tmp_path / "myapp", vendor):
        (package / "__init__.py").write_text("")
    (tmp_path / "myapp" / "use.py").write_text(
        "from myapp._vendor.dx import DirectusClient\n\n"
        "def titles(url: str, token: str) -> list[str]:\n"
        "    with DirectusClient(hostname=url, static_token=token) as directus:\n"
        "        return [str(item.title) for item in directus.read_items('articles')]\n")
    environment = dict(os.environ)
    environment.pop("PYTHONPATH", None)
    environment.pop("MYPYPATH", None)
    cache_dir = os.path.join(cache_root(), "mypy-cache", "vendored-py%d.%d" % sys.version_info[:2])
    result = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--cache-dir", cache_dir, "--no-color-output",
                             "--no-error-summary", "myapp"], cwd=str(tmp_path), env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=900)
    assert result.returncode == 0 and "error" not in result.stdout, result.stdout[-6000:]
