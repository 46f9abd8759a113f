"""Files and assets against a real Directus: round trips, transforms, import, replace, metadata, resume,
TUS; each test on both clients (``make_client``, the conformance suite)."""

import hashlib
import http.server
import io
import os
import socket
import struct
import threading
import uuid
import zlib

import pytest

from pydirectus import File
from tests.integration.groups_support import GROUPS_SERVER_SETTINGS
from tests.loopback import LoopbackServer, read_head

# The conformance core: runs against every supported Directus version (tests/conftest.py).
pytestmark = pytest.mark.conformance

CONTENT = os.urandom(3 * 1024 * 1024 + 12345)
SHA = hashlib.sha256(CONTENT).hexdigest()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def make_png(width, height):
    """A valid RGB PNG of a gradient, made with zlib and struct."""
    rows = b"".join(b"\x00" + bytes(v for x in range(width) for v in (x * 4 % 256, y * 4 % 256, 128))
                    for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def png_size(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", data[:16]
    return struct.unpack(">II", data[16:24])


@pytest.fixture
def client(each_client):
    return each_client


@pytest.fixture
def created(client):
    """Ids of files made by a test: deleted afterwards."""
    ids = []
    yield ids
    if ids:
        client.delete_files(list(ids))


def test_round_trips_from_a_path_bytes_a_file_object_and_a_generator(client, created, tmp_path):
    path = tmp_path / "content.bin"
    path.write_bytes(CONTENT)

    def generate():
        for start in range(0, len(CONTENT), 500000):
            yield CONTENT[start:start + 500000]

    with open(str(path), "rb") as handle:
        records = [client.upload_file(str(path)), client.upload_file(CONTENT, filename="bytes.bin"),
                   client.upload_file(handle), client.upload_file(generate(), filename="generated.bin")]
    created.extend(record.id for record in records)
    assert all(isinstance(r, File) and r.filesize == len(CONTENT) for r in records)
    assert [r.filename_download for r in records] == ["content.bin", "bytes.bin", "content.bin", "generated.bin"]
    # down again three ways: into a path, into a file object, as a stream
    written = client.download_file(records[0].id, tmp_path / "down.bin")
    assert sha256(open(written, "rb").read()) == SHA
    buffer = io.BytesIO()
    client.download_file(records[1].id, buffer)
    assert sha256(buffer.getvalue()) == SHA
    for record in records[2:]:
        assert sha256(b"".join(client.iter_file(record.id, chunk_size=256 * 1024))) == SHA


def test_a_png_downloaded_with_width_16_is_16_pixels_wide(client, created, tmp_path):
    record = client.upload_file(make_png(64, 48), filename="gradient.png")
    created.append(record.id)
    assert record.type == "image/png" and (record.width, record.height) == (64, 48)
    written = client.download_file(record.id, tmp_path / "small.png", width=16)
    assert png_size(open(written, "rb").read()) == (16, 12)
    square = b"".join(client.iter_file(record.id, width=16, height=16, fit="cover", format="png", quality=90))
    assert png_size(square) == (16, 16)
    assert png_size(b"".join(client.iter_file(record.id, width=200, without_enlargement=True))) == (64, 48)
    jpeg = b"".join(client.iter_file(record.id, transforms=[["resize", {"width": 8}]], format="jpg"))
    assert jpeg[:2] == b"\xff\xd8"


def test_several_files_in_one_request(client, created):
    records = client.upload_files([{"file": b"first", "filename": "one.txt", "title": "One"},
                                   {"file": b"second!", "filename": "two.txt"},
                                   {"file": b"third!!!", "filename": "three.txt", "description": "3"}],
                                  tags=["batch"])
    created.extend(record.id for record in records)
    assert [r.filename_download for r in records] == ["one.txt", "two.txt", "three.txt"]
    assert [r.filesize for r in records] == [5, 7, 8]
    assert records[0].title == "One" and records[1].title == "Two" and records[2].description == "3"
    assert all(r.tags == ["batch"] for r in records)


def test_metadata_and_folder_are_set(client, created):
    folder = client.request("POST", "/folders", json={"name": "f-" + uuid.uuid4().hex[:8]})
    try:
        record = client.upload_file(b"with metadata", filename="notes.txt", title="My notes",
                                    folder=folder["id"], description="some words", tags=["a", "b"],
                                    metadata={"source": "test"}, storage="local")
        created.append(record.id)
        again = client.read_file(record.id)
        assert again.folder == folder["id"] and again.title == "My notes" and again.storage == "local"
        assert again.description == "some words" and again.tags == ["a", "b"] and again.type == "text/plain"
        assert again.metadata == {"source": "test"}
        assert [f.id for f in client.read_files(filter={"folder": {"_eq": folder["id"]}})] == [record.id]
    finally:
        client.delete_files(list(created))
        del created[:]
        client.request("DELETE", "/folders/" + folder["id"])


def test_replace_keeps_the_id_and_metadata(client, created):
    record = client.upload_file(b"version one", filename="doc.txt", title="Kept title", description="kept",
                                tags=["kept"])
    created.append(record.id)
    replaced = client.replace_file(record.id, b"version two, longer")
    assert replaced.id == record.id
    assert (replaced.title, replaced.description, replaced.tags) == ("Kept title", "kept", ["kept"])
    assert replaced.filename_download == "doc.txt" and replaced.filesize == len(b"version two, longer")
    assert b"".join(client.iter_file(record.id)) == b"version two, longer"
    renamed = client.replace_file(record.id, make_png(4, 4), filename="picture.png", title="New title")
    assert (renamed.id, renamed.filename_download, renamed.type, renamed.title) == (
        record.id, "picture.png", "image/png", "New title")
    assert renamed.description == "kept" and (renamed.width, renamed.height) == (4, 4)


def test_progress_is_reported_both_ways(client, created, tmp_path):
    path = tmp_path / "progress.bin"
    path.write_bytes(CONTENT)
    up, down = [], []
    record = client.upload_file(path, progress=lambda done, total: up.append((done, total)))
    created.append(record.id)
    client.download_file(record.id, tmp_path / "back.bin", progress=lambda done, total: down.append((done, total)))
    for calls in (up, down):
        assert len(calls) > 2 and calls[-1] == (len(CONTENT), len(CONTENT))
        assert all(a[0] < b[0] for a, b in zip(calls, calls[1:]))


class FileHost(http.server.ThreadingHTTPServer):
    """Serves one file on 127.0.0.1 for the server to import."""

    def __init__(self, content, content_type):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args):
                pass
        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.shutdown()
        self.server_close()


def test_import_from_a_url(directus_factory, make_client):
    # Directus refuses to import from its own machine unless its IMPORT_IP_DENY_LIST lets it
    server = directus_factory(IMPORT_IP_DENY_LIST="169.254.169.254")
    png = make_png(32, 8)
    with FileHost(png, "image/png") as host, \
            make_client(hostname=server.url, static_token=server.token) as client:
        url = "http://127.0.0.1:%d/images/imported.png" % host.server_address[1]
        record = client.import_file(url, data={"title": "Imported", "description": "from a URL"})
        try:
            assert isinstance(record, File) and record.filename_download == "imported.png"
            assert (record.title, record.description, record.type, record.filesize) == (
                "Imported", "from a URL", "image/png", len(png))
            assert b"".join(client.iter_file(record.id)) == png
        finally:
            client.delete_file(record.id)


class CuttingProxy(LoopbackServer):
    """A loopback proxy in front of Directus that drops the first asset download after ``cut`` bytes.

    One request per connection (it asks Directus for ``Connection: close``); requests without a
    body only, which is all the download needs.
    """

    def __init__(self, upstream_url, cut):
        host, port = upstream_url.split("//", 1)[1].split(":")
        self.upstream = (host, int(port))
        self.cut = cut
        self.asset_requests = []
        super().__init__()

    def handle(self, conn, number):
        with socket.create_connection(self.upstream) as upstream:
            head = read_head(conn)
            if not head:
                return
            lines = head.split(b"\r\n\r\n")[0].split(b"\r\n")
            kept = [line for line in lines[1:] if not line.lower().startswith(b"connection:")]
            upstream.sendall(b"\r\n".join([lines[0]] + kept + [b"Connection: close", b"", b""]))
            cut = None
            if lines[0].startswith(b"GET /assets/"):
                ranges = [line for line in kept if line.lower().startswith(b"range:")]
                self.asset_requests.append(ranges[0].decode() if ranges else None)
                cut = self.cut if len(self.asset_requests) == 1 else None
            forwarded = 0
            while True:
                data = upstream.recv(65536)
                if not data:
                    return
                if cut is not None and forwarded + len(data) >= cut:
                    conn.sendall(data[:cut - forwarded])
                    return  # dropped midway: the client sees a short body
                conn.sendall(data)
                forwarded += len(data)


def test_a_download_dropped_midway_resumes_to_a_complete_file(client, directus, created, tmp_path, make_client):
    record = client.upload_file(CONTENT, filename="resumable.bin")
    created.append(record.id)
    proxy = CuttingProxy(directus.url, cut=1000000)
    try:
        with make_client(hostname=proxy.url, static_token=directus.token, proxies={}) as through_proxy:
            written = through_proxy.download_file(record.id, tmp_path / "resumed.bin")
    finally:
        proxy.close()
    assert sha256(open(written, "rb").read()) == SHA
    assert len(proxy.asset_requests) == 2 and proxy.asset_requests[0] is None
    resumed_at = int(proxy.asset_requests[1].split("=")[1].rstrip("-"))
    assert 0 < resumed_at < 1000000
    assert os.listdir(str(tmp_path)) == ["resumed.bin"]


def test_asset_url_works_in_a_browser_only_with_the_token_when_asked(client, created):
    from tests.rest import call
    record = client.upload_file(b"private", filename="private.txt")
    created.append(record.id)
    plain = client.asset_url(record.id, download=True)
    assert "access_token" not in plain
    base = client.url
    assert call(base, "GET", plain[len(base):]).status == 403  # the public role cannot read files
    with_token = client.asset_url(record.id, include_token=True)
    answer = call(base, "GET", with_token[len(base):])
    assert answer.status == 200


def test_a_tus_resumable_upload(directus_factory, make_client, tmp_path):
    server = directus_factory(GROUPS_SERVER_SETTINGS)  # TUS_ENABLED; shared with the groups tests
    path = tmp_path / "tus.bin"
    path.write_bytes(CONTENT[:300000])
    progress = []
    with make_client(hostname=server.url, static_token=server.token) as client:
        options = client.read_tus_options()
        assert options["version"] == "1.0.0" and "creation" in options["extensions"]
        record = client.upload_file_resumable(str(path), chunk_size=64 * 1024, metadata={"title": "Resumed"},
                                              progress=lambda done, total: progress.append((done, total)))
        try:
            assert isinstance(record, File) and (record.filename_download, record.title, record.filesize) == (
                "tus.bin", "Resumed", 300000)
            assert sha256(b"".join(client.iter_file(record.id))) == hashlib.sha256(CONTENT[:300000]).hexdigest()
        finally:
            client.delete_file(record.id)
        assert progress == [(min(n, 300000), 300000) for n in range(65536, 300000 + 65536, 65536)]
        upload_id = client.create_tus_upload(10, filename="steps.txt", mime_type="text/plain")
        assert client.upload_tus_chunk(upload_id, 0, b"hello") == 5
        assert client.read_tus_upload_offset(upload_id) == (5, 10)
        client.delete_tus_upload(upload_id)
