"""Round trips through settings, extensions, deployments, license, metrics, MCP, the server's
specs, assets and ZIP downloads, and TUS resumable uploads."""

import hashlib
import io
import json
import uuid
import zipfile

import pytest

import pydirectus
from pydirectus import DirectusClient, File, ItemList
from pydirectus.errors import TransportError
from pydirectus._sync.transport import HTTPTransport
from tests.conftest import COLLECTION_FIELDS, remove_collection
from tests.integration.groups_support import (  # noqa: F401  (fixtures)
    groups_client, groups_server, png_bytes, png_size, upload)
from tests.rest import call


def test_settings_round_trip(groups_client, groups_server):
    before = groups_client.read_settings(fields=["project_name", "project_color"]).to_dict()
    try:
        updated = groups_client.update_settings({"project_name": "pydirectus tests", "project_color": "#123456"})
        assert (updated["project_name"], updated["project_color"]) == ("pydirectus tests", "#123456")
        assert call(groups_server.url, "GET", "/settings", token=groups_server.token).body["data"]["project_name"] \
            == "pydirectus tests"
        assert groups_client.server_info()["project"]["project_name"] == "pydirectus tests"
    finally:
        groups_client.update_settings(before)
    assert groups_client.read_settings(fields=["project_name", "project_color"]).to_dict() == before


def test_extensions_deployments_and_license(client):
    extensions = client.read_extensions()
    assert isinstance(extensions, ItemList) and extensions == []  # a test server installs none
    assert client.read_deployments() == []  # no Vercel or Netlify configured
    core = client.read_license()
    assert core["name"] == "Core" and core["status"] == "active"
    assert core["entitlements"]["seats"]["limit"] == 3 and core["entitlements"]["flows"]["limit"] == 5
    assert core["usage"]["collections"] == len([c for c in client.read_collections()
                                                   if not c["collection"].startswith("directus_")
                                                   and c["schema"] is not None])


def test_metrics(groups_client, groups_server):
    text = groups_client.read_metrics().decode("utf-8")
    assert "# TYPE directus_db_sqlite3_response_time_ms histogram" in text
    with DirectusClient(hostname=groups_server.url) as anonymous:
        with pytest.raises(pydirectus.ForbiddenError):
            anonymous.read_metrics()


def test_mcp_initialize_list_and_call_a_tool(groups_client, groups_server):
    # MCP needs MCP_ENABLED (on by default) and the mcp_enabled setting (off by default)
    name = "t_" + uuid.uuid4().hex[:12]
    assert call(groups_server.url, "POST", "/collections", {"collection": name, "meta": {}, "schema": {},
                                                            "fields": COLLECTION_FIELDS},
                token=groups_server.token).status == 200
    try:
        with pytest.raises(pydirectus.ForbiddenError):
            groups_client.mcp({"jsonrpc": "2.0", "id": 1, "method": "ping"})
        groups_client.update_settings({"mcp_enabled": True})
        hello = groups_client.mcp({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-03-26", "capabilities": {},
            "clientInfo": {"name": "pydirectus-tests", "version": "0"}}})
        assert (hello["id"], hello["result"]["serverInfo"]["name"]) == (1, "directus-mcp")
        assert groups_client.mcp({"jsonrpc": "2.0", "method": "notifications/initialized"}) is None  # 202
        tools = groups_client.mcp({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})["result"]["tools"]
        assert {"items", "schema"} <= {tool["name"] for tool in tools}

        groups_client.create_items(name, [{"title": "one"}, {"title": "two"}])
        answer = groups_client.mcp({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
            "name": "items", "arguments": {"action": "read", "collection": name,
                                           "query": {"fields": ["title"], "sort": ["-id"]}}}})
        assert json.loads(answer["result"]["content"][0]["text"]) == {"raw": [{"title": "two"}, {"title": "one"}]}
    finally:
        groups_client.update_settings({"mcp_enabled": False})
        remove_collection(groups_server, name)


def test_server_specs(client, collection):
    oas = client.read_openapi_spec()
    assert oas["openapi"].startswith("3.") and "/items/%s/{id}" % collection in oas["paths"]
    sdl = client.read_graphql_sdl().decode("utf-8")
    assert "type %s {" % collection in sdl and "type Query {" in sdl


def test_assets_and_zip_downloads(client, directus):
    picture = png_bytes(8, 4)
    top = client.create_folder({"name": "assets " + uuid.uuid4().hex[:6]})
    inner = client.create_folder({"name": "inner", "parent": top.id})
    image = upload(client, picture, "red.png", "image/png", title="red", folder=inner.id)
    note = upload(client, b"plain text\n", "note.txt", "text/plain", folder=top.id)
    try:
        assert (image["type"], image["width"], image["height"]) == ("image/png", 8, 4)
        assert client.read_asset(image["id"]) == picture
        assert png_size(client.read_asset(image["id"], width=4, format="png")) == (4, 2)
        assert png_size(client.read_asset(image["id"], transforms=[["resize", {"width": 2}]], format="png")) \
            == (2, 1)
        with client.stream_asset(image["id"]) as stream:
            streamed = b"".join(iter(lambda: stream.read(5), b""))
        assert streamed == picture
        assert client.head_asset(image["id"]) is None
        with pytest.raises(pydirectus.ForbiddenError):  # Directus answers 403 for a missing file
            client.head_asset(str(uuid.uuid4()))

        archive = zipfile.ZipFile(io.BytesIO(client.download_files_zip([image["id"], note["id"]])))
        assert sorted(archive.namelist()) == ["note.txt", "red.png"]
        assert archive.read("red.png") == picture and archive.read("note.txt") == b"plain text\n"

        folder_zip = zipfile.ZipFile(io.BytesIO(client.download_folder_zip(top.id)))
        files = {name: folder_zip.read(name) for name in folder_zip.namelist() if not name.endswith("/")}
        assert files == {top.name + "/note.txt": b"plain text\n", top.name + "/inner/red.png": picture}
    finally:
        client.delete_files([image["id"], note["id"]])
        client.delete_folder(inner.id)
        client.delete_folder(top.id)
    assert call(directus.url, "GET", "/assets/" + image["id"], token=directus.token).status == 403


# ------------------------------------------------------------------ TUS

class AnswerLosingTransport:
    """A real transport that drops the answer to the n-th TUS chunk after the server got it."""

    def __init__(self, lose_chunk):
        self.inner = HTTPTransport()
        self.lose_chunk = lose_chunk
        self.chunks_sent = []  # Upload-Offset of every PATCH that went out

    def send(self, request):
        response = self.inner.send(request)
        if request.method == "PATCH" and "/files/tus/" in request.url:
            self.chunks_sent.append(int(request.headers["Upload-Offset"]))
            if len(self.chunks_sent) == self.lose_chunk:
                raise TransportError("connection reset (test)", method=request.method, url=request.url,
                                     may_have_been_processed=True)
        return response

    def close(self):
        self.inner.close()


@pytest.fixture
def random_file(tmp_path):
    path = tmp_path / "random.bin"
    path.write_bytes(bytes(bytearray((n * 7919 + n // 251) % 256 for n in range(300000))))
    return path


def test_tus_resumable_upload_round_trip(groups_client, random_file):
    options = groups_client.read_tus_options()
    assert options["version"] == "1.0.0" and "creation" in options["extensions"]
    progress = []
    uploaded = groups_client.upload_file_resumable(str(random_file), chunk_size=64 * 1024,
                                                   metadata={"title": "Resumed"},
                                                   progress=lambda done, total: progress.append((done, total)))
    try:
        assert isinstance(uploaded, File)
        assert (uploaded.filename_download, uploaded.title, uploaded.filesize) == ("random.bin", "Resumed", 300000)
        assert progress == [(min(n, 300000), 300000) for n in range(65536, 300000 + 65536, 65536)]
        content = groups_client.read_asset(uploaded.id)
        assert hashlib.sha256(content).hexdigest() == hashlib.sha256(random_file.read_bytes()).hexdigest()
    finally:
        groups_client.delete_file(uploaded.id)


def test_tus_upload_resumes_after_a_lost_answer(groups_server, random_file):
    transport = AnswerLosingTransport(lose_chunk=2)
    with DirectusClient(hostname=groups_server.url, static_token=groups_server.token, transport=transport) as client:
        uploaded = client.upload_file_resumable(random_file, chunk_size=100000)
        try:
            # the server had the lost chunk: it was not sent again, the next one followed
            assert transport.chunks_sent == [0, 100000, 200000]
            assert client.read_asset(uploaded.id) == random_file.read_bytes()
        finally:
            client.delete_file(uploaded.id)


def test_tus_upload_whose_last_answer_is_lost_says_so(groups_server, groups_client, random_file):
    transport = AnswerLosingTransport(lose_chunk=1)
    with DirectusClient(hostname=groups_server.url, static_token=groups_server.token, transport=transport) as client:
        with pytest.raises(pydirectus.DirectusError) as lost:
            client.upload_file_resumable(random_file, filename="lost-answer.bin", chunk_size=300000)
    assert "may have completed" in str(lost.value)
    found = groups_client.read_files(filter={"filename_download": {"_eq": "lost-answer.bin"}})
    assert [f.filesize for f in found] == [300000]  # it had: the caller can find it
    groups_client.delete_files([f.id for f in found])


def test_tus_upload_step_by_step(groups_client):
    upload_id = groups_client.create_tus_upload(10, filename="steps.txt", mime_type="text/plain")
    assert groups_client.read_tus_upload_offset(upload_id) == (0, 10)
    assert groups_client.upload_tus_chunk(upload_id, 0, b"hello") == 5
    assert groups_client.read_tus_upload_offset(upload_id) == (5, 10)
    with pytest.raises(pydirectus.DirectusError):  # a chunk at the wrong offset is refused (409)
        groups_client.upload_tus_chunk(upload_id, 2, b"xyz")
    groups_client.delete_tus_upload(upload_id)
    with pytest.raises(pydirectus.ForbiddenError):  # 404: the upload is gone
        groups_client.read_tus_upload_offset(upload_id)
    assert groups_client.read_files(filter={"filename_download": {"_eq": "steps.txt"}}) == []
    # what Directus would refuse with a misleading "Upload-Metadata is invalid" is refused first
    with pytest.raises(ValueError):
        groups_client.upload_file_resumable(io.BytesIO(b""), filename="empty.txt")
    with pytest.raises(ValueError):
        groups_client.upload_file_resumable(io.BytesIO(b"no name"))
