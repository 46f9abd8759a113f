"""Through nginx (TLS with the private CA, /cms/ sub-path, two instances on PostgreSQL): the seed README's
examples, files (upload, download, a transformed asset), bulk writes; an untrusted certificate is refused."""

import hashlib
import os
import struct
import time
import zlib

import pytest

from pydirectus import DirectusClient, DirectusError, TransportError


def make_png(width, height):
    """A valid RGB PNG of `width` x `height` with a gradient (no imaging library needed)."""
    rows = b"".join(b"\x00" + bytes(bytearray(value for x in range(width)
                                              for value in ((x * 7) % 256, (y * 5) % 256, (x + y) % 256)))
                    for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def png_size(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:16]
    return struct.unpack(">II", data[16:24])


def test_seed_examples(stack, collection, figures):
    """The seed README's calls, letter for letter, with the placeholders filled in."""
    directus = DirectusClient(hostname=stack.url, static_token=stack.token, ssl_verify=stack.ca_file)
    new_item_data = {"title": "value1", "marker": "value2"}
    created_item = directus.create_item(collection, data=new_item_data)
    assert created_item["title"] == "value1"
    items = directus.read_items(collection, query={"limit": 10})
    assert [item.id for item in items] == [created_item.id]
    filtered_items = directus.read_items(collection=collection, query={"filter": {"title": {"_eq": "value1"}}})
    assert len(filtered_items) == 1
    item = directus.read_item(collection=collection, id=str(created_item.id))
    assert item["marker"] == "value2"
    updated_item = directus.update_item(collection=collection, id=created_item.id, data={"title": "new_value1"})
    assert updated_item["title"] == "new_value1"
    assert stack.psql("SELECT title FROM %s WHERE id = %d" % (collection, created_item.id)) == [["new_value1"]]
    directus.delete_item(collection=collection, id=created_item.id)
    assert stack.psql("SELECT count(*) FROM %s" % collection) == [["0"]]

    files = directus.read_files(query={"limit": 5})
    assert isinstance(files, list)
    file_data = {"storage": "local", "filename_disk": "demo/big-buck-bunny.mp4",
                 "filename_download": "big-buck-bunny.mp4", "title": "Big Buck Bunny Demo", "type": "video/mp4",
                 "filesize": 24252243, "width": 1920, "height": 1080, "duration": 596047,
                 "metadata": {"frame_rate": 25.0}}
    created_file = directus.create_file(file_data)
    assert int(created_file.filesize) == 24252243  # a string on PostgreSQL: test_file_sizes_are_integers
    directus.delete_file(created_file.id)
    directus.close()

    # username and password: logs in through nginx, on whichever instance; the session works on both
    session = DirectusClient(hostname=stack.url, username=stack.email, password=stack.password,
                             ssl_verify=stack.ca_file)
    for _ in range(4):  # round robin: both instances see the session's token
        assert session.read_items(collection, query={"limit": 1}) == []
    session.logout()
    session.close()


def test_untrusted_certificate_is_refused(stack):
    """Default verification (the system's CAs) refuses the private CA's certificate, at once, saying so."""
    directus = DirectusClient(hostname=stack.url, static_token=stack.token)
    started = time.monotonic()
    with pytest.raises(TransportError) as caught:
        directus.read_items("directus_users", query={"limit": 1})
    elapsed = time.monotonic() - started
    directus.close()
    message = str(caught.value)
    assert "CERTIFICATE_VERIFY_FAILED" in message or "certificate" in message.lower(), message
    assert isinstance(caught.value, DirectusError)
    assert elapsed < 5, "a refused certificate is not worth retrying (%.1f s, %r)" % (elapsed, caught.value.attempts)
    # and the same with the CA works
    with DirectusClient(hostname=stack.url, static_token=stack.token, ssl_verify=stack.ca_file) as trusting:
        assert trusting.server_ping() == b"pong"


def test_files_upload_download_transform(stack, admin, tmp_path):
    image = make_png(64, 48)
    photo = admin.upload_file(image, filename="gradient.png", title="Gradient")
    try:
        assert photo.type == "image/png" and int(photo.filesize) == len(image)
        assert (photo.width, photo.height) == (64, 48)
        target = str(tmp_path / "copy.png")
        admin.download_file(photo.id, target)
        with open(target, "rb") as handle:
            assert handle.read() == image
        assert admin.read_asset(photo.id) == image
        small = admin.read_asset(photo.id, width=10)
        assert png_size(small) == (10, 8)
        # both instances serve it from the shared uploads folder
        for url in stack.instance_urls:
            with DirectusClient(hostname=url, static_token=stack.token) as direct:
                assert direct.read_asset(photo.id) == image

        # a path upload, through nginx's request buffering (client_max_body_size)
        source = str(tmp_path / "random.bin")
        with open(source, "wb") as handle:
            handle.write(os.urandom(3 * 1024 * 1024))
        blob = admin.upload_file(source)
        try:
            digest = hashlib.sha256()
            for chunk in admin.iter_file(blob.id):
                digest.update(chunk)
            with open(source, "rb") as handle:
                assert digest.hexdigest() == hashlib.sha256(handle.read()).hexdigest()
        finally:
            admin.delete_file(blob.id)
    finally:
        admin.delete_file(photo.id)


def test_bulk_writes(stack, admin, collection, figures):
    rows = [{"title": "bulk %d" % i, "marker": "bulk-%d" % i, "views": i, "body": "x" * 200} for i in range(400)]
    started = time.monotonic()
    with DirectusClient(hostname=stack.url, static_token=stack.token, ssl_verify=stack.ca_file,
                        batch_size=150) as bulk:  # 3 chunks, spread over both instances
        created = bulk.create_items(collection, rows)
    figures["bulk create_items of 400 through nginx (s)"] = "%.2f" % (time.monotonic() - started)
    assert len(created) == 400
    assert stack.psql("SELECT count(*), count(DISTINCT marker) FROM %s" % collection) == [["400", "400"]]
    assert admin.count_items(collection) == 400
    seen = [item["marker"] for item in admin.iter_items(collection, page_size=100)]
    assert sorted(seen) == sorted(row["marker"] for row in rows)
    admin.update_items(collection, {"keys": [item.id for item in created], "data": {"views": 0}})
    assert stack.psql("SELECT sum(views) FROM %s" % collection) == [["0"]]
    admin.delete_items(collection, [item.id for item in created])
    assert stack.psql("SELECT count(*) FROM %s" % collection) == [["0"]]


def test_file_sizes_are_integers(admin):
    """File.filesize is declared int; Directus on PostgreSQL sends the bigInteger column as a JSON string
    ("24252243"), which SQLite never does: the client must build the declared type."""
    upload = admin.upload_file(b"twelve bytes", filename="twelve.txt")
    try:
        listed = admin.read_files(filter={"id": {"_eq": upload.id}})
        assert (upload.filesize, listed[0].filesize) == (12, 12), (
            "File.filesize is %r from upload_file and %r from read_files on PostgreSQL"
            % (upload.filesize, listed[0].filesize))
    finally:
        admin.delete_file(upload.id)
