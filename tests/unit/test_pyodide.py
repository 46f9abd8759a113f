"""The fetch transport of the browser room (``pydirectus/_pyodide/``), on CPython: its pure parts
(headers the browser forbids, bodies gathered, fetch's failures mapped), and the transport itself
driven through both clients by a fake ``js`` and ``pyodide.ffi`` put into sys.modules. And the
promise to CPython users: nothing of ``_pyodide`` is imported there, while a (simulated) Pyodide
gets the fetch transports from the clients' hooks.

The live checks (a real Pyodide, Node's fetch and Chromium's, a real Directus) are the lanes of
``tests/pyodide/lanes.py``.
"""

import asyncio
import io
import json
import os
import subprocess
import sys
import types

import pytest

from pydirectus import DirectusClient, errors
from pydirectus._pyodide import transport as fetch_transport
from pydirectus._pyodide.transport import (FetchTransport, SyncFetchTransport, browser_headers, fetch_error,
                                           gather_body, gather_body_async)
from pydirectus.async_client import AsyncDirectusClient

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# ------------------------------------------------------------------ the pure parts

def test_headers_the_browser_forbids_or_cors_would_refuse_are_not_sent():
    sent = browser_headers({"User-Agent": "pydirectus/1", "Accept": "application/json", "Authorization": "Bearer t",
                            "Content-Type": "application/json", "Content-Length": "12", "Accept-Encoding": "gzip",
                            "Connection": "keep-alive", "Host": "x", "Proxy-Authorization": "p",
                            "Sec-Fetch-Mode": "cors", "Range": "bytes=5-", "X-Custom": "mine"})
    assert sent == {"Accept": "application/json", "Authorization": "Bearer t", "Content-Type": "application/json",
                    "Range": "bytes=5-", "X-Custom": "mine"}


def test_bodies_are_gathered_into_bytes():
    assert gather_body(None) is None
    assert gather_body(b"abc") == b"abc"
    assert gather_body("é") == b"\xe9"  # a str goes as Latin-1, as the socket transports send it
    assert gather_body(bytearray(b"ab")) == b"ab" and gather_body(memoryview(b"ab")) == b"ab"
    assert gather_body([b"a", "b", bytearray(b"c")]) == b"abc"
    assert gather_body(chunk for chunk in (b"x", b"y")) == b"xy"
    assert gather_body(io.BytesIO(b"z" * 200000)) == b"z" * 200000
    with pytest.raises(TypeError):
        gather_body([1, 2])

    async def chunks():
        yield b"1"
        yield "2"
    assert asyncio.run(gather_body_async(chunks())) == b"12"
    with pytest.raises(TypeError, match="AsyncDirectusClient"):
        gather_body(chunks())


class JsError(Exception):
    """What awaiting a rejected promise raises in Pyodide (pyodide.ffi.JsException): name, message, cause."""

    def __init__(self, name, message, cause=None):
        super().__init__("%s: %s" % (name, message))
        self.name, self.message, self.cause = name, message, cause


def test_fetch_failures_become_transport_errors_that_say_why():
    chromium = fetch_error(JsError("TypeError", "Failed to fetch"), "POST", "http://d.test/items/a")
    assert type(chromium) is errors.TransportError
    assert chromium.may_have_been_processed  # the server may be up and the answer refused (CORS)
    assert "CORS_ENABLED=true" in str(chromium) and "CORS_ORIGIN" in str(chromium)
    assert "Failed to fetch" in str(chromium)
    refused = fetch_error(JsError("TypeError", "fetch failed", types.SimpleNamespace(message="connect ECONNREFUSED",
                                                                                      code="ECONNREFUSED")),
                          "POST", "http://d.test/items/a")
    assert not refused.may_have_been_processed and "ECONNREFUSED" in str(refused)
    for message in ("NetworkError when attempting to fetch resource.", "Load failed"):  # Firefox, Safari
        assert "CORS_ENABLED" in str(fetch_error(JsError("TypeError", message), "GET", "u"))
    aborted = fetch_error(JsError("AbortError", "This operation was aborted"), "GET", "u")
    assert isinstance(aborted, errors.TimeoutError)
    invalid = fetch_error(JsError("TypeError", "Failed to execute 'fetch' on 'Window': Invalid name"), "GET", "u")
    assert type(invalid) is errors.TransportError and not invalid.may_have_been_processed
    assert "refused to send" in str(invalid)
    assert "CORS_METHODS" not in str(chromium)
    search = fetch_error(JsError("TypeError", "Failed to fetch"), "SEARCH", "http://d.test/items/a")
    assert "CORS_METHODS must name SEARCH" in str(search)
    plain = fetch_error(ValueError("TypeError: Failed to fetch"), "GET", "u")  # no name attribute: from the text
    assert "CORS_ENABLED" in str(plain)


# ------------------------------------------------------------------ a fake browser

class FakeAbortController:
    def __init__(self):
        self.signal = object()
        self.aborted = False

    def abort(self):
        self.aborted = True


class FakeBuffer:
    def __init__(self, data):
        self.data = data

    def to_bytes(self):
        return self.data

    def assign(self, data):
        self.data = bytes(data)


class FakeReader:
    def __init__(self, chunks, stall=False):
        self.chunks = list(chunks)
        self.stall = stall
        self.cancelled = False

    async def read(self):
        if self.stall:
            await asyncio.sleep(3600)
        if not self.chunks:
            return types.SimpleNamespace(done=True, value=None)
        return types.SimpleNamespace(done=False, value=FakeBuffer(self.chunks.pop(0)))

    def cancel(self):
        self.cancelled = True
        return None


class FakeAnswer:
    def __init__(self, status, headers, chunks=(), kind="cors", stall=False):
        self.status = status
        self.type = kind
        self.headers = types.SimpleNamespace(entries=lambda: [list(pair) for pair in headers])
        self.body = types.SimpleNamespace(getReader=lambda: self.reader) if chunks is not None else None
        self.reader = FakeReader(chunks or (), stall)


class FakeBrowser:
    """``js`` and ``pyodide.ffi`` as far as the transport uses them; ``answer(url, options)``
    gives a FakeAnswer (or raises, as a rejected fetch does)."""

    def __init__(self, answer, can_run_sync=True):
        self.answer = answer
        self.sent = []
        self.controllers = []
        browser = self

        class AbortController:
            @staticmethod
            def new():
                controller = FakeAbortController()
                browser.controllers.append(controller)
                return controller

        class Uint8Array:
            @staticmethod
            def new(length):
                return FakeBuffer(bytes(length))

        self.js = types.ModuleType("js")
        self.js.AbortController = AbortController
        self.js.Uint8Array = Uint8Array
        self.js.Object = types.SimpleNamespace(fromEntries=dict)
        self.js.fetch = self.fetch
        self.ffi = types.ModuleType("pyodide.ffi")
        self.ffi.to_js = lambda value, dict_converter=None: dict(value)
        self.ffi.can_run_sync = lambda: can_run_sync
        self.ffi.run_sync = self.run_sync
        self.ffi.create_once_callable = lambda function: function
        self.package = types.ModuleType("pyodide")
        self.package.ffi = self.ffi

    async def fetch(self, url, options):
        self.sent.append((url, options))
        answer = self.answer(url, options)
        if asyncio.iscoroutine(answer):
            answer = await answer
        return answer

    @staticmethod
    def run_sync(awaitable):
        loop = asyncio.new_event_loop()
        try:
            return loop.run_until_complete(awaitable)
        finally:
            loop.close()


@pytest.fixture
def browser(monkeypatch):
    def install(answer, can_run_sync=True):
        fake = FakeBrowser(answer, can_run_sync)
        monkeypatch.setitem(sys.modules, "js", fake.js)
        monkeypatch.setitem(sys.modules, "pyodide", fake.package)
        monkeypatch.setitem(sys.modules, "pyodide.ffi", fake.ffi)
        return fake
    return install


def json_answer(status, document, extra=()):
    return FakeAnswer(status, [("content-type", "application/json; charset=utf-8")] + list(extra),
                      [json.dumps(document).encode()])


def test_the_async_client_runs_on_fetch(browser):
    def answer(url, options):
        if options["method"] == "POST":
            return json_answer(200, {"data": {"id": 7, "title": json.loads(options["body"].data)["title"]}})
        return json_answer(200, {"data": [{"id": 1, "title": "a"}]})
    fake = browser(answer)

    async def main():
        async with AsyncDirectusClient(hostname="http://directus.test", static_token="t",
                                       transport=FetchTransport()) as directus:
            items = await directus.read_items("articles", limit=1)
            created = await directus.create_item("articles", {"title": "new"})
            return items, created
    items, created = asyncio.run(main())
    assert [item.title for item in items] == ["a"] and created.id == 7
    url, options = fake.sent[0]
    assert url == "http://directus.test/items/articles?limit=1"
    assert options["headers"] == {"Accept": "application/json", "Authorization": "Bearer t"}  # no User-Agent
    assert options["redirect"] == "follow" and "body" not in options
    assert fake.sent[1][1]["headers"]["Content-Type"] == "application/json"


def test_a_streamed_download_reads_the_body_by_its_reader(browser):
    chunks = [b"a" * 5, b"b" * 7, b"c"]
    fake = browser(lambda url, options: FakeAnswer(200, [("content-length", "13"),
                                                          ("content-type", "application/octet-stream")], chunks))

    async def main():
        directus = AsyncDirectusClient(hostname="http://directus.test", static_token="t", transport=FetchTransport())
        sink = io.BytesIO()
        await directus.download_file("f1", sink)
        return sink.getvalue()
    assert asyncio.run(main()) == b"aaaaabbbbbbbc"
    assert fake.sent[0][1]["headers"]["Accept"] == "*/*"


def test_the_sync_client_blocks_with_run_sync(browser):
    browser(lambda url, options: FakeAnswer(200, [("content-type", "text/plain")], [b"hello ", b"world"]))
    directus = DirectusClient(hostname="http://directus.test", static_token="t", transport=SyncFetchTransport())
    assert b"".join(directus.iter_file("f1", chunk_size=4)) == b"hello world"
    assert directus.request("GET", "/custom") == b"hello world"


def test_the_sync_client_says_to_use_the_async_one_where_nothing_can_block(browser):
    browser(lambda url, options: json_answer(200, {"data": []}), can_run_sync=False)
    directus = DirectusClient(hostname="http://directus.test", static_token="t", transport=SyncFetchTransport(),
                              retries=0)
    with pytest.raises(RuntimeError, match="AsyncDirectusClient") as failure:
        directus.read_items("articles")
    assert "JSPI" in str(failure.value) and "can_run_sync" in str(failure.value)


def test_an_uploaded_iterable_is_gathered_and_no_content_length_is_sent(browser):
    fake = browser(lambda url, options: json_answer(200, {"data": {"id": "f", "filename_download": "x.txt"}}))

    async def main():
        directus = AsyncDirectusClient(hostname="http://directus.test", static_token="t", transport=FetchTransport())

        async def lines():
            yield b"one\n"
            yield b"two\n"
        return await directus.upload_file(lines(), filename="x.txt")
    assert asyncio.run(main()).id == "f"
    options = fake.sent[0][1]
    assert "Content-Length" not in options["headers"] and options["headers"]["Content-Type"].startswith("multipart/")
    assert b"one\ntwo\n" in options["body"].data


def test_no_answer_in_time_aborts_the_fetch_and_raises_a_timeout(browser):
    async def never(url, options):
        await asyncio.sleep(3600)
    fake = browser(never)

    async def main():
        directus = AsyncDirectusClient(hostname="http://directus.test", static_token="t", retries=0,
                                       connect_timeout=0.05, read_timeout=0.05, transport=None)
        directus.transport = directus._runner.transport = FetchTransport(connect_timeout=0.05, read_timeout=0.05)
        await directus.read_items("articles")
    with pytest.raises(errors.TimeoutError, match="no answer came within 0.1 s"):
        asyncio.run(main())
    assert fake.controllers[-1].aborted


def test_a_quiet_streamed_body_times_out(browser):
    browser(lambda url, options: FakeAnswer(200, [("content-type", "text/plain")], [b"x"], stall=True))

    async def main():
        transport = FetchTransport(connect_timeout=1, read_timeout=0.05)
        from pydirectus._core.records import Request
        response = await transport.send(Request("GET", "http://directus.test/assets/f", {}, None, True, True))
        await response.stream.read(10)
    with pytest.raises(errors.TimeoutError, match="stayed quiet"):
        asyncio.run(main())


def test_a_rejected_fetch_becomes_a_transport_error_through_the_client(browser):
    def answer(url, options):
        raise JsError("TypeError", "Failed to fetch")
    browser(answer)

    async def main():
        directus = AsyncDirectusClient(hostname="http://directus.test", static_token="t", retries=0,
                                       transport=FetchTransport())
        await directus.create_item("articles", {"title": "x"})
    with pytest.raises(errors.TransportError, match="CORS_ORIGIN") as failure:
        asyncio.run(main())
    assert "may have processed" in str(failure.value)


def test_a_redirect_not_followed_is_the_answer(browser):
    fake = browser(lambda url, options: FakeAnswer(0, [], None, kind="opaqueredirect"))

    async def main():
        transport = FetchTransport()
        from pydirectus._core.records import Request
        return await transport.send(Request("GET", "http://directus.test/x", {}, None, True, False, False))
    response = asyncio.run(main())
    assert response.status == 302 and fake.sent[0][1]["redirect"] == "manual"


def test_a_coded_answer_loses_its_coded_length(browser):
    browser(lambda url, options: FakeAnswer(200, [("content-encoding", "gzip"), ("content-length", "3"),
                                                  ("content-type", "text/plain")], [b"decoded body"]))

    async def main():
        from pydirectus._core.records import Request
        return await FetchTransport().send(Request("GET", "http://directus.test/x"))
    response = asyncio.run(main())
    assert response.body == b"decoded body" and response.headers.get("Content-Length") is None


def test_the_sync_runner_under_pyodide_runs_a_started_flow_when_joined_without_a_thread(monkeypatch):
    import threading

    from pydirectus._pyodide.runner import PyodideRunner
    from tests.mocktransport import MockTransport, json_response

    def answer(request):
        from urllib.parse import parse_qs, urlsplit
        query = parse_qs(urlsplit(request.url).query)
        limit = int(query.get("limit", ["100"])[0])
        if "filter" in query:  # pages after the first: keyset on the id
            start = json.loads(query["filter"][0])
            start = next(iter(start.values()))["id"]["_gt"] if "_and" not in start else start["_and"][-1]["id"]["_gt"]
        else:
            start = int(query.get("offset", ["0"])[0])
        rows = [{"id": i, "title": "t%d" % i} for i in range(start + 1, min(start + limit, 250) + 1)]
        return json_response(200, {"data": rows})
    client = DirectusClient(hostname="http://directus.test", static_token="t", transport=MockTransport(answer))
    client._runner = runner = PyodideRunner(client.transport, client.logger, lambda seconds: None)
    assert client._runner is runner

    def no_thread(*args, **kwargs):
        raise RuntimeError("can't start new thread")
    monkeypatch.setattr(threading.Thread, "start", no_thread)
    ids = [item.id for item in client.iter_items("articles", page_size=100)]
    assert ids == list(range(1, 251))
    closed = client.iter_items("articles", page_size=100)
    assert next(closed).id == 1
    closed.close()  # the page started ahead is closed unrun


def test_a_body_above_max_body_size_is_refused_while_read(browser):
    browser(lambda url, options: FakeAnswer(200, [("content-type", "text/plain")], [b"x" * 40000] * 3))

    async def main():
        from pydirectus._core.records import Request
        return await FetchTransport(max_body_size=100000).send(Request("GET", "http://directus.test/x"))
    with pytest.raises(errors.TransportError, match="max_body_size"):
        asyncio.run(main())


def test_realtime_is_refused_with_a_reason():
    Client = type("BrowserClient", (AsyncDirectusClient,), {})
    fetch_transport.refuse_realtime(Client)
    client = Client(hostname="http://directus.test", static_token="t", transport=object())
    with pytest.raises(NotImplementedError, match="WebSocket"):
        client.realtime()
    assert Client.realtime.__doc__ == AsyncDirectusClient.realtime.__doc__


# ------------------------------------------------------------------ the choice, made by the clients' hooks

CPYTHON_SCRIPT = r'''
import asyncio, sys
sys.path.insert(0, sys.argv[1])
from pydirectus import DirectusClient
from pydirectus.async_client import AsyncDirectusClient
from tests.mocktransport import AsyncMockTransport, MockTransport, json_response
answer = lambda request: json_response(200, {"data": [{"id": 1}]})
DirectusClient(hostname="http://d.test", static_token="t")  # the default transports too
AsyncDirectusClient(hostname="https://d.test", static_token="t")
assert len(DirectusClient(hostname="http://d.test", static_token="t", transport=MockTransport(answer)).read_items("a")) == 1
client = AsyncDirectusClient(hostname="http://d.test", static_token="t", transport=AsyncMockTransport(answer))
assert len(asyncio.run(client.read_items("a"))) == 1
found = sorted(name for name in sys.modules if "_pyodide" in name or name in ("js", "pyodide"))
print("found:", found)
'''


def test_cpython_never_imports_the_browser_room():
    result = subprocess.run([sys.executable, "-c", CPYTHON_SCRIPT, ROOT], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip().endswith("found: []"), result.stdout


EMSCRIPTEN_SCRIPT = r'''
import sys, types
sys.path.insert(0, sys.argv[1])
sys.platform = "emscripten"  # as Pyodide says; js and pyodide.ffi stand-ins, which nothing calls here
js = types.ModuleType("js"); js.fetch = lambda *args: None
ffi = types.ModuleType("pyodide.ffi"); ffi.can_run_sync = lambda: False
package = types.ModuleType("pyodide"); package.ffi = ffi
sys.modules.update({"js": js, "pyodide": package, "pyodide.ffi": ffi})
from pydirectus import DirectusClient
from pydirectus.async_client import AsyncDirectusClient
sync = DirectusClient(hostname="https://d.test", static_token="t")
asynchronous = AsyncDirectusClient(hostname="https://d.test", static_token="t")
print(type(sync.transport).__name__, type(asynchronous.transport).__name__, sync.connection_settings.ssl_context,
      sync._runner.sleep.__name__, type(sync._runner).__name__)
for client in (sync, asynchronous):
    try:
        client.realtime()
    except NotImplementedError as error:
        print("realtime:", error)
try:
    sync.read_items("a")
except RuntimeError as error:
    print("sync:", error)
print("pydirectus._sync.transport" in sys.modules, "pydirectus._async.transport" in sys.modules)
'''


def test_under_pyodide_the_clients_choose_fetch():
    result = subprocess.run([sys.executable, "-c", EMSCRIPTEN_SCRIPT, ROOT], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
    assert result.returncode == 0, result.stdout
    lines = result.stdout.splitlines()
    assert lines[0] == "SyncFetchTransport FetchTransport None sync_sleep PyodideRunner", result.stdout
    assert lines[1].startswith("realtime: realtime() is not available under Pyodide") and lines[2].startswith("realtime")
    assert lines[3].startswith("sync: DirectusClient cannot wait for fetch here"), result.stdout
    assert lines[4] == "False False", result.stdout  # the socket transports are never imported there
