"""Files, assets and TUS on AsyncDirectusClient, against the loopback fakes of test_files.py.

Both clients run the same flows (files.FileFlows, tus.TusFlows), so the behaviours that matter most
(resumed downloads, refused splices, short bodies, streamed uploads, progress, TUS resumes) are
checked here on both; what only the async client does (async generators, cancellation, async for)
on it alone. Each test runs its coroutine with asyncio.run: pytest is the only test dependency.
"""

import asyncio
import hashlib
import inspect
import io
import os
import time
import tracemalloc

import pytest

from pydirectus import DirectusClient, DirectusError, File, TransportError
from pydirectus.async_client import AsyncDirectusClient
from pydirectus._core.multipart import Field, FilePart, IterableContent, MultipartEncoder
from tests.fakeserver import FakeServer, reply
from tests.unit.test_files import (CONTENT, AssetServer, DiscardingUploadServer, FailingFile, ResetFirstConnection,
                                   TusServer, form_parts, record_for, upload_server)

FILE_METHODS = ["upload_file", "upload_files", "replace_file", "download_file", "iter_file", "asset_url",
                "create_tus_upload", "upload_tus_chunk", "read_tus_upload_offset", "delete_tus_upload",
                "read_tus_options", "upload_file_resumable"]


async def no_sleep(seconds):
    pass


def async_client_for(server, **kwargs):
    kwargs.setdefault("static_token", "tok")
    kwargs.setdefault("proxies", {})
    kwargs.setdefault("sleep", no_sleep)
    return AsyncDirectusClient(hostname=server.url, **kwargs)


def run_async(server, action, **kwargs):
    """``await action(client)`` with an async client of ``server``."""
    async def main():
        async with async_client_for(server, **kwargs) as client:
            return await action(client)
    return asyncio.run(main())


def run_sync(server, action, **kwargs):
    kwargs.setdefault("static_token", "tok")
    kwargs.setdefault("proxies", {})
    kwargs.setdefault("sleep", lambda seconds: None)
    with DirectusClient(hostname=server.url, **kwargs) as client:
        result = action(client)
        return list(result) if inspect.isgenerator(result) else result


def run_awaited(server, action, **kwargs):
    async def awaited(client):
        result = action(client)
        if hasattr(result, "__aiter__"):
            return [chunk async for chunk in result]
        return await result if inspect.isawaitable(result) else result
    return run_async(server, awaited, **kwargs)


@pytest.fixture(params=["sync", "async"])
def perform(request):
    """``perform(server, action, **client_arguments)``: ``action(client)`` with a client of each kind,
    awaited on the async one; chunks of ``iter_file`` come back as a list. ``perform.asynchronous``
    says which."""
    run = run_sync if request.param == "sync" else run_awaited
    run.asynchronous = request.param == "async"
    return run


# ------------------------------------------------------------------------------------------ downloads, both clients

def test_a_dropped_download_resumes_with_a_range_request(perform, tmp_path):
    dest = tmp_path / "out.png"
    progress = []
    with AssetServer(cuts=[300000, 200000]) as server:
        written = perform(server, lambda client: client.download_file(
            "f1", dest, progress=lambda done, total: progress.append((done, total))))
    assert written == str(dest) and dest.read_bytes() == CONTENT and os.listdir(str(tmp_path)) == ["out.png"]
    assert [seen.headers.get("range") for seen in server.requests] == [None, "bytes=300000-", "bytes=500000-"]
    assert progress == sorted(progress) and progress[-1] == (len(CONTENT), len(CONTENT))


def test_a_file_that_changed_on_the_server_is_not_spliced(perform, tmp_path):
    buffer = io.BytesIO()
    with AssetServer(cuts=[1000, None, 1000], etags=['"1"', '"2"', '"1"', '"3"']) as server:
        with pytest.raises(TransportError, match="changed on the server"):
            perform(server, lambda client: client.download_file("f1", tmp_path / "out.png"))
        with pytest.raises(TransportError, match="changed on the server"):
            perform(server, lambda client: client.download_file("f1", buffer))
    assert os.listdir(str(tmp_path)) == []  # no file, no temporary left behind
    assert buffer.getvalue() == CONTENT[:1000]  # a file object holds what arrived, nothing spliced


def test_a_short_body_is_never_left_looking_complete(perform, tmp_path):
    # the body stops after 10 bytes, then every resume brings nothing: give up after the retries
    with AssetServer(cuts=[10, 0, 0, 0]) as server:
        with pytest.raises(TransportError, match="cut short"):
            perform(server, lambda client: client.download_file("f1", tmp_path / "out.png"), retries=2)
    assert len(server.requests) == 4 and os.listdir(str(tmp_path)) == []
    with AssetServer(cuts=[1000]) as server:  # one drop that a resume repairs
        chunks = perform(server, lambda client: client.iter_file("f1", chunk_size=4096))
    assert b"".join(chunks) == CONTENT and max(len(chunk) for chunk in chunks) <= 4096


def test_downloads_keep_an_existing_file_and_name_one_in_a_folder(perform, tmp_path):
    (tmp_path / "out.png").write_bytes(b"mine")
    with AssetServer() as server:
        with pytest.raises(FileExistsError, match="overwrite=True"):
            perform(server, lambda client: client.download_file("f1", tmp_path / "out.png"))
        assert server.requests == []
        written = perform(server, lambda client: client.download_file("f1", tmp_path))
    assert written == str(tmp_path / "picture.png") and (tmp_path / "picture.png").read_bytes() == CONTENT
    assert (tmp_path / "out.png").read_bytes() == b"mine"


# ------------------------------------------------------------------------------------------ uploads, both clients

def test_a_streamed_upload_is_not_held_in_memory(perform, tmp_path):
    path = tmp_path / "big.bin"
    size = 48 * 1024 * 1024
    with open(str(path), "wb") as handle:
        handle.truncate(size)  # sparse: zeros that take no disk
    with DiscardingUploadServer() as server:
        tracemalloc.start()
        try:
            record = perform(server, lambda client: client.upload_file(path))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert record.filesize > size and server.received[0][0] == record.filesize
    assert peak < 4 * 1024 * 1024, "%d bytes at the peak of a %d bytes upload" % (peak, size)


def test_upload_progress_counts_every_byte_and_raising_in_it_cancels(perform, tmp_path):
    path = tmp_path / "three.bin"
    path.write_bytes(CONTENT * 3)
    progress = []
    with upload_server() as server:
        record = perform(server, lambda client: client.upload_file(
            path, progress=lambda done, total: progress.append((done, total))))
    assert record.filesize == 3 * len(CONTENT) and progress[-1] == (3 * len(CONTENT), 3 * len(CONTENT))
    assert all(a[0] < b[0] for a, b in zip(progress, progress[1:])) and len(progress) == 24

    class Cancel(Exception):
        pass

    def cancel(done, total):
        raise Cancel()
    with upload_server() as server:
        with pytest.raises(Cancel):
            perform(server, lambda client: client.upload_file(CONTENT * 4, filename="c", progress=cancel))


def test_the_callers_errors_come_out_as_they_are_not_as_transport_errors(perform):
    def generate():
        yield b"x" * 100000
        raise OSError("the disk is on fire")

    async def generate_async():  # on the async client, an async generator's error as well
        for chunk in generate():
            yield chunk
    with upload_server() as server:
        with pytest.raises(OSError, match="disk is on fire") as caught:
            chunks = generate_async() if perform.asynchronous else generate()
            perform(server, lambda client: client.upload_file(chunks, filename="g"))
        assert not isinstance(caught.value, TransportError)
        with pytest.raises(OSError, match="Input/output error") as caught:
            perform(server, lambda client: client.upload_file(FailingFile(CONTENT * 3), filename="f"))
        assert not isinstance(caught.value, TransportError)


def test_a_failure_while_sending_rewinds_a_path_and_refuses_a_one_shot_source(perform, tmp_path):
    path = tmp_path / "big.bin"
    path.write_bytes(CONTENT * 8)
    with ResetFirstConnection() as server:
        record = perform(server, lambda client: client.upload_file(path))
    assert record.id == "x" and len(server.bodies) == 1 and CONTENT * 8 in server.bodies[0]

    async def generate_async():
        for _ in range(8):
            yield CONTENT
    with ResetFirstConnection() as server:
        with pytest.raises(TransportError, match="not sent again") as caught:
            chunks = generate_async() if perform.asynchronous else (CONTENT for _ in range(8))
            perform(server, lambda client: client.upload_file(chunks, filename="g"))
    assert not caught.value.may_have_been_processed and server.bodies == []


def test_an_upload_the_role_may_not_read_back_gives_what_was_sent(perform):
    # Directus answers 204 when the role may create files but not read them
    with FakeServer(lambda seen: reply(204, b"", content_type=None)) as server:
        record = perform(server, lambda client: client.upload_file(b"12345", filename="n.txt", title="N",
                                                                   tags=["a"]))
        replaced = perform(server, lambda client: client.replace_file("f-9", b"123", filename="m.txt"))
        several = perform(server, lambda client: client.upload_files([b"1", {"file": b"22", "filename": "b.txt"}]))
    assert isinstance(record, File) and record.id is None
    assert (record.filename_download, record.type, record.filesize, record.title, record.tags) == (
        "n.txt", "text/plain", 5, "N", ["a"])
    assert (replaced.id, replaced.filename_download, replaced.filesize) == ("f-9", "m.txt", 3)
    assert [(r.id, r.filename_download, r.filesize) for r in several] == [(None, "file", 1), (None, "b.txt", 2)]


def test_replace_keeps_the_current_name_and_type_unless_given(perform):
    def handler(seen):
        if seen.method == "GET":
            return reply(200, {"data": {"filename_download": "kept.pdf", "type": "application/pdf"}})
        return reply(200, {"data": dict(record_for(form_parts(seen))[0], id="f-1")})
    with FakeServer(handler) as server:
        record = perform(server, lambda client: client.replace_file("f-1", b"%PDF new"))
    assert record.id == "f-1" and (record.filename_download, record.type) == ("kept.pdf", "application/pdf")
    assert [seen.method for seen in server.requests] == ["GET", "PATCH"]
    assert server.requests[0].target == "/files/f-1?fields=filename_download,type"


# ------------------------------------------------------------------------------------------ TUS, both clients

def test_a_tus_upload_resumes_after_a_lost_answer_without_sending_twice(perform, tmp_path):
    path = tmp_path / "resumable.bin"
    path.write_bytes(CONTENT[:300000])
    progress = []
    with TusServer(lose={1}) as server:
        record = perform(server, lambda client: client.upload_file_resumable(
            path, chunk_size=100000, progress=lambda done, total: progress.append((done, total))))
    assert isinstance(record, File) and record.id == "file-1"
    assert record.sha256 == hashlib.sha256(CONTENT[:300000]).hexdigest()
    assert [(seen.method, seen.headers.get("upload-offset")) for seen in server.requests] == [
        ("POST", None), ("PATCH", "0"), ("PATCH", "100000"), ("HEAD", None), ("PATCH", "200000"), ("GET", None)]
    assert progress == [(100000, 300000), (300000, 300000)]  # the lost chunk's answer never came


def test_tus_step_by_step(perform):
    with TusServer() as server:
        upload_id = perform(server, lambda client: client.create_tus_upload(8, filename="s.txt", mime_type="text/plain"))
        offset = perform(server, lambda client: client.upload_tus_chunk(upload_id, 0, b"hello"))
        where = perform(server, lambda client: client.read_tus_upload_offset(upload_id))
    assert (upload_id, offset, where) == ("up-1", 5, (5, 8))
    assert server.requests[0].headers["tus-resumable"] == "1.0.0" and server.length == 8


# ------------------------------------------------------------------------------------------ the async client alone

def test_an_async_generator_is_uploaded_with_chunked_encoding():
    progress = []

    async def generate():
        for index in range(8):
            await asyncio.sleep(0)
            yield CONTENT[index * 131072:(index + 1) * 131072]
    with upload_server() as server:
        record = run_async(server, lambda client: client.upload_file(
            generate(), filename="stream.bin", title="S", progress=lambda done, total: progress.append((done, total))))
    seen = server.requests[0]
    assert seen.headers.get("transfer-encoding") == "chunked" and "content-length" not in seen.headers
    assert record.sha256 == hashlib.sha256(CONTENT).hexdigest() and record.title == "S"
    assert progress[-1] == (len(CONTENT), None) and len(progress) == 8


def test_the_encoder_frames_an_async_source_as_it_frames_a_plain_one():
    pieces = [b"abc", b"", b"defgh"]

    async def generate():
        for piece in pieces:
            yield piece

    def encoder(source, progress=None):
        return MultipartEncoder([Field("title", "T"), FilePart("file", "f.bin", "application/octet-stream", source)],
                                boundary="b0undary", progress=progress)

    async def framed(body):
        return b"".join([bytes(chunk) async for chunk in body])
    progress = []
    plain = b"".join(bytes(chunk) for chunk in encoder(IterableContent(iter(pieces))))
    streamed = asyncio.run(framed(encoder(IterableContent(generate()), lambda done, total: progress.append(done))))
    assert streamed == plain and b"abcdefgh" in plain and progress == [3, 8]
    with pytest.raises(TypeError, match="async"):  # a sync transport cannot send it
        iter(encoder(IterableContent(generate())))
    with pytest.raises(ValueError, match="ended after 8 of its 9 bytes"):  # a size that lies
        asyncio.run(framed(encoder(IterableContent(generate(), size=9))))


def test_an_async_generator_is_streamed_not_gathered():
    async def generate():
        for _ in range(128):
            yield bytes(256 * 1024)  # 32 MiB in all, each chunk made when asked for
    with DiscardingUploadServer() as server:
        tracemalloc.start()
        try:
            record = run_async(server, lambda client: client.upload_file(generate(), filename="z.bin"))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert record.filesize > 32 * 1024 * 1024 and peak < 4 * 1024 * 1024, peak


def test_paths_bytes_file_objects_and_several_files(tmp_path):
    path = tmp_path / "report.csv"
    path.write_bytes(b"a,b\n1,2\n")
    handle = io.BytesIO(b"skip|" + CONTENT)
    handle.seek(5)

    async def action(client):
        return [await client.upload_file(str(path)), await client.upload_file(handle, filename="x.bin"),
                await client.upload_file(CONTENT, filename="data.bin", folder="f-1", tags=["a"])] + \
            await client.upload_files([b"a", {"file": b"bb", "filename": "b.txt", "title": "B"}], folder="shared")
    with upload_server(reverse=True) as server:
        records = run_async(server, action)
    assert form_parts(server.requests[0]) == [("file", "report.csv", "text/csv", b"a,b\n1,2\n")]
    assert form_parts(server.requests[1])[-1] == ("file", "x.bin", "application/octet-stream", CONTENT)
    assert [p[0] for p in form_parts(server.requests[2])] == ["tags", "folder", "file"]
    assert [r.filename_download for r in records] == ["report.csv", "x.bin", "data.bin", "file", "b.txt"]
    assert records[4].title == "B" and records[3].folder == "shared"


def test_the_sync_client_refuses_an_async_generator_before_sending():
    async def generate():
        yield b"x"
    chunks = generate()
    with upload_server() as server:
        with pytest.raises(TypeError, match="AsyncDirectusClient"):
            run_sync(server, lambda client: client.upload_file(chunks, filename="g"))
    assert server.requests == []
    asyncio.run(chunks.aclose())


def test_bad_arguments_raise_before_anything_is_sent(tmp_path):
    async def action(client):
        for call in (lambda: client.upload_file(12), lambda: client.upload_files([]),
                     lambda: client.download_file("f1", tmp_path / "x", width=0),
                     lambda: client.download_file("f1", io.StringIO())):
            with pytest.raises((TypeError, ValueError)):
                await call()
        with pytest.raises(TypeError):
            client.iter_file("f1", chunk_size=0)  # at once, not at the first chunk
        with pytest.raises(ValueError):
            client.asset_url("f1", quality=101)
    with upload_server() as server:
        run_async(server, action)
    assert server.requests == []


def test_iter_file_with_async_for_and_closing_it_early():
    async def action(client):
        chunks = client.iter_file("f1", chunk_size=1000)
        first = await chunks.__anext__()
        await chunks.aclose()
        stats = client.transport.stats()
        whole = b"".join([chunk async for chunk in client.iter_file("f1", width=16)])
        return first, stats, whole
    with AssetServer() as server:
        first, stats, whole = run_async(server, action)
    assert len(first) == 1000 and whole == CONTENT and stats["open"] == 0
    assert [seen.target for seen in server.requests] == ["/assets/f1", "/assets/f1?width=16"]


def test_a_cancelled_download_leaves_nothing_behind_and_the_client_usable(tmp_path):
    def stalling(seen):
        if seen.target != "/assets/slow":
            return reply(200, b"fine", content_type="text/plain")
        head = reply(200, b"", content_type="image/png", length=len(CONTENT)).split(b"\r\n\r\n")[0] + b"\r\n\r\n"

        def send_half_then_stall(conn):
            conn.sendall(head + CONTENT[:500000])
            time.sleep(2)
        return send_half_then_stall

    async def action(client):
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(client.download_file("slow", tmp_path / "slow.png"), 0.5)
        left = os.listdir(str(tmp_path))
        return left, client.transport.stats(), await client.request("GET", "/after")
    with FakeServer(stalling) as server:
        left, stats, after = run_async(server, action)
    assert left == [] and stats["open"] == 0 and after == b"fine"


def test_asset_url_is_a_plain_method_that_never_logs_in():
    static = AsyncDirectusClient(hostname="https://example.com", static_token="s3cret", proxies={})
    assert static.asset_url("f", width=64, include_token=True) == (
        "https://example.com/assets/f?width=64&access_token=s3cret")
    assert "s3cret" not in static.asset_url("f", download=True)

    def handler(seen):
        return reply(200, {"data": {"access_token": "A1", "refresh_token": "R1", "expires": 900000}})
    with FakeServer(handler) as server:
        session = async_client_for(server, static_token=None, username="a@b.c", password="pw")
        with pytest.raises(DirectusError, match="login"):
            session.asset_url("f", include_token=True)
        assert server.requests == []  # it did not log in by itself

        async def log_in():
            async with session:
                await session.login()
        asyncio.run(log_in())
    assert session.asset_url("f", include_token=True) == server.url + "/assets/f?access_token=A1"


# ------------------------------------------------------------------------------------------ one definition, two clients

@pytest.mark.parametrize("name", FILE_METHODS)
def test_each_method_has_the_sync_parameters_and_docstring(name):
    sync, asynchronous = getattr(DirectusClient, name), getattr(AsyncDirectusClient, name)

    def shape(function):
        return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]
    assert shape(sync) == shape(asynchronous) and inspect.getdoc(sync) == inspect.getdoc(asynchronous)
    # a coroutine method, but for the URL (no I/O) and the stream (an async iterator, for async for)
    assert inspect.iscoroutinefunction(asynchronous) == (name not in ("asset_url", "iter_file"))


def test_every_operation_of_the_spec_is_an_async_method():
    assert set(AsyncDirectusClient.operations) == set(DirectusClient.operations)
    for operation in AsyncDirectusClient.operations.values():
        method = getattr(AsyncDirectusClient, operation.name)
        assert inspect.iscoroutinefunction(method), operation.name
        assert "%s %s" % (operation.method, operation.path) in method.__doc__, operation.name


def test_an_operations_multipart_payload_opens_its_files_by_effects_and_closes_them(perform, tmp_path):
    # import_items takes a file: build_request only checks the payload; the call's flow opens the
    # path (LocalFile), sends it, and closes it once the call is over
    import pathlib
    path = tmp_path / "rows.csv"
    path.write_bytes(b"id,name\n1,Ada\n")
    opened = []

    def handler(seen):
        opened.append(form_parts(seen))
        return reply(204, b"", content_type=None)
    with FakeServer(handler) as server:
        perform(server, lambda client: client.import_items("people", {"file": pathlib.Path(str(path))}))
    (parts,) = opened
    assert parts == [("file", "rows.csv", "text/csv", b"id,name\n1,Ada\n")]
    with pytest.raises(TypeError, match="form names"):
        DirectusClient(hostname="http://127.0.0.1:9", static_token="t", proxies={}).import_items("people", {3: b"x"})


def test_an_operations_multipart_file_may_be_an_iterable_of_chunks(perform):
    # (filename, chunks, type): a generator is streamed as the file part, on both clients
    def rows():
        yield b'[{"title": "one"},'
        yield b' {"title": "two"}]'
    sent = []

    def handler(seen):
        sent.append(form_parts(seen))
        return reply(204, b"", content_type=None)
    with FakeServer(handler) as server:
        perform(server, lambda client: client.import_items("people", {"file": ("rows.json", rows(),
                                                                                "application/json")}))
    assert sent == [[("file", "rows.json", "application/json", b'[{"title": "one"}, {"title": "two"}]')]]
    with pytest.raises(TypeError, match="iterable of bytes chunks"):
        DirectusClient(hostname="http://127.0.0.1:9", static_token="t", proxies={}).import_items(
            "people", {"file": ("rows.json", 42)})


def test_asset_url_never_logs_in_on_either_client(perform):
    # one definition for both clients: the token comes from the access token flow when it needs
    # no effect; a password session that has not logged in yet raises, and nothing is sent
    def handler(seen):
        return reply(200, {"data": {"access_token": "A1", "refresh_token": "R1", "expires": 900000}})
    with FakeServer(handler) as server:
        def before_login(client):
            with pytest.raises(DirectusError, match="login"):
                client.asset_url("f", include_token=True)
            return server.requests[:]
        assert perform(server, before_login, static_token=None, username="a@b.c", password="pw") == []

        def after_login(client):
            result = client.login()
            if inspect.isawaitable(result):
                async def then():
                    await result
                    return client.asset_url("f", include_token=True)
                return then()
            return client.asset_url("f", include_token=True)
        assert perform(server, after_login, static_token=None, username="a@b.c", password="pw") == (
            server.url + "/assets/f?access_token=A1")
