"""A walk through the seed README's examples against a live Directus, printing what it does.

    python3 -m pydirectus.demo

With DIRECTUS_URL and DIRECTUS_TOKEN (or DIRECTUS_EMAIL and DIRECTUS_PASSWORD) set, it talks to
that server; otherwise it starts a throwaway local one with ``pydirectus.testing`` (installing
Directus the first time, which takes a few minutes) and stops it at the end. On a server of yours
it creates a collection ``pydirectus_demo_<random>`` and a file record, and deletes both.
"""

from __future__ import annotations

import os
import sys
import uuid

from . import DirectusClient, DirectusError, File

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, Optional

    from .testing import DirectusServer


def _show(title: str, value: Any = None) -> None:
    print("\n== %s" % title)
    if value is not None:
        print("   %r" % (value,))


def walk_through(directus: DirectusClient, collection: str) -> None:
    _show("server_ping()", directus.server_ping())

    _show("create_collection(%r) with the fields id, title, author" % collection)
    directus.create_collection({"collection": collection, "meta": {}, "schema": {}, "fields": [
        {"field": "id", "type": "integer", "schema": {"is_primary_key": True, "has_auto_increment": True}},
        {"field": "title", "type": "string"},
        {"field": "author", "type": "string"},
    ]})
    try:
        created = directus.create_items(collection, data=[
            {"title": "Hello", "author": "Beff Jezos"},
            {"title": "World", "author": "Beff Jezos"},
            {"title": "Other", "author": "Someone"},
        ])
        _show("create_items(...): created ids", [item.id for item in created])

        new_item_data = {"title": "value1", "author": "value2"}
        created_item = directus.create_item(collection, data=new_item_data)
        _show("create_item(collection, data=%r)" % new_item_data, created_item)

        items = directus.read_items(collection, query={"limit": 10}, meta="total_count")
        _show("read_items(collection, query={'limit': 10}, meta='total_count'): %d items, total_count=%s"
              % (len(items), items.total_count))

        filtered_items = directus.read_items(collection=collection,
                                             query={"filter": {"author": {"_eq": "Beff Jezos"}}})
        _show("read_items(filter author == 'Beff Jezos')", [item["title"] for item in filtered_items])

        item = directus.read_item(collection=collection, id=created_item.id)
        _show("read_item(collection, id=%r)" % created_item.id, item)

        updated_item = directus.update_item(collection=collection, id=created_item.id,
                                            data={"title": "new_value1"})
        _show("update_item(..., data={'title': 'new_value1'})", updated_item)

        directus.delete_item(collection=collection, id=created_item.id)
        try:
            directus.read_item(collection, created_item.id)
        except DirectusError as error:
            _show("delete_item(...), then read_item raises %s" % type(error).__name__, str(error))

        files = directus.read_files(query={"limit": 5})
        _show("read_files(query={'limit': 5}): %d files" % len(files))

        file_data = {
            "storage": "local",
            "filename_disk": "demo/big-buck-bunny-%s.mp4" % uuid.uuid4().hex[:8],
            "filename_download": "big-buck-bunny.mp4",
            "title": "Big Buck Bunny Demo",
            "type": "video/mp4",
            "filesize": 24252243,
            "width": 1920,
            "height": 1080,
            "duration": 596047,
            "metadata": {"frame_rate": 25.0},
        }
        created_file = directus.create_file(file_data)
        _show("create_file(file_data) returns a %s" % type(created_file).__name__,
              {"id": created_file.id, "title": created_file.title, "filesize": created_file.filesize})
        assert isinstance(created_file, File) and created_file.id is not None
        directus.delete_file(created_file.id)
        _show("delete_file(%r)" % created_file.id)
    finally:
        directus.delete_collection(collection)
        _show("delete_collection(%r)" % collection)


def main() -> int:
    url = os.environ.get("DIRECTUS_URL")
    server: Optional[DirectusServer] = None
    credentials: Dict[str, Any]
    if url:
        credentials = {"static_token": os.environ.get("DIRECTUS_TOKEN"),
                       "username": os.environ.get("DIRECTUS_EMAIL"),
                       "password": os.environ.get("DIRECTUS_PASSWORD")}
        if not credentials["static_token"] and not credentials["password"]:
            print("DIRECTUS_URL is set: set DIRECTUS_TOKEN, or DIRECTUS_EMAIL and DIRECTUS_PASSWORD, too",
                  file=sys.stderr)
            return 2
    else:
        from .testing import DirectusServer as Server
        print("No DIRECTUS_URL: starting a throwaway Directus on 127.0.0.1 "
              "(the first run installs it, a few minutes)...", flush=True)
        server = Server().start()
        url = server.url or ""
        credentials = {"username": server.email, "password": server.password}
    try:
        with DirectusClient(hostname=url, **credentials) as directus:
            print("Connected to %s as %r" % (url, directus))
            walk_through(directus, "pydirectus_demo_%s" % uuid.uuid4().hex[:8])
        print("\nDone.")
        return 0
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
