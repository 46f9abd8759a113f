"""Security promises: redirects keep credentials at home, input cannot inject, TLS is verified,
and secrets never show in logs, reprs or tracebacks."""

import http.server
import logging
import os
import random
import ssl
import string
import subprocess
import threading
import traceback
from urllib.parse import unquote, urlsplit

import pytest

import pydirectus
from pydirectus import DirectusClient
from pydirectus._core.interpreter import bind
from pydirectus._core.records import build_request
from tests.fakeserver import FakeServer, reply

OK = reply(200, {"data": {"ok": True}})


# ------------------------------------------------------------------ redirects

def redirect_to(location, status=302):
    return lambda seen: reply(status, b"", headers={"Location": location})


def test_authorization_is_dropped_on_a_redirect_to_another_origin():
    with FakeServer(lambda seen: OK) as elsewhere:
        with FakeServer(redirect_to(elsewhere.url + "/landing")) as server:
            with DirectusClient(hostname=server.url, static_token="SECRET", proxies={}) as client:
                client.read_items("a")
    assert server.requests[0].headers["authorization"] == "Bearer SECRET"
    assert elsewhere.requests[0].target == "/landing" and "authorization" not in elsewhere.requests[0].headers


def test_a_password_session_sends_no_token_to_another_origin():
    def handler(seen):
        if seen.target == "/auth/login":
            return reply(200, {"data": {"access_token": "A", "refresh_token": "R", "expires": 900000}})
        return redirect_to(elsewhere.url + "/x")(seen)
    with FakeServer(lambda seen: OK) as elsewhere, FakeServer(handler) as server:
        with DirectusClient(hostname=server.url, username="a@b.c", password="p", proxies={}) as client:
            client.read_items("a")
    assert "authorization" not in elsewhere.requests[0].headers


def test_same_origin_redirects_keep_authorization_and_303_becomes_get():
    state = {"n": 0}

    def handler(seen):
        state["n"] += 1
        if state["n"] == 1:
            return redirect_to("/items/moved", 303)(seen)
        return OK
    with FakeServer(handler) as server, DirectusClient(hostname=server.url, static_token="T", proxies={}) as client:
        client.create_item("a", {"x": 1})
    first, second = server.requests
    assert (first.method, second.method, second.target) == ("POST", "GET", "/items/moved")
    assert second.headers["authorization"] == "Bearer T" and second.body == b""


def test_307_repeats_the_method_and_body():
    state = {"n": 0}

    def handler(seen):
        state["n"] += 1
        return redirect_to("/again", 307)(seen) if state["n"] == 1 else OK
    with FakeServer(handler) as server, DirectusClient(hostname=server.url, proxies={}) as client:
        client.create_item("a", {"x": 1})
    assert [(r.method, r.body) for r in server.requests] == [("POST", b'{"x":1}'), ("POST", b'{"x":1}')]


def test_redirect_chains_are_bounded():
    with FakeServer(redirect_to("/loop")) as server, DirectusClient(hostname=server.url, proxies={}) as client:
        with pytest.raises(pydirectus.TransportError, match="more than 5 redirects"):
            client.read_items("a")
    assert len(server.requests) == 6


def test_operations_that_return_nothing_take_the_redirect_as_their_answer():
    with FakeServer(redirect_to("https://billing.example/portal")) as server:
        with DirectusClient(hostname=server.url, static_token="t", proxies={}) as client:
            assert client.read_license_portal() is None
    assert len(server.requests) == 1


# ------------------------------------------------------------------ input checks

def test_ten_thousand_generated_ids_round_trip_through_path_encoding():
    rng = random.Random(20261130)
    alphabet = string.ascii_letters + string.digits + " /?#%&=+.:;@[]{}|\\^~`'\"<>!$*()," + "éü中文🙂-_"
    operation = pydirectus.DirectusClient.operations["read_item"]
    round_trips = 0
    while round_trips < 10000:
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 24)))
        if value in (".", ".."):
            continue  # refused on purpose: see test_dangerous_ids_are_refused
        path, data, query, model = bind(operation, ("things", value), {})
        url = build_request("http://h/base", operation, path, data, query, {}).url
        segments = urlsplit(url).path.split("/")
        assert segments[:4] == ["", "base", "items", "things"] and len(segments) == 5, url
        assert unquote(segments[4]) == value
        round_trips += 1


@pytest.mark.parametrize("bad", ["", ".", "..", "a\nb", "a\rb", "a\x00b", "\x7f", "\x1b[0m"])
def test_dangerous_ids_are_refused(bad):
    with pytest.raises(ValueError):
        bind(pydirectus.DirectusClient.operations["read_item"], ("things", bad), {})
        build_request("http://h", pydirectus.DirectusClient.operations["read_item"], {"collection": "t", "id": bad},
                      None, {}, {})


def test_five_thousand_header_injections_are_refused_before_any_socket_is_opened():
    rng = random.Random(7)
    with FakeServer(lambda seen: OK) as server:
        with DirectusClient(hostname=server.url, static_token="t", proxies={}) as client:
            for n in range(5000):
                evil = "".join(rng.choice("abc:; ") for _ in range(rng.randint(0, 8)))
                evil += rng.choice(["\r\n", "\n", "\r", "\x00"]) + "X-Injected: %d" % n
                with pytest.raises(ValueError, match="CR, LF or NUL"):
                    client.request("GET", "/server/ping", headers={"X-Custom": evil})
        assert server.connections == 0 and server.requests == []
    for argument in ({"static_token": "a\r\nb"}, {"username": "a\nb", "password": "p"},
                     {"user_agent": "ua\r\nX-Evil: 1"}):
        with pytest.raises(ValueError):
            DirectusClient(hostname="http://127.0.0.1:9", **argument)


# ------------------------------------------------------------------ TLS

@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 and localhost, made with the openssl command."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


@pytest.fixture
def tls_server(certificate):
    cert, key = certificate

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            body = b'{"data": {"tls": true}}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    servers = []

    def serve(host):
        server = http.server.ThreadingHTTPServer((host, 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return "https://%s:%d" % (host, server.server_address[1])

    yield serve
    for server in servers:
        server.shutdown()


def test_a_self_signed_certificate_is_refused_by_default(tls_server):
    with DirectusClient(hostname=tls_server("127.0.0.1"), static_token="t", proxies={}, retries=0) as client:
        with pytest.raises(pydirectus.TransportError, match="CERTIFICATE_VERIFY_FAILED"):
            client.read_items("a")


def test_it_is_accepted_with_its_ca_file(tls_server, certificate):
    with DirectusClient(hostname=tls_server("127.0.0.1"), static_token="t", proxies={},
                        ssl_verify=certificate[0]) as client:
        assert client.request("GET", "/items/a") == {"tls": True}


def test_it_is_refused_for_the_wrong_hostname(tls_server, certificate):
    url = tls_server("127.0.0.2")  # the certificate names 127.0.0.1 and localhost only
    with DirectusClient(hostname=url, static_token="t", proxies={}, ssl_verify=certificate[0], retries=0) as client:
        with pytest.raises(pydirectus.TransportError, match="IP address mismatch|doesn't match|hostname"):
            client.read_items("a")


def test_https_to_http_redirects_are_refused(tls_server, certificate):
    with FakeServer(lambda seen: OK) as plain:
        url = tls_server("127.0.0.1")
        with DirectusClient(hostname=url, static_token="t", proxies={}, ssl_verify=certificate[0]) as client:
            original = client.transport.send

            def send(request):
                response = original(request)
                if request.url.startswith("https"):
                    response.status = 302
                    response.headers = {"Location": plain.url + "/x"}
                return response
            client.transport.send = send
            with pytest.raises(pydirectus.TransportError, match="from https to http"):
                client.read_items("a")
        assert plain.requests == []


# ------------------------------------------------------------------ secrets

def test_random_secret_markers_never_show_in_logs_reprs_or_tracebacks(caplog):
    marker = "".join(random.SystemRandom().choice(string.ascii_letters) for _ in range(24))
    secrets = {"static": "static-" + marker, "password": "password-" + marker, "access": "access-" + marker,
               "refresh": "refresh-" + marker}
    state = {"n": 0}

    def handler(seen):
        state["n"] += 1
        if seen.target.startswith("/auth/"):
            return reply(200, {"data": {"access_token": secrets["access"], "refresh_token": secrets["refresh"],
                                        "expires": 900000}})
        if state["n"] == 3:
            return reply(401, {"errors": [{"message": "Token expired.", "extensions": {"code": "TOKEN_EXPIRED"}}]})
        if state["n"] % 4 == 0:
            return None  # lost answers, retried or raised
        return reply(403, {"errors": [{"message": "nope", "extensions": {"code": "FORBIDDEN"}}]})

    texts = []
    with caplog.at_level(logging.DEBUG), FakeServer(handler) as server:
        clients = [DirectusClient(hostname=server.url, username="me@x.io", password=secrets["password"], proxies={}),
                   DirectusClient(hostname=server.url, static_token=secrets["static"], proxies={})]
        for client in clients:
            texts += [repr(client), str(client), repr(client.tokens), repr(client._policy),
                      repr(client._policy.credentials), repr(client.transport)]
            for call in (lambda: client.read_items("a"), lambda: client.create_item("a", {"x": 1}),
                         lambda: client.request("GET", "/x"), lambda: client.refresh()):
                try:
                    call()
                except Exception as error:  # every failure's message, repr and formatted traceback
                    texts += [str(error), repr(error), "".join(traceback.format_exception(
                        type(error), error, error.__traceback__))]
                    texts += [repr(getattr(error, name, None)) for name in ("errors", "url", "method")]
            client.close()
    texts += [record.getMessage() for record in caplog.records]
    texts += [str(record.args) for record in caplog.records]
    assert len(caplog.records) > 5 and len(texts) > 30
    leaks = [text for text in texts if marker in text]
    assert leaks == []
