"""The `deployment` group: pydirectus against nginx + two Directus on PostgreSQL + Redis (stack.py).

Ignored at collection unless PYDIRECTUS_DEPLOYMENT=1 is set or a path under tests/deployment is named on
the command line, so ``pytest tests`` (tests/run.py, every Python) never runs it. When it runs, nothing
is skipped: packages that cannot be installed or a stack that does not start make every test error.

Fixtures: ``stack`` (the running Stack, one per session), ``admin`` (a DirectusClient through nginx with
the admin's static token and ``ssl_verify=stack.ca_file``), ``collection`` (a fresh collection ``title``,
``marker``, ``views``, ``body``), ``figures`` (a dict: what goes in it is printed at the end of the run).
"""

import os
import time
import uuid

import pytest

HERE = os.path.dirname(os.path.realpath(__file__))
FIGURES = {}  # name -> value, printed by pytest_terminal_summary


def _enabled(config) -> bool:
    if os.environ.get("PYDIRECTUS_DEPLOYMENT") == "1":
        return True
    for arg in config.args:  # named explicitly: pytest tests/deployment[/test_x.py[::name]]
        path = os.path.realpath(os.path.join(str(config.invocation_params.dir), arg.split("::")[0]))
        if path == HERE or path.startswith(HERE + os.sep):
            return True
    return False


def pytest_ignore_collect(collection_path, config):
    path = os.path.realpath(str(collection_path))
    if (path == HERE or path.startswith(HERE + os.sep)) and not _enabled(config):
        return True
    return None


def pytest_configure(config):
    config.addinivalue_line("markers", "deployment: needs the nginx/PostgreSQL/Redis deployment of "
                                       "tests/deployment/stack.py")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    for item in items:
        if os.path.realpath(str(item.path)).startswith(HERE + os.sep):
            item.add_marker(pytest.mark.deployment)


def pytest_terminal_summary(terminalreporter):
    if not FIGURES:
        return
    terminalreporter.section("deployment figures")
    for name, value in FIGURES.items():
        terminalreporter.write_line("%s: %s" % (name, value))


@pytest.fixture(scope="session")
def figures():
    return FIGURES


@pytest.fixture(scope="session")
def stack(figures):
    from tests.deployment.stack import Stack, ensure_packages
    started = time.monotonic()
    ensure_packages()
    running = Stack()  # proxy_read_timeout 30 s on /cms/, 5 s on /short/, /i1/, /i2/
    running.start()
    figures["stack start (s)"] = "%.1f %s" % (time.monotonic() - started, running.timings)
    try:
        yield running
    finally:
        stopping = time.monotonic()
        running.stop()
        figures["stack stop (s)"] = "%.1f" % (time.monotonic() - stopping)


@pytest.fixture(scope="session")
def admin(stack):
    from pydirectus import DirectusClient
    with DirectusClient(hostname=stack.url, static_token=stack.token, ssl_verify=stack.ca_file) as client:
        yield client


FIELDS = [
    {"field": "id", "type": "integer", "meta": {"hidden": True}, "schema": {"is_primary_key": True,
                                                                            "has_auto_increment": True}},
    {"field": "title", "type": "string", "meta": {}, "schema": {}},
    {"field": "marker", "type": "string", "meta": {}, "schema": {}},
    {"field": "views", "type": "integer", "meta": {}, "schema": {}},
    {"field": "body", "type": "text", "meta": {}, "schema": {}},
]


def make_collection(admin, prefix="deploy"):
    name = "%s_%s" % (prefix, uuid.uuid4().hex[:8])
    admin.request("POST", "/collections", json={"collection": name, "schema": {}, "meta": {}, "fields": FIELDS})
    return name


@pytest.fixture
def collection(admin):
    name = make_collection(admin)
    yield name
    admin.request("DELETE", "/collections/" + name)
