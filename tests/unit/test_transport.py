"""The sync transport against scripted servers on loopback: keep-alive, integrity, timeouts, threads."""

import io
import os
import socket
import threading
import time

import pytest

import pydirectus
from pydirectus import DirectusClient
from pydirectus._core.records import Request
from pydirectus._sync.transport import HTTPTransport
from tests.fakeserver import FakeServer, reply

ITEMS = {"data": [{"id": 1, "title": "a"}], "meta": {"total_count": 1}}


def client_for(server, **kwargs):
    kwargs.setdefault("static_token", "tok")
    return DirectusClient(hostname=server.url, proxies={}, **kwargs)


def test_keep_alive_reuses_one_connection():
    with FakeServer(lambda seen: reply(200, ITEMS)) as server, client_for(server) as client:
        for _ in range(20):
            items = client.read_items("articles")
        assert server.connections == 1 and len(server.requests) == 20
        assert items.total_count == 1 and items[0].title == "a"


def test_headers_sent():
    with FakeServer(lambda seen: reply(200, ITEMS)) as server, client_for(server) as client:
        client.create_item("articles", {"title": "x"})
        seen = server.requests[0]
        assert seen.headers["authorization"] == "Bearer tok"
        assert seen.headers["user-agent"].startswith("pydirectus/%s " % pydirectus.__version__)
        assert seen.headers["content-type"] == "application/json" and seen.json() == {"title": "x"}


def test_base_url_with_a_sub_path():
    with FakeServer(lambda seen: reply(200, ITEMS)) as server:
        with DirectusClient(hostname=server.url + "/directus/", static_token="t", proxies={}) as client:
            client.read_item("articles", 5, fields=["id"])
        assert server.requests[0].target == "/directus/items/articles/5?fields=id"


def test_server_closing_idle_connections_is_handled():
    def handler(seen):
        return reply(200, ITEMS, headers={"Connection": "close"}) if seen.connection % 2 else reply(200, ITEMS)
    with FakeServer(handler) as server, client_for(server) as client:
        for _ in range(6):
            client.read_items("a")
        assert len(server.requests) == 6


def test_body_shorter_than_content_length_raises():
    def handler(seen):
        return lambda conn: conn.sendall(reply(200, b'{"data": [1, 2', length=100))
    with FakeServer(handler) as server, client_for(server, retries=0) as client:
        with pytest.raises(pydirectus.TransportError, match="cut short") as caught:
            client.read_items("a")
        assert caught.value.may_have_been_processed


def test_truncated_get_is_retried_then_succeeds():
    def handler(seen):
        if len(server.requests) == 1:
            return lambda conn: conn.sendall(reply(200, b'{"da', length=50))
        return reply(200, ITEMS)
    with FakeServer(handler) as server, client_for(server, retries=2) as client:
        assert client.read_items("a")[0].id == 1
        assert len(server.requests) == 2


def test_lost_answer_to_a_post_is_not_resent():
    with FakeServer(lambda seen: None) as server, client_for(server, retries=3) as client:
        with pytest.raises(pydirectus.TransportError) as caught:
            client.create_item("a", {"title": "once"})
        assert caught.value.may_have_been_processed and len(server.requests) == 1


def test_connection_refused_is_a_transport_error_not_processed():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with DirectusClient(hostname="http://127.0.0.1:%d" % port, retries=0, proxies={}) as client:
        with pytest.raises(pydirectus.TransportError, match="cannot connect") as caught:
            client.create_item("a", {})
        assert not caught.value.may_have_been_processed


def test_read_timeout():
    def handler(seen):
        return lambda conn: time.sleep(1.5)
    with FakeServer(handler) as server, client_for(server, read_timeout=0.3, retries=0) as client:
        started = time.monotonic()
        with pytest.raises(pydirectus.TimeoutError, match="read timed out"):
            client.read_items("a")
        assert time.monotonic() - started < 1.2


def test_non_json_error_page():
    page = b"<html><h1>502 Bad Gateway</h1></html>"
    with FakeServer(lambda seen: reply(502, page, content_type="text/html")) as server:
        with client_for(server, retries=0) as client:
            with pytest.raises(pydirectus.ServerError, match="502 Bad Gateway") as caught:
                client.read_items("a")
    assert caught.value.status == 502 and caught.value.body == page


def test_buffered_body_cap():
    transport = HTTPTransport(proxies={}, max_body_size=10)
    with FakeServer(lambda seen: reply(200, b"x" * 11)) as server:
        with pytest.raises(pydirectus.TransportError, match="max_body_size"):
            transport.send(Request("GET", server.url + "/"))


def test_one_client_shared_by_threads():
    with FakeServer(lambda seen: reply(200, {"data": {"path": seen.target}})) as server:
        client = client_for(server)
        failures = []

        def work(n):
            for i in range(25):
                item = client.read_item("c", "%d-%d" % (n, i))
                if item["path"] != "/items/c/%d-%d" % (n, i):
                    failures.append(item)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        client.close()
    assert failures == [] and len(server.requests) == 200 and server.connections <= 8


def test_proxy_from_environment_and_no_proxy(monkeypatch):
    with FakeServer(lambda seen: reply(200, ITEMS)) as proxy:
        monkeypatch.setenv("http_proxy", proxy.url)
        monkeypatch.setenv("no_proxy", "bypassed.example")
        with DirectusClient(hostname="http://directus.example:8055/base", static_token="t") as client:
            client.read_items("a")
        assert proxy.requests[0].target == "http://directus.example:8055/base/items/a"
        assert proxy.requests[0].headers["host"] == "directus.example:8055"
        transport = HTTPTransport()
        assert transport._route("http", "bypassed.example")[0][3] is None
        assert transport._route("http", "other.example")[0][3] == ("127.0.0.1", proxy.port)


def test_tls_is_verified_by_default():
    client = DirectusClient(hostname="https://directus.example", static_token="t")
    import ssl
    context = client.transport.ssl_context
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    insecure = DirectusClient(hostname="https://directus.example", static_token="t", ssl_verify=False)
    assert insecure.transport.ssl_context.verify_mode == ssl.CERT_NONE


def test_login_goes_through_the_same_transport_settings(monkeypatch):
    def handler(seen):
        if seen.target.endswith("/auth/login"):
            return reply(200, {"data": {"access_token": "A", "refresh_token": "R", "expires": 900000}})
        return reply(200, ITEMS)
    with FakeServer(handler) as proxy:
        monkeypatch.setenv("http_proxy", proxy.url)
        with DirectusClient(hostname="http://directus.example", username="a@b.c", password="pw") as client:
            client.read_items("a")
        assert [seen.target for seen in proxy.requests] == ["http://directus.example/auth/login",
                                                            "http://directus.example/items/a"]


def test_debug_logs_never_show_credentials(caplog):
    import logging

    def handler(seen):
        if seen.target.endswith("/auth/login"):
            return reply(200, {"data": {"access_token": "ACCESS-SECRET", "refresh_token": "REFRESH-SECRET",
                                        "expires": 900000}})
        return reply(200, ITEMS)
    with FakeServer(handler) as server, caplog.at_level(logging.DEBUG, logger="pydirectus"):
        with DirectusClient(hostname=server.url, username="a@b.c", password="PASSWORD-SECRET", proxies={}) as client:
            client.read_items("a")
            texts = [repr(client), str(client), repr(client.tokens), repr(client._policy.credentials)]
        with DirectusClient(hostname=server.url, static_token="STATIC-SECRET", proxies={}) as client:
            client.read_items("a")
            texts.append(repr(client))
    texts.extend(record.getMessage() for record in caplog.records)
    assert len(caplog.records) >= 3
    assert not [text for text in texts if "SECRET" in text]


def test_a_streamed_body_shorter_than_its_content_length_raises():
    def handler(seen):
        return lambda conn: conn.sendall(reply(200, b"x" * 100, length=1000, content_type="application/octet-stream"))
    with FakeServer(handler) as server, client_for(server, retries=0) as client:
        stream = client.stream_asset("some-id")
        received = b""
        with pytest.raises(pydirectus.TransportError, match="cut short"):
            for chunk in stream:
                received += chunk
        assert received == b"x" * 100


# --- the HTTP/1.1 exchange the transport writes and reads itself ---------------------------------

def _raw(head, body=b""):
    return head.replace("\n", "\r\n").encode("latin-1") + body


def test_a_chunked_answer_with_extensions_and_trailers_is_read_whole_and_the_connection_reused():
    answer = _raw("HTTP/1.1 100 Continue\n\nHTTP/1.1 200 OK\nContent-Type: application/json\n"
                  "Transfer-Encoding: chunked\n\n",
                  b'9;name=value\r\n{"data": \r\n14\r\n{"id": 1, "a": "b"}}\r\n0\r\nX-Trailer: 1\r\n\r\n')
    with FakeServer(lambda seen: answer) as server, client_for(server) as client:
        for _ in range(3):
            assert client.read_item("articles", 1).to_dict() == {"id": 1, "a": "b"}
        assert server.connections == 1 and len(server.requests) == 3


def test_an_answer_ended_by_the_connection_is_read_to_its_end_and_the_connection_not_reused():
    answer = _raw("HTTP/1.1 200 OK\nContent-Type: application/json\n\n", b'{"data": {"id": 7}}')
    with FakeServer(lambda seen: lambda conn: conn.sendall(answer)) as server, client_for(server) as client:
        assert client.read_item("articles", 7).id == 7
        assert client.read_item("articles", 7).id == 7
        assert server.connections == 2


@pytest.mark.parametrize("answer, message", [
    (_raw("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n", b"zz\r\n"), "bad chunk size line"),
    (_raw("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n", b"3\r\nabcXY"), "a chunk does not end with CRLF"),
    (_raw("HTTP/1.1 200 OK\nContent-Length: 1, 2\n\n", b"a"), "bad Content-Length"),
    (_raw("SPDY/3 200 OK\n\n"), "bad status line"),
    (_raw("HTTP/1.1 200 OK\n bad: folded\n\n"), "bad header line"),
])
def test_a_malformed_answer_is_a_transport_error_that_may_have_been_processed(answer, message):
    with FakeServer(lambda seen: lambda conn: conn.sendall(answer)) as server:
        with client_for(server, retries=0) as client:
            with pytest.raises(pydirectus.TransportError) as caught:
                client.request("GET", "/items/articles")
    assert message in str(caught.value) and caught.value.may_have_been_processed


def test_an_answer_head_above_the_limit_is_refused():
    answer = _raw("HTTP/1.1 200 OK\nX-Big: %s\n\n" % ("a" * (200 * 1024)))
    with FakeServer(lambda seen: lambda conn: conn.sendall(answer)) as server:
        with client_for(server, retries=0) as client:
            with pytest.raises(pydirectus.TransportError, match="head is larger than"):
                client.request("GET", "/items/articles")


def test_a_streamed_request_body_of_unknown_length_goes_chunked():
    with FakeServer(lambda seen: reply(200, {"data": None})) as server, client_for(server) as client:
        client.request("POST", "/utils/echo", data=iter([b"ab", b"", "cd", memoryview(b"ef")]))
        client.request("POST", "/utils/echo", data=io.BytesIO(b"from a file"))
    first, second = server.requests
    assert first.headers["transfer-encoding"] == "chunked" and first.body == b"abcdef"
    assert second.headers["transfer-encoding"] == "chunked" and second.body == b"from a file"


# --------------------------------------------------------------------------- the CONNECT tunnel

def test_the_connect_request_and_the_proxys_answer_are_written_and_read_once_for_every_socket():
    from pydirectus._core.http11 import host_header, tunnel_answer, tunnel_request
    assert tunnel_request("directus.example", 443, {"Proxy-Authorization": "Basic eA=="}) == (
        b"CONNECT directus.example:443 HTTP/1.1\r\nHost: directus.example:443\r\n"
        b"Proxy-Authorization: Basic eA==\r\n\r\n")
    assert tunnel_request("::1", 8443, {}).startswith(b"CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n")
    assert tunnel_request("b\u00fccher.example", 443, {}).startswith(b"CONNECT xn--bcher-kva.example:443 ")
    assert host_header("https", "b\u00fccher.example", 443) == "xn--bcher-kva.example"
    assert host_header("http", "::1", 8055) == "[::1]:8055" and host_header("http", "h", 80) == "h"
    assert tunnel_answer(b"HTTP/1.1 200 Connection established\r\n", "h", 443) is False  # read more
    assert tunnel_answer(b"HTTP/1.0 200 OK\r\nVia: p\r\n\r\n", "h", 443) is True
    for received, ended, message in [
            (b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", False, "refused to tunnel to h:443: HTTP/1.1 407"),
            (b"HTTP/1.1 200 OK\r\n", True, "closed the connection during CONNECT"),
            (b"SSH-2.0-OpenSSH\r\n\r\n", False, "answered CONNECT with"),
            (b"HTTP/1.1 200 OK\r\n\r\nearly", False, "bytes through the tunnel"),
            (b"x" * (128 * 1024 + 1), False, "larger than")]:
        with pytest.raises(ConnectionError, match=message):
            tunnel_answer(received, "h", 443, ended=ended)


def test_https_through_a_connect_tunnel_keeps_one_verified_connection(tmp_path):
    import ssl
    from tests.integration.test_realtime import Relay  # a CONNECT proxy on loopback
    from tests.fakerealtime import tls_answering_server, tls_server_context
    context, ca_file = tls_server_context(tmp_path)
    port, seen = tls_answering_server(context, reply(200, {"data": {"tls": True}}))
    proxy = Relay()
    transport = HTTPTransport(proxies={"https": "http://u:p@127.0.0.1:%d" % proxy.port},
                              ssl_context=ssl.create_default_context(cafile=ca_file))
    try:
        bodies = [transport.send(Request("GET", "https://127.0.0.1:%d/items/a" % port)).body for _ in range(3)]
        transport.close()
    finally:
        proxy.close()
    assert bodies == [b'{"data": {"tls": true}}'] * 3
    assert proxy.heads == ["CONNECT 127.0.0.1:%d HTTP/1.1" % port]  # one tunnel for the three requests
    assert all(head.startswith("GET /items/a HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % port) for head in seen)
    assert not any("Proxy-Authorization" in head for head in seen)  # the proxy's credentials stay with it


def test_https_proxy_tunnel_refused_is_a_connect_failure():
    with FakeServer(lambda seen: reply(407, b"", headers={"Connection": "close"})) as proxy:
        with DirectusClient(hostname="https://directus.example", static_token="t", retries=0,
                            proxies={"https": proxy.url}) as client:
            with pytest.raises(pydirectus.TransportError, match="refused to tunnel") as caught:
                client.read_items("a")
    assert not caught.value.may_have_been_processed
    assert proxy.requests[0].method == "CONNECT" and proxy.requests[0].target == "directus.example:443"


def test_a_proxy_that_closes_during_connect_is_a_connect_failure():
    with FakeServer(lambda seen: None) as proxy:
        transport = HTTPTransport(proxies={"https": proxy.url})
        with pytest.raises(pydirectus.TransportError, match="cannot connect: the proxy closed") as caught:
            transport.send(Request("POST", "https://directus.example/items/a", {}, b"{}"))
    assert not caught.value.may_have_been_processed


def test_proxies_are_read_from_the_environment_as_urllib_reads_them():
    import urllib.request
    from pydirectus._core.http11 import proxies_from, resolve_route
    environments = [
        {"HTTP_PROXY": "http://upper:1", "http_proxy": "http://lower:2", "NO_PROXY": "example.org"},
        {"HTTP_PROXY": "http://upper:1", "REQUEST_METHOD": "GET", "HTTPS_PROXY": "http://s:3"},  # CGI
        {"https_proxy": "http://s:3", "no_proxy": ".directus.test, other"},
        {"HTTPS_PROXY": "http://s:3", "https_proxy": ""},  # an empty lower-case name removes it
        {"ALL_PROXY": "http://a:4", "no_proxy": "*"},
    ]
    hosts = ["example.org", "api.example.org", "directus.test", "cms.directus.test", "other", "another", "x.y"]
    for environ in environments:
        with pytest.MonkeyPatch.context() as patch:
            for name in list(os.environ):
                patch.delenv(name)
            for name, value in environ.items():
                patch.setenv(name, value)
            expected = urllib.request.getproxies_environment()
            assert proxies_from(None, environ) == expected, environ
            for host in hosts:
                bypass = urllib.request.proxy_bypass_environment(host, expected)
                assert (resolve_route("http", host, expected)[2] is None) == (bypass or "http" not in expected), \
                    (environ, host)
