"""Every example of the seed README, run against a real Directus.

The calls are the README's, letter for letter; only the placeholders that stand for the user's own
data are filled in: the hostname and credentials, and "item_id" (the id of the item the README
creates just before). "articles" and "your_collection" are created for the purpose, and article
53356 exists. Each test runs on DirectusClient, then on AsyncDirectusClient (``make_client``, the
conformance suite); the last one runs them in a stdlib-only interpreter.
"""

import os
import subprocess
import sys

import pytest

from pydirectus import DirectusClient, File, Item, ItemList
from tests.conftest import remove_collection
from tests.integration.test_readme_examples import create_collections, rest
from tests.rest import call

# The conformance core: runs against every supported Directus version (tests/conftest.py).
pytestmark = pytest.mark.conformance

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SEED_COLLECTIONS = {
    "articles": [
        {"field": "id", "type": "integer", "schema": {"is_primary_key": True, "has_auto_increment": True}},
        {"field": "title", "type": "string"},
        {"field": "author", "type": "string"},
    ],
    "your_collection": [
        {"field": "id", "type": "integer", "schema": {"is_primary_key": True, "has_auto_increment": True}},
        {"field": "field1", "type": "string"},
        {"field": "field2", "type": "string"},
    ],
}


@pytest.fixture(scope="module")
def seed_server(directus):
    create_collections(directus, SEED_COLLECTIONS)
    for article in ({"id": 53356, "title": "Pinned", "author": "Someone"},
                    {"title": "One", "author": "Beff Jezos"}, {"title": "Two", "author": "Beff Jezos"},
                    {"title": "Three", "author": "Other"}):
        rest(directus, "POST", "/items/articles", article)
    yield directus
    for name in SEED_COLLECTIONS:
        remove_collection(directus, name)


@pytest.fixture
def directus_client(seed_server, make_client):
    # the README's "directus" variable, of each client in turn (the conformance suite)
    return make_client(hostname=seed_server.url, static_token=seed_server.token)


def test_getting_started_and_authentication(seed_server, make_client):
    DirectusClient = make_client  # noqa: N806  (the README's name, for the sync then the async client)
    directus = DirectusClient(hostname=seed_server.url)
    assert directus.server_ping() == b"pong"
    directus = DirectusClient(
        hostname=seed_server.url,
        static_token=seed_server.token,
        # OR
        username=seed_server.email,
        password="not the password: the static token takes precedence",
    )
    assert directus.read_items("articles")
    assert directus.tokens.logins == 0
    directus = DirectusClient(
        hostname=seed_server.url,
        username=seed_server.email,
        password=seed_server.password,
    )
    assert len(directus.read_items("articles")) == 4 and directus.tokens.logins == 1


def test_making_a_request(directus_client):
    directus = directus_client
    items = directus.read_items("articles")
    assert isinstance(items, ItemList) and {item["title"] for item in items} >= {"One", "Two", "Three"}


def test_reading_items(directus_client):
    directus = directus_client
    # Retrieve the latest 10 items from the articles collection
    items = directus.read_items("articles", query={"limit": 10})

    # Fetch items that match specific filter criteria
    filtered_items = directus.read_items(
        collection="articles",
        query={"filter": {"author": {"_eq": "Beff Jezos"}}},
    )
    assert len(items) == 4
    assert sorted(item["title"] for item in filtered_items) == ["One", "Two"]
    assert all(isinstance(item, Item) for item in filtered_items)


def test_reading_an_item_by_id(directus_client):
    directus = directus_client
    item = directus.read_item(collection="articles", id="53356")
    assert item["title"] == "Pinned" and item.id == 53356


def test_creating_updating_and_deleting_an_item(directus_client, seed_server):
    directus = directus_client
    new_item_data = {"field1": "value1", "field2": "value2"}
    created_item = directus.create_item("your_collection", data=new_item_data)
    assert created_item["field1"] == "value1" and created_item["id"]

    item_id = created_item["id"]
    updated_item_data = {"field1": "new_value1"}
    updated_item = directus.update_item(
        collection="your_collection", id=item_id, data=updated_item_data
    )
    assert updated_item["field1"] == "new_value1" and updated_item["field2"] == "value2"
    assert call(seed_server.url, "GET", "/items/your_collection/%s" % item_id,
                token=seed_server.token).body["data"]["field1"] == "new_value1"

    assert directus.delete_item(collection="your_collection", id=item_id) is None
    assert call(seed_server.url, "GET", "/items/your_collection/%s" % item_id, token=seed_server.token).status == 403


def test_working_with_files(directus_client, seed_server):
    directus = directus_client
    # Retrieve the latest 5 files
    files = directus.read_files(query={"limit": 5})
    assert isinstance(files, ItemList)

    file_data: File = {
        "storage": "local",
        "filename_disk": "demo/big-buck-bunny.mp4",
        "filename_download": "big-buck-bunny.mp4",
        "title": "Big Buck Bunny Demo",
        "type": "video/mp4",
        "filesize": 24252243,  # in bytes
        "width": 1920,
        "height": 1080,
        "duration": 596047,  # in milliseconds
        "metadata": {"frame_rate": 25.0},  # optional example
    }

    created_file = directus.create_file(file_data)
    try:
        assert isinstance(created_file, File) and created_file.title == "Big Buck Bunny Demo"
        assert created_file.filesize == 24252243 and created_file.metadata == {"frame_rate": 25.0}
        assert directus.read_file(created_file.id).filename_download == "big-buck-bunny.mp4"
        assert created_file.id in [f.id for f in directus.read_files(query={"limit": -1})]
    finally:
        directus.delete_file(created_file.id)


SCRIPT = r'''
import sys
from pydirectus import DirectusClient
url, token, email, password = sys.argv[1:5]
directus = DirectusClient(hostname=url, static_token=token)
assert len(directus.read_items("articles", query={"limit": 10})) == 4
assert len(directus.read_items(collection="articles", query={"filter": {"author": {"_eq": "Beff Jezos"}}})) == 2
assert directus.read_item(collection="articles", id="53356")["title"] == "Pinned"
created = directus.create_item("your_collection", data={"field1": "value1", "field2": "value2"})
assert directus.update_item(collection="your_collection", id=created["id"], data={"field1": "new_value1"})["field1"] == "new_value1"
directus.delete_item(collection="your_collection", id=created["id"])
directus.read_files(query={"limit": 5})
directus = DirectusClient(hostname=url, username=email, password=password)
assert directus.read_items("articles")
print("stdlib only:", sorted(m for m in sys.modules if "site" in m))
'''


def test_seed_examples_under_an_isolated_stdlib_only_interpreter(seed_server):
    code = "import sys; sys.path.insert(0, %r)\n%s" % (ROOT, SCRIPT)
    result = subprocess.run([sys.executable, "-I", "-S", "-c", code, seed_server.url, seed_server.token,
                             seed_server.email, seed_server.password],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=120)
    assert result.returncode == 0, result.stdout
    assert "stdlib only: []" in result.stdout
