"""The command line against a real Directus: list, create, upload, download, and error exit codes."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cli(directus, *arguments, token=None):
    env = dict(os.environ, PYTHONPATH=ROOT, DIRECTUS_URL=directus.url,
               DIRECTUS_TOKEN=directus.token if token is None else token)
    result = subprocess.run([sys.executable, "-m", "pydirectus"] + list(arguments), env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return result.returncode, result.stdout, result.stderr.decode()


def test_list_and_create_items(directus, collection):
    code, out, err = cli(directus, "create-item", collection, "--data", '{"title": "from the shell"}')
    assert code == 0, err
    created = json.loads(out)
    assert created["title"] == "from the shell"
    code, out, err = cli(directus, "read-items", collection, "--fields", "id,title", "--meta", "*",
                         "--filter", '{"title": {"_eq": "from the shell"}}')
    assert code == 0, err
    listed = json.loads(out)
    assert listed["data"] == [{"id": created["id"], "title": "from the shell"}]
    assert listed["meta"]["filter_count"] == 1


def test_upload_and_download_a_file(directus, tmp_path):
    source = tmp_path / "hello.txt"
    source.write_bytes(b"hello from the command line\n" * 100)
    code, out, err = cli(directus, "upload-file", str(source), "--title", "CLI upload")
    assert code == 0, err
    record = json.loads(out)
    assert record["title"] == "CLI upload" and record["filesize"] == 2800
    target = tmp_path / "copy.txt"
    code, out, err = cli(directus, "download-file", record["id"], str(target))
    assert code == 0, err
    assert target.read_bytes() == source.read_bytes()
    code, out, err = cli(directus, "read-asset", record["id"])
    assert code == 0 and out == source.read_bytes()
    assert cli(directus, "delete-file", record["id"])[0] == 0


def test_error_exit_codes(directus):
    code, out, err = cli(directus, "read-item", "no_such_collection", "1")
    assert code == 4 and "FORBIDDEN" in err
    code, out, err = cli(directus, "read-me", token="not-a-token")
    assert code == 3 and "INVALID_CREDENTIALS" in err
    code, out, err = cli(directus, "read-items")
    assert code == 2 and "collection" in err
    code, out, err = cli(directus, "no-such-command")
    assert code == 2 and "unknown command" in err
    code, out, err = cli(directus, "--version")
    assert code == 0 and out.decode().startswith("pydirectus ")
