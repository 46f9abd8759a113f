"""Files and assets against scripted loopback servers: uploads, retries, resumed downloads, names, URLs."""

import email.parser
import email.policy
import hashlib
import io
import os
import socket
import subprocess
import sys

import pytest

from pydirectus import DirectusClient, File, ForbiddenError, RateLimitedError, TransportError
from pydirectus._core.auth import Credentials
from pydirectus._core.effects import Send
import pydirectus._core.files as files_module
from pydirectus._core.files import FileFlows, disposition_filename, safe_filename
from pydirectus._core.helpers import helpers_of
from pydirectus._core.records import Request, Response
from pydirectus._core.multipart import FilePart, MultipartEncoder
from pydirectus._core.policy import RequestPolicy
from pydirectus._core.retry import RetryPolicy
from tests.fakeserver import FakeServer, reply

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONTENT = bytes(range(256)) * 4096  # 1 MiB


def client_for(server, **kwargs):
    kwargs.setdefault("static_token", "tok")
    kwargs.setdefault("proxies", {})
    kwargs.setdefault("sleep", lambda seconds: None)
    return DirectusClient(hostname=server.url, **kwargs)


def form_parts(seen):
    """[(name, filename, content type, bytes)] of a multipart request the fake server received."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + seen.headers["content-type"].encode() + b"\r\n\r\n" + seen.body)
    if not message.is_multipart() or message.defects:
        raise ValueError("not a whole multipart body: %r" % (message.defects,))
    return [(part.get_param("name", header="content-disposition"), part.get_filename(),
             part.get_content_type(), part.get_payload(decode=True)) for part in message.iter_parts()]


def record_for(parts):
    """What Directus would answer for the files of a form: one record per file, fields before it."""
    records, fields = [], {}
    for name, filename, content_type, payload in parts:
        if filename is None:
            fields[name] = payload.decode()
            continue
        record = {"id": "id-%d" % len(records), "filename_download": fields.pop("filename_download", filename),
                  "type": content_type, "filesize": len(payload),
                  "sha256": hashlib.sha256(payload).hexdigest()}
        record.update(fields)
        records.append(record)
        fields = {}
    return records


def upload_server(reverse=False):
    def handler(seen):
        try:
            records = record_for(form_parts(seen))
        except ValueError:  # an upload cut short by the client: no answer
            return None
        if reverse:
            records.reverse()
        return reply(200, {"data": records[0] if len(records) == 1 else records})
    return FakeServer(handler)


# ------------------------------------------------------------------------------------------ uploads

def test_upload_from_bytes_with_metadata_fields_first(tmp_path):
    with upload_server() as server, client_for(server) as client:
        record = client.upload_file(CONTENT, filename="data.bin", title="Data", folder="f-1", storage="local",
                                    tags=["a", "b"], metadata={"k": 1}, description="d")
    assert isinstance(record, File) and record.filesize == len(CONTENT) and record.title == "Data"
    seen = server.requests[0]
    assert seen.method == "POST" and seen.target == "/files" and seen.headers["authorization"] == "Bearer tok"
    assert seen.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert int(seen.headers["content-length"]) == len(seen.body) and "transfer-encoding" not in seen.headers
    parts = form_parts(seen)
    assert [p[0] for p in parts][-1] == "file" and [p[1] for p in parts][:-1] == [None] * 6
    fields = {name: value for name, _, _, value in parts[:-1]}
    assert fields == {"title": b"Data", "folder": b"f-1", "storage": b"local", "tags": b'["a","b"]',
                      "metadata": b'{"k":1}', "description": b"d"}
    assert parts[-1] == ("file", "data.bin", "application/octet-stream", CONTENT)


def test_upload_from_a_path_guesses_name_and_type(tmp_path):
    path = tmp_path / "report.csv"
    path.write_bytes(b"a,b\n1,2\n")
    gz = tmp_path / "archive.tar.gz"
    gz.write_bytes(b"\x1f\x8b")
    with upload_server() as server, client_for(server) as client:
        client.upload_file(str(path))
        client.upload_file(gz)  # a PathLike
    assert form_parts(server.requests[0]) == [("file", "report.csv", "text/csv", b"a,b\n1,2\n")]
    assert form_parts(server.requests[1])[0][1:3] == ("archive.tar.gz", "application/gzip")


def test_upload_from_a_file_object_reads_from_where_it_stands(tmp_path):
    handle = io.BytesIO(b"skip-me|" + CONTENT)
    handle.seek(8)
    with upload_server() as server, client_for(server) as client:
        record = client.upload_file(handle, filename="x.bin", mime_type="application/x-custom")
    assert record.filesize == len(CONTENT)
    assert form_parts(server.requests[0]) == [("file", "x.bin", "application/x-custom", CONTENT)]
    path = tmp_path / "photo.png"
    path.write_bytes(b"\x89PNG")
    with upload_server() as server, client_for(server) as client, open(str(path), "rb") as opened:
        client.upload_file(opened)
        assert not opened.closed  # the caller's file stays the caller's
    assert form_parts(server.requests[0])[0][1:3] == ("photo.png", "image/png")


def test_upload_from_a_generator_is_chunked():
    def generate():
        for index in range(8):
            yield CONTENT[index * 131072:(index + 1) * 131072]
    progress = []
    with upload_server() as server, client_for(server) as client:
        record = client.upload_file(generate(), filename="stream.bin",
                                    progress=lambda done, total: progress.append((done, total)))
    seen = server.requests[0]
    assert seen.headers.get("transfer-encoding") == "chunked" and "content-length" not in seen.headers
    assert record.sha256 == hashlib.sha256(CONTENT).hexdigest()
    assert progress[-1] == (len(CONTENT), None) and len(progress) == 8


def test_upload_progress_reports_total(tmp_path):
    path = tmp_path / "big.bin"
    path.write_bytes(CONTENT * 3)
    progress = []
    with upload_server() as server, client_for(server) as client:
        client.upload_file(path, progress=lambda done, total: progress.append((done, total)))
    step = files_module._READ_SIZE
    assert progress == [(n * step, 3 * 1024 * 1024) for n in range(1, 3 * 1024 * 1024 // step + 1)]


def test_several_files_in_one_request_come_back_in_the_order_given(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes(b"ccc")
    with upload_server(reverse=True) as server, client_for(server) as client:
        records = client.upload_files([b"a", {"file": b"bb", "filename": "b.txt", "title": "B"}, str(path)],
                                      folder="shared")
    assert len(server.requests) == 1
    assert [r.filename_download for r in records] == ["file", "b.txt", "c.txt"]
    assert [r.folder for r in records] == ["shared"] * 3 and records[1].title == "B"
    names = [p[0] for p in form_parts(server.requests[0])]
    assert names == ["folder", "file", "folder", "title", "file", "folder", "file"]


def test_bad_input_raises_before_anything_is_sent(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("x")
    with upload_server() as server, client_for(server) as client:
        with pytest.raises(TypeError):
            client.upload_file(12)
        with pytest.raises(TypeError):
            client.upload_file({"file": b""})
        with open(str(text)) as opened, pytest.raises(TypeError, match="binary mode"):
            client.upload_file(opened)
        with pytest.raises(FileNotFoundError):
            client.upload_file(str(tmp_path / "missing.bin"))
        with pytest.raises(TypeError, match="mime_type"):
            client.upload_file(b"x", type="text/plain")
        with pytest.raises(TypeError):
            client.upload_file(b"x", filename=3)
        with pytest.raises(ValueError, match="CR, LF"):
            client.upload_file(b"x", filename="a\r\nb")
        with pytest.raises(TypeError, match="field 'weird'"):
            client.upload_file(b"x", weird=object())
        with pytest.raises(TypeError):
            client.upload_file(b"x", progress=5)
        with pytest.raises(TypeError):
            client.upload_file(["text chunk"])
        with pytest.raises(TypeError):
            client.upload_files(b"x")
        with pytest.raises(ValueError):
            client.upload_files([])
        with pytest.raises(TypeError, match="per file"):
            client.upload_files([b"x"], filename="a")
        with pytest.raises(TypeError, match="'file'"):
            client.upload_files([{"title": "no file"}])
        with pytest.raises(ValueError):
            client.replace_file("", b"x")
    assert server.requests == []


def test_an_error_raised_by_the_callers_generator_comes_out_as_it_is():
    def generate():
        yield b"x" * 100000
        raise OSError("the disk is on fire")
    with upload_server() as server, client_for(server) as client:
        with pytest.raises(OSError, match="disk is on fire") as caught:
            client.upload_file(generate(), filename="g")
    assert not isinstance(caught.value, TransportError)


class FailingFile(io.BytesIO):
    """A file whose second read fails, as a disk can."""

    reads = 0

    def read(self, size=-1):
        self.reads += 1
        if self.reads == 2:
            raise OSError(5, "Input/output error")
        return super().read(size)


def test_a_read_error_is_the_disks_not_the_connections_and_the_connection_closes_at_once():
    with upload_server() as server, client_for(server) as client:
        with pytest.raises(OSError, match="Input/output error") as caught:
            client.upload_file(FailingFile(CONTENT * 3), filename="f")
        assert not isinstance(caught.value, TransportError)
        # the half-sent connection is closed at once (the server stops waiting for the rest), even
        # while the caller still holds the exception, and the upload is not sent again
        assert wait_for(lambda: len(server.requests) == 1)
        assert len(server.requests[0].body) < len(CONTENT) * 3 and server.connections == 1


def wait_for(condition, timeout=5.0):
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_raising_in_progress_cancels_the_upload():
    class Cancel(Exception):
        pass

    def progress(done, total):
        raise Cancel()
    with upload_server() as server, client_for(server) as client:
        with pytest.raises(Cancel):
            client.upload_file(CONTENT * 4, filename="c", progress=progress)


def test_a_file_that_shrinks_while_it_is_sent_raises(tmp_path):
    path = tmp_path / "log.txt"
    path.write_bytes(b"x" * 1000)
    handle = open(str(path), "rb")
    try:
        with upload_server() as server, client_for(server) as client:
            original = handle.read

            def shrinking_read(size=-1):
                return original(size)[:10]
            handle.read = shrinking_read
            with pytest.raises(ValueError, match="ended after"):
                client.upload_file(handle, filename="log.txt")
    finally:
        handle.close()


def rate_limited_once():
    state = {"answers": 0}

    def handler(seen):
        state["answers"] += 1
        if state["answers"] == 1:
            return reply(429, {"errors": [{"message": "Too many", "extensions": {"code": "REQUESTS_EXCEEDED"}}]},
                         headers={"Retry-After": "0"})
        return reply(200, {"data": record_for(form_parts(seen))[0]})
    return FakeServer(handler)


def test_a_replayable_upload_is_rewound_and_sent_again(tmp_path):
    path = tmp_path / "again.bin"
    path.write_bytes(CONTENT)
    with rate_limited_once() as server, client_for(server) as client:
        record = client.upload_file(path)
    assert len(server.requests) == 2 and server.requests[0].body == server.requests[1].body
    assert record.sha256 == hashlib.sha256(CONTENT).hexdigest()


def test_a_one_shot_upload_is_not_sent_again():
    with rate_limited_once() as server, client_for(server) as client:
        with pytest.raises(RateLimitedError):
            client.upload_file(iter([b"once"]), filename="g")
    assert len(server.requests) == 1


def read_head(reader):
    """The headers (names in lower case) of the request at ``reader``, its request line dropped."""
    reader.readline()
    headers = {}
    while True:
        line = reader.readline().decode()
        if line in ("\r\n", ""):
            return headers
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()


class ResetFirstConnection(FakeServer):
    """Resets the first connection after reading a little of the request (a failure while sending);
    answers the next ones after reading the whole upload."""

    def __init__(self):
        self.bodies = []
        super().__init__(handler=None)

    def handle(self, conn, number):
        with conn:
            if number == 1:
                conn.recv(1000)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                return  # closed with SO_LINGER 0: RST, the client's send fails
            with conn.makefile("rb") as reader:
                body = reader.read(int(read_head(reader)["content-length"]))
            self.bodies.append(body)
            conn.sendall(reply(200, {"data": {"id": "x", "filesize": len(body)}}, headers={"Connection": "close"}))


def test_a_failure_while_sending_rewinds_a_path_and_refuses_a_generator(tmp_path):
    path = tmp_path / "big.bin"
    path.write_bytes(CONTENT * 8)
    server = ResetFirstConnection()
    try:
        with client_for(server) as client:
            record = client.upload_file(path)
        assert record.id == "x" and len(server.bodies) == 1 and CONTENT * 8 in server.bodies[0]
    finally:
        server.close()
    server = ResetFirstConnection()
    try:
        with client_for(server) as client:
            with pytest.raises(TransportError, match="not sent again") as caught:
                client.upload_file((CONTENT for _ in range(8)), filename="g")
        assert not caught.value.may_have_been_processed and server.bodies == []
    finally:
        server.close()


class Body:
    """A request body with the rewind protocol, for driving the policy flow by hand."""

    def __init__(self, can_rewind):
        self.can_rewind = can_rewind
        self.rewinds = 0

    def rewind(self):
        self.rewinds += 1
        return self.can_rewind


def drive(session, request, outcomes):
    """Run the request flow with the sync runner, its transport answering from ``outcomes``; the
    requests sent and the result."""
    import logging
    from pydirectus._sync.runner import Runner
    from tests.mocktransport import MockTransport
    sent = []

    def answer(sent_request):
        sent.append(sent_request)
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome
    runner = Runner(MockTransport(answer), logging.getLogger("pydirectus.test"), lambda seconds: None)
    return sent, runner.run(session.request_flow(request))


def test_the_policy_rewinds_a_body_before_a_retry_and_stops_when_it_cannot():
    session = RequestPolicy("http://h", Credentials(static_token="t"), {}, RetryPolicy(3, random=lambda: 0.0),
                      lambda: 0.0)
    lost = TransportError("reset while sending", method="POST", url="http://h/files")
    ok = Response(200, {}, b"{}")
    body = Body(can_rewind=True)
    sent, result = drive(session, Request("POST", "http://h/files", {}, body), [lost, ok])
    assert result is ok and len(sent) == 2 and body.rewinds == 1
    body = Body(can_rewind=False)
    with pytest.raises(TransportError, match="not sent again"):
        drive(session, Request("POST", "http://h/files", {}, body), [lost, ok])
    sent, result = drive(session, Request("POST", "http://h/files", {}, b"bytes"), [lost, ok])
    assert result is ok and len(sent) == 2
    # an object without rewind() is never sent twice
    with pytest.raises(TransportError, match="not sent again"):
        drive(session, Request("POST", "http://h/files", {}, iter([b"x"])), [lost, ok])


# ------------------------------------------------------------------------------------------ downloads

class AssetServer:
    """Serves CONTENT at /assets/<id>, honouring Range; ``cuts`` lists how many body bytes each answer
    sends before the connection drops (None: all of it); ``ignore_range`` answers 200 to a Range."""

    def __init__(self, content=CONTENT, cuts=(), ignore_range=False, lie_length=False, etags=None,
                 disposition='inline; filename="picture.png"'):
        self.content = content
        self.cuts = list(cuts)
        self.ignore_range = ignore_range
        self.lie_length = lie_length
        self.etags = list(etags or [])
        self.disposition = disposition
        self.server = FakeServer(self.handle)
        self.url = self.server.url
        self.requests = self.server.requests

    def handle(self, seen):
        content = self.content
        status, start = 200, 0
        headers = {"Accept-Ranges": "bytes", "ETag": self.etags.pop(0) if self.etags else '"1"',
                   "Last-Modified": "Mon, 30 Nov 2026 06:00:00 GMT"}
        if self.disposition:
            headers["Content-Disposition"] = self.disposition
        range_header = seen.headers.get("range")
        if range_header and not self.ignore_range:
            start = int(range_header.split("=")[1].rstrip("-"))
            status = 206
            headers["Content-Range"] = "bytes %d-%d/%d" % (start, len(content) - 1, len(content))
        body = content[start:]
        cut = self.cuts.pop(0) if self.cuts else None
        head = reply(status, b"", headers=headers, content_type="image/png",
                     length=len(body)).split(b"\r\n\r\n")[0] + b"\r\n\r\n"
        if cut is None:
            return head + body

        def dropping(conn):
            conn.sendall(head + body[:cut])
        return dropping

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.server.close()


def test_download_to_a_path_writes_through_a_temporary_file(tmp_path):
    dest = tmp_path / "out.png"
    progress = []
    with AssetServer() as server, client_for(server) as client:
        written = client.download_file("f1", dest, progress=lambda done, total: progress.append((done, total)))
    assert written == str(dest) and dest.read_bytes() == CONTENT and os.listdir(str(tmp_path)) == ["out.png"]
    assert progress[-1] == (len(CONTENT), len(CONTENT))
    assert all(a[0] < b[0] for a, b in zip(progress, progress[1:]))
    seen = server.requests[0]
    assert seen.target == "/assets/f1" and seen.headers["authorization"] == "Bearer tok"


def test_a_dropped_download_resumes_with_a_range_request(tmp_path):
    dest = tmp_path / "out.png"
    progress = []
    with AssetServer(cuts=[300000, 200000]) as server, client_for(server) as client:
        client.download_file("f1", dest, progress=lambda done, total: progress.append(done))
    assert dest.read_bytes() == CONTENT
    assert [seen.headers.get("range") for seen in server.requests] == [None, "bytes=300000-", "bytes=500000-"]
    assert progress == sorted(progress) and progress[-1] == len(CONTENT)


def test_a_short_body_counts_as_a_drop_and_resumes():
    with AssetServer(cuts=[1000]) as server, client_for(server) as client:
        chunks = list(client.iter_file("f1", chunk_size=4096))
    assert b"".join(chunks) == CONTENT and max(len(c) for c in chunks) <= 4096
    assert len(server.requests) == 2


def test_a_server_that_ignores_range_is_skipped_past():
    # Directus answers a Range on a transformed image with the whole image (200)
    with AssetServer(cuts=[70000], ignore_range=True) as server, client_for(server) as client:
        content = b"".join(client.iter_file("f1", width=16))
    assert content == CONTENT and len(server.requests) == 2


def test_a_file_that_changed_on_the_server_is_not_spliced(tmp_path):
    dest = tmp_path / "out.png"
    with AssetServer(cuts=[1000], etags=['"1"', '"2"']) as server, client_for(server) as client:
        with pytest.raises(TransportError, match="changed on the server"):
            client.download_file("f1", dest)
    assert os.listdir(str(tmp_path)) == []  # no file, no temporary left behind


def test_drops_without_progress_give_up_after_the_retries(tmp_path):
    dest = tmp_path / "out.png"
    with AssetServer(cuts=[10, 0, 0, 0]) as server, client_for(server, retries=2) as client:
        with pytest.raises(TransportError, match="cut short"):
            client.download_file("f1", dest)
    assert len(server.requests) == 4 and os.listdir(str(tmp_path)) == []


def test_an_existing_file_is_kept_unless_overwrite(tmp_path):
    dest = tmp_path / "out.png"
    dest.write_bytes(b"mine")
    with AssetServer() as server, client_for(server) as client:
        with pytest.raises(FileExistsError, match="overwrite=True"):
            client.download_file("f1", dest)
        assert server.requests == [] and dest.read_bytes() == b"mine"
        client.download_file("f1", dest, overwrite=True)
    assert dest.read_bytes() == CONTENT and os.listdir(str(tmp_path)) == ["out.png"]


def test_into_a_folder_under_the_servers_name_reduced_to_a_safe_base_name(tmp_path):
    evil = "attachment; filename=\"../../etc/passwd\"; filename*=UTF-8''..%2F..%2F%E2%82%AC%20report.pdf"
    with AssetServer(disposition=evil) as server, client_for(server) as client:
        written = client.download_file("f1", str(tmp_path) + os.sep)
        assert written == str(tmp_path / "€ report.pdf")
        with pytest.raises(FileExistsError):
            client.download_file("f1", tmp_path)
    with AssetServer(disposition=None) as server, client_for(server) as client:
        assert client.download_file("f-2", tmp_path) == str(tmp_path / "f-2")  # no name given: the id
    assert sorted(os.listdir(str(tmp_path))) == ["f-2", "€ report.pdf"]


def test_download_into_a_binary_file_object_and_bad_destinations(tmp_path):
    buffer = io.BytesIO()
    with AssetServer(cuts=[5000]) as server, client_for(server) as client:
        assert client.download_file("f1", buffer) is None
        assert buffer.getvalue() == CONTENT
        with pytest.raises(TypeError, match="binary"):
            client.download_file("f1", io.StringIO())
        with pytest.raises(TypeError):
            client.download_file("f1", 42)
        with pytest.raises(FileNotFoundError):
            client.download_file("f1", str(tmp_path / "no" / "such" / "folder") + os.sep)
        with pytest.raises(FileNotFoundError):
            client.download_file("f1", tmp_path / "missing-folder" / "x.png")
        with pytest.raises(TypeError):
            client.download_file("f1", tmp_path / "x", overwrite="yes")
        with pytest.raises(TypeError):
            client.iter_file("f1", chunk_size=0)
        assert len(server.requests) == 2


def test_an_error_answer_raises_its_api_error(tmp_path):
    forbidden = {"errors": [{"message": "You don't have permission", "extensions": {"code": "FORBIDDEN"}}]}
    with FakeServer(lambda seen: reply(403, forbidden)) as server, client_for(server) as client:
        with pytest.raises(ForbiddenError):
            client.download_file("missing", tmp_path / "x")
        with pytest.raises(ForbiddenError):
            next(client.iter_file("missing"))
    assert os.listdir(str(tmp_path)) == []


def test_closing_the_stream_early_releases_the_connection():
    with AssetServer() as server, client_for(server) as client:
        chunks = client.iter_file("f1", chunk_size=1000)
        assert len(next(chunks)) == 1000
        chunks.close()
        assert b"".join(client.iter_file("f1")) == CONTENT
    assert len(server.requests) == 2


# ------------------------------------------------------------------------------------------ transforms and URLs

def test_transforms_are_checked_and_encoded():
    with AssetServer() as server, client_for(server) as client:
        b"".join(client.iter_file("f1", width=16, height=9, fit="cover", quality=80, format="webp",
                                  without_enlargement=True, transforms=[["blur", 10]], key="thumb",
                                  focal_point_x=3, focal_point_y=4, download=True))
        b"".join(client.iter_file("f1", without_enlargement=False, download=False))
    first, second = (seen.target for seen in server.requests)
    assert first == ("/assets/f1?key=thumb&width=16&height=9&fit=cover&quality=80&format=webp"
                     "&withoutEnlargement=true&download=true&focal_point_x=3&focal_point_y=4"
                     "&transforms=%5B%5B%22blur%22,10%5D%5D")
    assert second == "/assets/f1"  # Directus reads "false" as yes for these two: left out


@pytest.mark.parametrize("transform, error", [
    ({"width": 0}, ValueError), ({"width": "16"}, TypeError), ({"width": True}, TypeError),
    ({"quality": 101}, ValueError), ({"fit": "stretch"}, ValueError), ({"format": "bmp"}, ValueError),
    ({"download": "yes"}, TypeError), ({"transforms": ["blur"]}, TypeError), ({"key": ""}, TypeError),
    ({"withoutEnlargement": True}, TypeError), ({"focal_point_x": -1}, TypeError),
])
def test_bad_transforms_raise_before_anything_is_sent(transform, error):
    client = DirectusClient(hostname="http://127.0.0.1:9", static_token="t", proxies={})
    with pytest.raises(error):
        client.asset_url("f1", **transform)
    with pytest.raises(error):
        client.iter_file("f1", **transform)
    with pytest.raises(error):
        client.download_file("f1", io.BytesIO(), **transform)


def test_asset_url_has_no_token_unless_asked():
    client = DirectusClient(hostname="https://example.com/directus", static_token="s3cret/+", proxies={})
    assert client.asset_url("a b") == "https://example.com/directus/assets/a%20b"
    assert client.asset_url("f", width=64) == "https://example.com/directus/assets/f?width=64"
    assert "s3cret" not in client.asset_url("f", download=True)
    assert client.asset_url("f", include_token=True) == (
        "https://example.com/directus/assets/f?access_token=s3cret%2F%2B")
    assert client.asset_url("f", width=1, include_token=True).endswith("?width=1&access_token=s3cret%2F%2B")
    public = DirectusClient(hostname="https://example.com", proxies={})
    assert public.asset_url("f", include_token=True) == "https://example.com/assets/f"
    with pytest.raises(TypeError):
        client.asset_url("f", include_token="yes")
    with pytest.raises(ValueError):
        client.asset_url("..")


@pytest.mark.parametrize("name, safe", [
    ("report.pdf", "report.pdf"), ("../../etc/passwd", "passwd"), ("..\\..\\boot.ini", "boot.ini"),
    (".bashrc", "bashrc"), ("..", "fallback"), ("", "fallback"), (None, "fallback"), ("a\x00b\nc.txt", "abc.txt"),
    ('what?<>:"|*.txt', "what_______.txt"), ("CON.txt", "_CON.txt"), ("  spaced  ", "spaced"),
    ("x" * 300 + ".jpeg", "x" * 250 + ".jpeg"), ("é" * 200, "é" * 127),
])
def test_safe_filename(name, safe):
    assert safe_filename(name, fallback="fallback") == safe


@pytest.mark.parametrize("header, name", [
    ('inline; filename="a.txt"', "a.txt"), ("attachment; filename=plain.bin", "plain.bin"),
    ('attachment; filename="quo\\"ted.txt"', 'quo"ted.txt'),
    ("attachment; filename=\"fallback.txt\"; filename*=UTF-8''%E2%82%AC.txt", "€.txt"),
    ("attachment; filename*=iso-8859-1'en'%E9t%E9.txt", "été.txt"), ("inline", None), (None, None),
])
def test_disposition_filename(header, name):
    assert disposition_filename(header) == name


# ------------------------------------------------------------------------------------------ the package

def test_file_methods_are_the_helpers_and_no_operation_shadows_them():
    names = [name for name in dir(FileFlows) if not name.startswith("_")]
    assert {"upload_file", "upload_files", "replace_file", "download_file", "iter_file", "asset_url"} <= set(names)
    helpers = helpers_of(DirectusClient)
    for name in names:
        method = getattr(DirectusClient, name)
        if name == "asset_url":  # a plain method: it performs nothing
            assert method is FileFlows.asset_url
        else:
            assert helpers[name][1] is vars(FileFlows)[name] and method.helper_function is vars(FileFlows)[name], name


def test_import_stays_cheap():
    code = ("import sys; sys.path.insert(0, %r); import pydirectus; "
            "print(sorted(m for m in ('mimetypes', 'tempfile', 'hashlib', 'socket', 'ssl', 'http.client', "
            "'shutil', 'email', 'pydirectus._sync.transport') if m in sys.modules))" % ROOT)
    result = subprocess.run([sys.executable, "-I", "-S", "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True)
    assert result.stdout.strip() == "[]", result.stdout


def test_upload_body_is_streamed_not_buffered(tmp_path):
    # a 64 MiB file goes through the encoder in small reads; nothing holds more than a chunk
    path = tmp_path / "big.bin"
    with open(str(path), "wb") as handle:
        handle.truncate(64 * 1024 * 1024)
    from pydirectus._core.files import _open_source_flow
    source, name = perform_locally(_open_source_flow(str(path)))
    try:
        encoder = MultipartEncoder([FilePart("file", name, "application/octet-stream", source)])
        sizes = [memoryview(chunk).nbytes for chunk in encoder]
        # the last read goes out with the end of its part (see MultipartEncoder._body): a few bytes more
        assert files_module._READ_SIZE <= max(sizes) <= files_module._READ_SIZE + 100
        assert sum(sizes) == encoder.length
    finally:
        source.close()


def perform_locally(flow, send=None):
    """Run ``flow`` with nothing but a loop: ``LocalFile`` effects by ``_sync/localfiles.py``,
    ``Send`` by ``send`` (a function of the Request); any other effect fails the test."""
    from pydirectus._core.effects import LocalFile
    from pydirectus._sync import localfiles
    value, error = None, None
    while True:
        try:
            effect = flow.throw(error) if error is not None else flow.send(value)
        except StopIteration as stop:
            return stop.value
        value = error = None
        try:
            if type(effect) is LocalFile:
                value = getattr(localfiles, effect.operation)(*effect.args)
            elif type(effect) is Send and send is not None:
                value = send(effect.request)
            else:
                raise AssertionError("unexpected effect %r" % (effect,))
        except Exception as exc:
            error = exc


def test_a_files_flow_runs_to_its_end_with_a_pure_effect_performer(tmp_path, monkeypatch):
    # the flow of upload_file, driven by a loop that answers Send with a canned Response and
    # LocalFile with localfiles: no runner, no transport, and the flow itself opens no file
    import builtins
    from pydirectus._core import files as core_files
    path = tmp_path / "notes.txt"
    path.write_bytes(b"hello")
    client = DirectusClient(hostname="http://127.0.0.1:9", static_token="t", proxies={})
    kind, upload_file = helpers_of(DirectusClient)["upload_file"]
    assert kind == "run"
    sent, opened = [], []
    real_open = builtins.open

    def watching_open(*args, **kwargs):
        opened.append((sys._getframe(1).f_globals.get("__name__"), args[0]))
        return real_open(*args, **kwargs)
    monkeypatch.setattr(builtins, "open", watching_open)

    def send(request):
        body = b"".join(bytes(chunk) for chunk in request.body)
        sent.append((request, body))
        assert int(request.headers["Content-Length"]) == len(body)
        return Response(200, {"Content-Type": "application/json"},
                        b'{"data": {"id": "f1", "filename_download": "notes.txt", "type": "text/plain"}}')
    record = perform_locally(upload_file(client, str(path), title="Notes"), send)
    assert record.id == "f1" and record.filename_download == "notes.txt"
    (request, body), = sent
    assert request.method == "POST" and request.url.endswith("/files")
    assert b'name="title"\r\n\r\nNotes' in body and body.count(b"hello") == 1
    assert b"Content-Type: text/plain" in body
    assert opened == [("pydirectus._sync.localfiles", str(path))]  # the room opened it, not the flow
    assert "open(" not in open(core_files.__file__.replace(".pyc", ".py"), encoding="utf-8").read()


# ------------------------------------------------------------------------------------------ fakes for both clients
# (AssetServer, upload_server and these serve tests/unit/test_async_files.py too)

class DiscardingUploadServer(FakeServer):
    """Reads an upload (sized or chunked) without keeping it: counts its bytes and hashes them, so
    that the memory a test measures is the client's alone. Answers one record."""

    def __init__(self):
        self.received = []  # (bytes of the body, sha256 of the body)
        super().__init__(handler=None)

    def handle(self, conn, number):
        with conn, conn.makefile("rb") as reader:
            headers = read_head(reader)
            digest, size = hashlib.sha256(), 0
            remaining = int(headers.get("content-length", -1))
            while remaining:
                if remaining < 0:  # chunked
                    length = int(reader.readline().split(b";")[0], 16)
                    block = reader.read(length)
                    reader.readline()
                else:
                    block = reader.read(min(remaining, 65536))
                    remaining -= len(block)
                if not block:
                    break
                digest.update(block)
                size += len(block)
            self.received.append((size, digest.hexdigest()))
            conn.sendall(reply(200, {"data": {"id": "discarded", "filesize": size}}, headers={"Connection": "close"}))


class TusServer:
    """A TUS 1.0 server for one upload at a time, as Directus answers: ``lose`` lists the chunk
    numbers (from 0) whose answer is lost after the server took the chunk."""

    def __init__(self, lose=()):
        self.lose = set(lose)
        self.length = None
        self.content = b""
        self.metadata = None
        self.chunks = 0
        self.server = FakeServer(self.handle)
        self.url = self.server.url
        self.requests = self.server.requests

    def handle(self, seen):
        if seen.method == "POST" and seen.target == "/files/tus":
            self.length = int(seen.headers["upload-length"])
            self.metadata = seen.headers.get("upload-metadata")
            return reply(201, b"", headers={"Location": self.url + "/files/tus/up-1"}, content_type=None)
        if seen.method == "HEAD":
            return reply(200, b"", headers={"Upload-Offset": str(len(self.content)),
                                            "Upload-Length": str(self.length)}, content_type=None)
        if seen.method == "PATCH":
            if int(seen.headers["upload-offset"]) != len(self.content):
                return reply(409, {"errors": [{"message": "wrong offset", "extensions": {"code": "INVALID"}}]})
            self.content += seen.body
            number, self.chunks = self.chunks, self.chunks + 1
            if number in self.lose:
                return None
            headers = {"Upload-Offset": str(len(self.content))}
            if len(self.content) == self.length:
                headers["Directus-File-Id"] = "file-1"
            return reply(204, b"", headers=headers, content_type=None)
        if seen.method == "GET" and seen.target.startswith("/files/file-1"):
            return reply(200, {"data": {"id": "file-1", "filesize": len(self.content),
                                        "sha256": hashlib.sha256(self.content).hexdigest()}})
        return reply(404, {"errors": [{"message": "no", "extensions": {"code": "FORBIDDEN"}}]})

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.server.close()


@pytest.mark.parametrize("value, number", [
    ("0", 0), ("12", 12), (" 42 ", 42), (None, None), ("", None), ("-1", None), ("+3", None), ("1.5", None),
    ("abc", None), ("\u00b2", None), ("\u0661\u0662", None),
])
def test_header_int_is_a_whole_number_or_none_and_never_raises(value, number):
    # one parser for files (Content-Length) and TUS (Upload-Offset, Upload-Length, Tus-Max-Size):
    # absent or malformed is None, and the caller says what that means
    from pydirectus._core.records import header_int
    headers = {} if value is None else {"Upload-Offset": value}
    assert header_int(headers, "Upload-Offset") == number


def test_a_tus_answer_without_an_offset_is_an_error():
    from pydirectus import DirectusError

    def handler(seen):
        return reply(204, b"", headers={"Tus-Resumable": "1.0.0"}, content_type=None)
    with FakeServer(handler) as server, client_for(server) as client:
        with pytest.raises(DirectusError, match="Upload-Offset"):
            client.upload_tus_chunk("up-1", 0, b"abc")
