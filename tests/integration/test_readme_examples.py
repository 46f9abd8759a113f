"""Every ```python example of README.md, run against a real Directus.

The examples are read from README.md when the tests are collected, so a new one is tested by
itself. Each runs as the README shows it, in the order of the README, with only the placeholders
that stand for the user's own things filled in (PLACEHOLDERS: the server's address, the token,
the e-mail and password) and a working directory holding the files the examples name
(USER_FILES and USER_FOLDERS: holiday.jpg, report.pdf, downloads/, ...). The collections they read ("articles" with its
translations, "site_settings") are made by the `readme_server` fixture.

Each example starts from the names the first one (the quick start) defined, ``directus`` above
all, in a namespace of its own. An HTML comment on the line before a fence says otherwise:

    <!-- example: continues -->            runs on in the namespace of the example before it
    <!-- example: not run (the reason) -->  is not run; test_examples_not_run lists them

A failure names the example by its README line: the code is compiled as README.md with its own
line numbers, so the traceback points into the README.
"""

import json
import os
import re
from typing import Dict, List, NamedTuple, Optional

import pytest

from tests.conftest import remove_collection
from tests.integration.groups_support import png_bytes
from tests.integration.test_extend import EXTENSIONS
from tests.rest import call

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
README = os.path.join(ROOT, "README.md")

_FENCE = re.compile(r"^```(\w*)\s*$")
_MARKER = re.compile(r"^<!--\s*example:\s*(?P<kind>continues|not run)\s*(?:\((?P<reason>.*)\))?\s*-->\s*$")
_ANY_MARKER = re.compile(r"^<!--\s*example:")


class Example(NamedTuple):
    line: int          # the README line of the first line of code
    code: str
    kind: str          # "fresh", "continues" or "not run"
    reason: Optional[str]

    @property
    def name(self) -> str:
        return "README.md:%d" % self.line


def readme_examples(path: str = README) -> List[Example]:
    """The ```python blocks of a Markdown file, with the marker on the line before each fence."""
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    examples = []
    index = 0
    while index < len(lines):
        fence = _FENCE.match(lines[index])
        if not fence:
            index += 1
            continue
        end = next((i for i in range(index + 1, len(lines)) if lines[i].startswith("```")), None)
        if end is None:
            raise ValueError("README.md:%d: a fence that is never closed" % (index + 1))
        if fence.group(1) == "python":
            previous = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
            marker = _MARKER.match(previous.strip())
            if marker is None and _ANY_MARKER.match(previous.strip()):
                raise ValueError("README.md:%d: unknown example marker %r" % (index, previous.strip()))
            examples.append(Example(index + 2, "\n".join(lines[index + 1:end]) + "\n",
                                    marker.group("kind") if marker else "fresh",
                                    marker.group("reason") if marker else None))
        index = end + 1
    return examples


EXAMPLES = readme_examples()
RUN = [example for example in EXAMPLES if example.kind != "not run"]

# The README's stand-ins for the user's server and credentials -> the test server's.
PLACEHOLDERS = [
    ('"http://127.0.0.1:8055"', "{url}"),
    ('"https://example.com/directus"', "{url}"),
    ('"your_static_token"', "{token}"),
    ('static_token="..."', "static_token={token}"),
    ('"you@example.com"', "{email}"),
    ('"your_password"', "{password}"),
]

# The user's own files and folders the examples upload, read or write into, made in the examples'
# working directory.
USER_FOLDERS = ["downloads"]
PHOTO = png_bytes(64, 48)  # image content under .jpg names: the server's image library reads the bytes
USER_FILES = {
    "holiday.jpg": PHOTO,
    "holiday-retouched.jpg": png_bytes(48, 64),
    "a.png": png_bytes(8, 8),
    "b.png": png_bytes(16, 16),
    "report.pdf": b"%PDF-1.4\n% a report\n%%EOF\n",
    "video.mp4": bytes(range(256)) * 64,
    "app.log": b"line one\nline two\n",
    "my-endpoints.json": json.dumps([
        {"name": "greet_me", "method": "GET", "path": "/greet/", "doc": "Say who is asking."},
    ]).encode(),
}

ID = {"field": "id", "type": "integer", "schema": {"is_primary_key": True, "has_auto_increment": True}}
COLLECTIONS = {
    "articles": [
        ID,
        {"field": "title", "type": "string"},
        {"field": "author", "type": "string"},
        {"field": "status", "type": "string", "schema": {"default_value": "published"}},
        {"field": "views", "type": "integer", "schema": {"default_value": 0}},
        {"field": "date_created", "type": "timestamp", "meta": {"special": ["date-created"]}},
        {"field": "user_created", "type": "uuid", "meta": {"special": ["user-created"]}},
    ],
    "articles_translations": [
        ID,
        {"field": "articles_id", "type": "integer"},
        {"field": "languages_code", "type": "string"},
        {"field": "title", "type": "string"},
    ],
    "site_settings": [ID, {"field": "site_name", "type": "string"}],
}
SINGLETONS = {"site_settings"}
RELATIONS = [
    {"collection": "articles", "field": "user_created", "related_collection": "directus_users"},
    {"collection": "articles_translations", "field": "articles_id", "related_collection": "articles",
     "meta": {"one_field": "translations"}},
]
ALIAS_FIELDS = {"articles": [{"field": "translations", "type": "alias", "meta": {"special": ["o2m"]}}]}
ARTICLES = [{"title": "One", "author": "Beff Jezos"}, {"title": "Two", "author": "Beff Jezos"},
            {"title": "Three", "author": "Other", "status": "draft"},
            {"id": 53356, "title": "Pinned", "author": "Someone", "views": 120,
             "translations": [{"languages_code": "en-US", "title": "Pinned"}]}]
# Collections the examples create themselves (the schema example), removed before and after.
CREATED_BY_EXAMPLES = ["pages"]
# System records the examples create, removed after: path -> the field that tells them apart.
SYSTEM_RECORDS = ["/files", "/folders", "/roles", "/policies"]
ASSET_PRESET = {"key": "my-preset", "fit": "contain", "width": 32, "height": 32, "quality": 80}


def rest(server, method, path, body=None):
    reply = call(server.url, method, path, body, token=server.token)
    assert 200 <= reply.status < 300, "%s %s: %s" % (method, path, reply)
    return reply.body["data"] if reply.body else None


def create_collections(server, collections, singletons=(), relations=(), alias_fields=None):
    """Create ``collections`` ({name: fields}) on ``server``, after removing any left by a killed run."""
    for name in list(collections)[::-1]:
        remove_collection(server, name)
    for name, fields in collections.items():
        rest(server, "POST", "/collections", {"collection": name, "meta": {"singleton": name in singletons},
                                              "schema": {}, "fields": fields})
    for name, fields in (alias_fields or {}).items():
        for field in fields:
            rest(server, "POST", "/fields/" + name, field)
    for relation in relations:
        rest(server, "POST", "/relations", relation)


def record_ids(server, path):
    return {record["id"] for record in rest(server, "GET", path + "?fields=id&limit=-1")}


@pytest.fixture(scope="module")
def readme_server(directus_factory):
    """The server the README's examples talk to: the `directus` fixture's settings plus the endpoint
    extension the "Your own endpoints" examples call and WebSockets for the realtime ones, with the
    collections and records they read. What the examples create is removed afterwards."""
    server = directus_factory(EXTENSIONS_PATH=EXTENSIONS, WEBSOCKETS_ENABLED="true")
    for name in CREATED_BY_EXAMPLES:
        remove_collection(server, name)
    create_collections(server, COLLECTIONS, SINGLETONS, RELATIONS, ALIAS_FIELDS)
    for article in ARTICLES:
        rest(server, "POST", "/items/articles", article)
    rest(server, "PATCH", "/items/site_settings", {"site_name": "pydirectus"})
    presets = rest(server, "GET", "/settings")["storage_asset_presets"]
    rest(server, "PATCH", "/settings", {"storage_asset_presets": [ASSET_PRESET]})
    existing = {path: record_ids(server, path) for path in SYSTEM_RECORDS}
    try:
        yield server
    finally:
        rest(server, "PATCH", "/settings", {"storage_asset_presets": presets})
        for path in SYSTEM_RECORDS:
            for key in record_ids(server, path) - existing[path]:
                call(server.url, "DELETE", "%s/%s" % (path, key), token=server.token)
        for name in CREATED_BY_EXAMPLES + list(COLLECTIONS)[::-1]:
            remove_collection(server, name)


@pytest.fixture(scope="module")
def user_directory(tmp_path_factory):
    directory = tmp_path_factory.mktemp("readme-user")
    for name, content in USER_FILES.items():
        (directory / name).write_bytes(content)
    for name in USER_FOLDERS:
        (directory / name).mkdir()
    return directory


def with_placeholders_filled(code, server):
    values = {"url": repr(server.url), "token": repr(server.token), "email": repr(server.email),
              "password": repr(server.password)}
    for placeholder, replacement in PLACEHOLDERS:
        code = code.replace(placeholder, replacement.format(**values))
    return code


_namespaces = {}  # type: Dict[int, dict]  # the README line of an example -> its namespace after it ran


def run_example(example, server):
    """Run one example as README.md's own lines; returns the namespace it left."""
    index = EXAMPLES.index(example)
    if index == 0:
        namespace = {"__name__": "__main__"}
    elif example.kind == "continues":
        before = EXAMPLES[index - 1]
        if before.line not in _namespaces:
            pytest.fail("%s continues %s, which did not run" % (example.name, before.name), pytrace=False)
        namespace = _namespaces[before.line]
    else:
        if EXAMPLES[0].line not in _namespaces:
            pytest.fail("%s starts from %s, which did not run" % (example.name, EXAMPLES[0].name), pytrace=False)
        namespace = dict(_namespaces[EXAMPLES[0].line])
    # Blank lines in front keep the README's line numbers in tracebacks.
    code = "\n" * (example.line - 1) + with_placeholders_filled(example.code, server)
    exec(compile(code, README, "exec"), namespace)
    _namespaces[example.line] = namespace
    return namespace


def test_the_readme_has_examples_and_they_parse():
    assert len(EXAMPLES) >= 10 and EXAMPLES[0].kind == "fresh"
    import ast
    for example in EXAMPLES:
        # a notebook cell (the browser's example) may await at its top level, as notebooks allow
        compile(example.code, example.name, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


@pytest.fixture(scope="module")
def generated_models(readme_server, user_directory):
    """directus_models.py in the examples' directory, as the README's ``python -m pydirectus models``
    writes it for the server's schema (the typed-models examples import it)."""
    import subprocess
    import sys
    environment = dict(os.environ, PYTHONPATH=ROOT, DIRECTUS_URL=readme_server.url,
                       DIRECTUS_TOKEN=readme_server.token)
    result = subprocess.run([sys.executable, "-m", "pydirectus", "models", "--out", "directus_models.py"],
                            cwd=str(user_directory), env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=300)
    assert result.returncode == 0, result.stderr
    yield
    sys.modules.pop("directus_models", None)


@pytest.mark.parametrize("example", RUN, ids=[example.name for example in RUN])
def test_readme_example(example, readme_server, user_directory, generated_models, monkeypatch):
    monkeypatch.chdir(user_directory)
    monkeypatch.syspath_prepend(str(user_directory))
    run_example(example, readme_server)


def test_examples_not_run():
    """The few examples that cannot run against a test server, each with its reason."""
    not_run = {example.name: example.reason for example in EXAMPLES if example.kind == "not run"}
    print("\n".join("%s: not run (%s)" % item for item in not_run.items()))
    assert all(not_run.values()), "a not-run example without its reason: %s" % not_run
    assert len(not_run) <= 3, "keep the examples that are not run few: %s" % not_run
