"""Extensible from data: a user's own endpoints, described in the spec format, become methods.

The test server runs an endpoint extension (tests/integration/extensions/greet) that really
serves GET /greet/, GET /greet/{name} and POST /greet/echo.
"""

import inspect
import os

import pytest

import pydirectus
from pydirectus import DirectusClient

EXTENSIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "extensions")

GREET_SPEC = {"operations": [
    {"name": "greet_me", "method": "GET", "path": "/greet/", "doc": "Say who is asking."},
    {"name": "greet", "method": "GET", "path": "/greet/{name}", "doc": "Greet someone by name.",
     "query": [{"name": "shout", "type": "boolean", "doc": "greet loudly"}]},
    {"name": "echo", "method": "POST", "path": "/greet/echo", "doc": "Send a body back.", "payload": "object",
     "body": [{"name": "message", "required": True}, {"name": "times"}]},
]}


@pytest.fixture(scope="module")
def extended_server(directus_factory):
    return directus_factory(EXTENSIONS_PATH=EXTENSIONS)


def test_a_subclass_with_the_extensions_endpoints(extended_server):
    Greeting = DirectusClient.extend(GREET_SPEC, name="GreetingClient")
    assert issubclass(Greeting, DirectusClient) and "greet" in Greeting.operations
    assert "greet" not in DirectusClient.operations and not hasattr(DirectusClient, "greet")
    assert str(inspect.signature(Greeting.greet)) == "(self, name, query=None, *, shout=None)"
    assert "GET /greet/{name}" in Greeting.greet.__doc__
    with Greeting(hostname=extended_server.url, static_token=extended_server.token) as client:
        assert client.greet_me() == {"hello": "user"}
        assert client.greet("Ada Lovelace", shout=True) == {"hello": "Ada Lovelace", "shout": True}
        assert client.echo("hi", times=2) == {"message": "hi", "times": 2}
        assert client.read_me(fields=["email"])["email"] == extended_server.email  # built-ins still there
    with Greeting(hostname=extended_server.url, static_token="wrong") as client:
        with pytest.raises(pydirectus.AuthenticationError):
            client.greet("x")  # the same auth and error mapping as every method


def test_one_client_from_a_json_file(extended_server, tmp_path):
    import json
    path = tmp_path / "greet.json"
    path.write_text(json.dumps(GREET_SPEC["operations"]))
    client = DirectusClient(hostname=extended_server.url, username=extended_server.email,
                            password=extended_server.password).add_operations(str(path))
    assert client.greet("Bob") == {"hello": "Bob", "shout": False}
    assert isinstance(client, DirectusClient) and not hasattr(DirectusClient(hostname=client.url), "greet")


def test_a_bad_spec_is_refused_with_every_problem():
    with pytest.raises(ValueError) as caught:
        DirectusClient.extend([{"name": "read_items", "method": "FETCH", "path": "greet", "doc": ""}])
    message = str(caught.value)
    assert "method 'FETCH'" in message and "path must start with /" in message and "doc must be" in message
    with pytest.raises(TypeError, match="already defines read_items"):
        DirectusClient.extend([{"name": "read_items", "method": "GET", "path": "/x", "doc": "Shadow."}])
