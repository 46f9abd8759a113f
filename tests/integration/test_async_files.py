"""Files, assets and TUS on AsyncDirectusClient against a real Directus: the main behaviours of
test_files.py (round trips every way, several files, replace, transforms, progress, a resumed
download) and a TUS resumable upload, awaited."""

import asyncio
import hashlib
import io

from pydirectus import File
from pydirectus.async_client import AsyncDirectusClient
from tests.integration.groups_support import GROUPS_SERVER_SETTINGS
from tests.integration.test_files import CONTENT, SHA, CuttingProxy, make_png, png_size, sha256
from tests.integration.test_files import created  # noqa: F401 - the fixture: files a test made, deleted after


def run(server, action, url=None):
    """``await action(client)`` with an async client of ``server`` (or of ``url``, with its token)."""
    async def main():
        async with AsyncDirectusClient(hostname=url or server.url, static_token=server.token,
                                       proxies={}) as client:
            return await action(client)
    return asyncio.run(main())


async def joined(chunks):
    return b"".join([chunk async for chunk in chunks])


def test_round_trips_from_a_path_bytes_a_file_object_and_generators(directus, created, tmp_path):
    (tmp_path / "content.bin").write_bytes(CONTENT)
    path = tmp_path / "content.bin"
    pieces = [CONTENT[start:start + 500000] for start in range(0, len(CONTENT), 500000)]

    async def generate_async():
        for piece in pieces:
            await asyncio.sleep(0)
            yield piece

    async def action(client):
        with open(str(path), "rb") as handle:
            records = [await client.upload_file(str(path)), await client.upload_file(CONTENT, filename="bytes.bin"),
                       await client.upload_file(handle), await client.upload_file(iter(pieces), filename="gen.bin"),
                       await client.upload_file(generate_async(), filename="async.bin")]
        created.extend(record.id for record in records)
        written = await client.download_file(records[0].id, tmp_path / "down.bin")
        buffer = io.BytesIO()
        await client.download_file(records[1].id, buffer)
        streamed = [await joined(client.iter_file(record.id, chunk_size=256 * 1024)) for record in records[2:]]
        return records, written, buffer.getvalue(), streamed

    records, written, buffered, streamed = run(directus, action)
    assert all(isinstance(r, File) and r.filesize == len(CONTENT) for r in records)
    assert [r.filename_download for r in records] == ["content.bin", "bytes.bin", "content.bin", "gen.bin",
                                                       "async.bin"]
    assert sha256(open(written, "rb").read()) == SHA and sha256(buffered) == SHA
    assert [sha256(content) for content in streamed] == [SHA] * 3


def test_a_png_downloaded_with_transforms(directus, created, tmp_path):
    async def action(client):
        record = await client.upload_file(make_png(64, 48), filename="gradient.png")
        created.append(record.id)
        written = await client.download_file(record.id, tmp_path / "small.png", width=16)
        square = await joined(client.iter_file(record.id, width=16, height=16, fit="cover", format="png"))
        return record, open(written, "rb").read(), square

    record, small, square = run(directus, action)
    assert record.type == "image/png" and (record.width, record.height) == (64, 48)
    assert png_size(small) == (16, 12) and png_size(square) == (16, 16)


def test_several_files_then_a_replacement(directus, created):
    async def action(client):
        records = await client.upload_files([{"file": b"first", "filename": "one.txt", "title": "One"},
                                             {"file": b"second!", "filename": "two.txt"}], tags=["batch"])
        created.extend(record.id for record in records)
        replaced = await client.replace_file(records[0].id, b"version two, longer")
        return records, replaced, await joined(client.iter_file(records[0].id))

    records, replaced, content = run(directus, action)
    assert [(r.filename_download, r.filesize, r.tags) for r in records] == [
        ("one.txt", 5, ["batch"]), ("two.txt", 7, ["batch"])]
    assert (replaced.id, replaced.title, replaced.filename_download) == (records[0].id, "One", "one.txt")
    assert replaced.filesize == len(content) and content == b"version two, longer"


def test_progress_is_reported_both_ways(directus, created, tmp_path):
    path = tmp_path / "progress.bin"
    path.write_bytes(CONTENT)
    up, down = [], []

    async def action(client):
        record = await client.upload_file(path, progress=lambda done, total: up.append((done, total)))
        created.append(record.id)
        await client.download_file(record.id, tmp_path / "back.bin",
                                   progress=lambda done, total: down.append((done, total)))

    run(directus, action)
    for calls in (up, down):
        assert len(calls) > 2 and calls[-1] == (len(CONTENT), len(CONTENT))
        assert all(a[0] < b[0] for a, b in zip(calls, calls[1:]))


def test_a_download_dropped_midway_resumes_to_a_complete_file(client, directus, created, tmp_path):
    record = client.upload_file(CONTENT, filename="resumable.bin")
    created.append(record.id)
    proxy = CuttingProxy(directus.url, cut=1000000)
    try:
        written = run(directus, lambda through_proxy: through_proxy.download_file(record.id, tmp_path / "r.bin"),
                      url=proxy.url)
    finally:
        proxy.close()
    assert sha256(open(written, "rb").read()) == SHA
    assert len(proxy.asset_requests) == 2 and proxy.asset_requests[0] is None
    assert 0 < int(proxy.asset_requests[1].split("=")[1].rstrip("-")) < 1000000


def test_a_tus_resumable_upload(directus_factory, tmp_path):
    server = directus_factory(GROUPS_SERVER_SETTINGS)  # TUS_ENABLED; shared with the groups tests
    path = tmp_path / "tus.bin"
    path.write_bytes(CONTENT[:300000])
    progress = []

    async def action(client):
        options = await client.read_tus_options()
        record = await client.upload_file_resumable(str(path), chunk_size=64 * 1024, metadata={"title": "Resumed"},
                                                    progress=lambda done, total: progress.append((done, total)))
        try:
            content = await joined(client.iter_file(record.id))
        finally:
            await client.delete_file(record.id)
        upload_id = await client.create_tus_upload(10, filename="steps.txt", mime_type="text/plain")
        steps = [await client.upload_tus_chunk(upload_id, 0, b"hello"), await client.read_tus_upload_offset(upload_id)]
        await client.delete_tus_upload(upload_id)
        return options, record, content, steps

    options, record, content, steps = run(server, action)
    assert options["version"] == "1.0.0" and "creation" in options["extensions"]
    assert isinstance(record, File) and (record.filename_download, record.title, record.filesize) == (
        "tus.bin", "Resumed", 300000)
    assert hashlib.sha256(content).hexdigest() == hashlib.sha256(CONTENT[:300000]).hexdigest()
    assert progress == [(min(n, 300000), 300000) for n in range(65536, 300000 + 65536, 65536)]
    assert steps == [5, (5, 10)]
