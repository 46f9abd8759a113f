"""The interpreter: methods with real signatures and docstrings; bad arguments refused before sending."""

from pydirectus.client import packaged_spec
import inspect
import os

import pytest

from pydirectus import DirectusClient, Item
from pydirectus.async_client import AsyncDirectusClient
from pydirectus._core.interpreter import MODEL_RESULTS
from tests.fakeserver import FakeServer, reply


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def client_and_server():
    server = FakeServer(lambda seen: reply(200, {"data": [{"id": 1}]}))
    client = DirectusClient(hostname=server.url, static_token="tok", retries=0)
    yield client, server
    client.close()
    server.close()


def test_signature_layout():
    sig = inspect.signature(DirectusClient.update_item)
    params = list(sig.parameters.values())
    assert [p.name for p in params[:5]] == ["self", "collection", "id", "data", "query"]
    assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params[:5])
    assert params[3].default is inspect.Parameter.empty and params[4].default is None
    keyword_only = [p.name for p in params if p.kind is p.KEYWORD_ONLY]
    assert keyword_only[:3] == ["fields", "filter", "search"] and keyword_only[-1] == "model"
    assert "group_by" in keyword_only and "version_raw" in keyword_only


def test_methods_are_plain_functions_with_their_own_parameters():
    sig = inspect.signature(DirectusClient.read_item)
    P = inspect.Parameter
    plain = inspect.Signature([P(name, P.POSITIONAL_OR_KEYWORD) for name in ("self", "collection", "id")]
                              + [P("query", P.POSITIONAL_OR_KEYWORD, default=None)]
                              + [P(name, P.KEYWORD_ONLY, default=None) for name in list(sig.parameters)[4:]])
    assert sig == plain and not hasattr(DirectusClient.read_item, "__signature__")  # Python's own
    assert inspect.isfunction(DirectusClient.read_item)
    assert inspect.iscoroutinefunction(AsyncDirectusClient.read_item)
    assert not inspect.iscoroutinefunction(DirectusClient.read_item)
    client = DirectusClient(hostname="http://127.0.0.1:9", static_token="t")
    assert list(inspect.signature(client.read_item).parameters)[:3] == ["collection", "id", "query"]
    assert sig.bind("self", "articles", 1, limit=2).arguments == {"self": "self", "collection": "articles", "id": 1,
                                                                  "limit": 2}


def test_import_pydirectus_imports_neither_inspect_nor_dataclasses():
    import subprocess
    import sys
    code = "import sys, pydirectus; print(sorted({'inspect', 'dataclasses', 'asyncio', 'typing'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-I", "-c", "import sys; sys.path.insert(0, %r); %s" % (ROOT, code)],
                            stdout=subprocess.PIPE, universal_newlines=True, check=True)
    assert result.stdout.strip() == "[]"


def test_every_method_has_signature_docstring_and_name():
    for name, operation in DirectusClient.operations.items():
        if operation.hand_written:
            continue
        method = getattr(DirectusClient, name)
        assert method.__name__ == name and method.__qualname__ == "DirectusClient." + name
        assert "%s %s" % (operation.method, operation.path) in method.__doc__
        assert method.__doc__.startswith(operation.doc)
        names = list(inspect.signature(method).parameters)
        assert names[1:1 + len(operation.path_params)] == list(operation.path_params)
        assert ("model" in names) == (operation.result in MODEL_RESULTS)


def test_help_shows_method_and_path():
    assert "GET /items/{collection}" in pydoc_text(DirectusClient.read_items)


def pydoc_text(obj):
    import pydoc
    return pydoc.render_doc(obj, renderer=pydoc.plaintext)


@pytest.mark.parametrize("call, error, message", [
    (lambda c: c.read_items(), TypeError, "missing 1 required positional argument: 'collection'"),
    (lambda c: c.read_item("a"), TypeError, "missing 1 required positional argument: 'id'"),
    (lambda c: c.read_item("a", ""), ValueError, "must not be ''"),
    (lambda c: c.read_item("a", ".."), ValueError, "must not be '..'"),
    (lambda c: c.read_item("a", "x\ny"), ValueError, "control characters"),
    (lambda c: c.read_item("a", None), TypeError, "required, got None"),
    (lambda c: c.read_item("a", 1.5), TypeError, "string or an integer"),
    (lambda c: c.read_items("a", quer={}), TypeError, "unexpected keyword argument 'quer'"),
    (lambda c: c.read_items("a", query={"limt": 1}), TypeError, "unknown query parameter 'limt'"),
    (lambda c: c.read_items("a", query={"limit": 1}, limit=2), TypeError, "both as an argument and in query"),
    (lambda c: c.read_items("a", {}, 3), TypeError, r"takes from 2 to 3 positional arguments but 4 were given"),
    (lambda c: c.read_items("a", collection="b"), TypeError, "multiple values for argument 'collection'"),
    (lambda c: c.read_items("a", query=[("limit", 1)]), TypeError, "query must be a dict"),
    (lambda c: c.read_items("a", model=dict), TypeError, "model must be an Item subclass"),
    (lambda c: c.create_item("a", data=[1]), TypeError, "data must be a dict"),
    (lambda c: c.create_items("a", data={"x": 1}), TypeError, "data must be a list"),
    (lambda c: c.create_item("a"), TypeError, "missing 1 required positional argument: 'data'"),
    (lambda c: c.delete_item("a", 1, limit=1), TypeError, "unexpected keyword argument 'limit'"),
])
def test_bad_arguments_raise_before_anything_is_sent(client_and_server, call, error, message):
    client, server = client_and_server
    with pytest.raises(error, match=message):
        call(client)
    assert server.requests == [] and server.connections == 0


def test_seed_call_styles_send_the_same_request(client_and_server):
    client, server = client_and_server
    client.read_items("articles", query={"limit": 10})
    client.read_items(collection="articles", query={"limit": 10})
    client.read_items("articles", {"limit": 10})
    client.read_items("articles", limit=10)
    assert {seen.target for seen in server.requests} == {"/items/articles?limit=10"}


def test_model_builds_results(client_and_server):
    class Article(Item):
        pass
    client, _ = client_and_server
    assert all(type(item) is Article for item in client.read_items("a", model=Article))


def test_operations_cannot_shadow_hand_written_methods():
    from pydirectus._core.interpreter import install_operations
    from pydirectus._core.spec import load_spec

    class Custom:
        def read_items(self):
            pass

    with pytest.raises(TypeError, match="already defines read_items"):
        install_operations(Custom, load_spec(packaged_spec()))


def test_constructor_checks_its_arguments():
    with pytest.raises(ValueError, match="http:// or https://"):
        DirectusClient(hostname="directus.example.com")
    with pytest.raises(TypeError, match="hostname must be"):
        DirectusClient()
    with pytest.raises(ValueError, match="must not carry credentials"):
        DirectusClient(hostname="https://user:pw@directus.example.com")
    with pytest.raises(TypeError, match="both username"):
        DirectusClient(hostname="https://d.example", username="a@b.c")
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        DirectusClient(hostname="https://d.example", static_token="abc\r\nX-Evil: 1")
    assert DirectusClient(hostname="https://d.example/", email="a@b.c", password="p").url == "https://d.example"


def test_the_seed_logger_parameter_receives_the_debug_records():
    import logging

    records = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    logger = logging.getLogger("my.app.directus")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(Collect())
    with FakeServer(lambda seen: reply(200, {"data": []})) as server:
        with DirectusClient(server.url, "tok", None, None, True, logger, proxies={}) as client:
            client.read_items("articles")
    assert records and records[0].startswith("GET %s/items/articles -> 200" % server.url)
