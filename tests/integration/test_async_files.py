"""Files on AsyncDirectusClient used natively against a real Directus: what only the async client
does (an async generator as the upload source, ``async for`` over a download, uploads and
downloads running concurrently). What both clients share runs on both in test_files.py."""

import asyncio

import pytest

from pydirectus.async_client import AsyncDirectusClient
from tests.integration.test_files import CONTENT, SHA, sha256

# The conformance core: runs against every supported Directus version (tests/conftest.py).
pytestmark = pytest.mark.conformance


def test_async_generator_sources_and_concurrent_transfers(directus, tmp_path):
    pieces = [CONTENT[start:start + 500000] for start in range(0, len(CONTENT), 500000)]

    async def generate():
        for piece in pieces:
            await asyncio.sleep(0)
            yield piece

    async def main():
        async with AsyncDirectusClient(hostname=directus.url, static_token=directus.token, proxies={}) as client:
            records = await asyncio.gather(*[client.upload_file(generate(), filename="async-%d.bin" % n)
                                             for n in range(3)])
            try:
                async def joined(record):
                    return b"".join([chunk async for chunk in client.iter_file(record.id, chunk_size=256 * 1024)])
                streamed = await asyncio.gather(*[joined(record) for record in records])
                written = await asyncio.gather(*[client.download_file(record.id, tmp_path / ("%s.bin" % record.id))
                                                 for record in records])
                return records, streamed, [open(path, "rb").read() for path in written], client.transport.stats()
            finally:
                await client.delete_files([record.id for record in records])

    records, streamed, written, stats = asyncio.run(main())
    assert sorted(r.filename_download for r in records) == ["async-0.bin", "async-1.bin", "async-2.bin"]
    assert all(r.filesize == len(CONTENT) for r in records)
    assert [sha256(content) for content in streamed + written] == [SHA] * 6
    assert stats["peak_open"] >= 2  # the transfers really overlapped
