"""The transport seam (_core.records.Transport / AsyncTransport): a client runs on any object with
``send`` and ``close``, here tests/mocktransport.py's; what the client connects with (TLS, proxies,
timeouts) is its own ``connection_settings``, never guessed from the transport it was given."""

import ssl

import pytest

import pydirectus
from pydirectus import RetryPolicy
from pydirectus._sync.transport import socket_route
from tests.mocktransport import AsyncMockTransport, MockTransport, json_response


@pytest.fixture
def mock_client(client_kind, make_client):
    def build(handler, **kwargs):
        transport = (MockTransport if client_kind == "sync" else AsyncMockTransport)(handler)
        return make_client(hostname="https://directus.test/cms", static_token="tok", transport=transport,
                           **kwargs), transport
    return build


def test_a_client_runs_on_a_transport_of_its_own(mock_client):
    client, transport = mock_client(lambda request: json_response(200, {"data": [{"id": 1, "title": "a"}]}))
    items = client.read_items("articles", fields=["id", "title"])
    assert [item.title for item in items] == ["a"]
    [sent] = transport.requests
    assert sent.method == "GET" and sent.url == "https://directus.test/cms/items/articles?fields=id,title"
    assert sent.headers["Authorization"] == "Bearer tok"
    client.close()
    assert transport.closed


def test_retries_and_errors_run_above_the_seam(mock_client):
    answers = iter([json_response(503, {"errors": [{"message": "busy", "extensions": {"code": "X"}}]}),
                    json_response(200, {"data": {"id": 1}})])
    client, transport = mock_client(lambda request: next(answers), retries=RetryPolicy(2, random=lambda: 0.0),
                                    sleep=lambda seconds: None)
    assert client.read_item("articles", 1).id == 1
    assert len(transport.requests) == 2
    client2, _ = mock_client(lambda request: json_response(403, {"errors": [{"message": "no",
                                                                             "extensions": {"code": "FORBIDDEN"}}]}))
    with pytest.raises(pydirectus.ForbiddenError):
        client2.read_item("articles", 1)


def test_realtime_connects_with_the_client_s_settings_not_the_transport_s(tmp_path):
    """A custom transport has no TLS context or proxies to read: the realtime socket takes the
    client's own (it used to guess them from the transport, and fell back to other defaults)."""
    context = ssl.create_default_context()
    client = pydirectus.DirectusClient(hostname="https://directus.test", static_token="tok", ssl_context=context,
                                       proxies={"https": "http://proxy.test:3128"}, connect_timeout=4.0,
                                       transport=MockTransport(lambda request: json_response(200, {})))
    host, port, proxy, _, used = socket_route(client)
    assert (host, port, proxy, used) == ("directus.test", 443, ("proxy.test", 3128), context)
    assert client.connection_settings.connect_timeout == 4.0
    direct = pydirectus.DirectusClient(hostname="https://directus.test", static_token="tok", proxies={},
                                       ssl_context=context, transport=MockTransport(lambda request: None))
    assert socket_route(direct)[2] is None
    assert "connect_timeout=10.0" in repr(direct.connection_settings) and "tok" not in repr(direct.connection_settings)
