"""The launcher itself: pydirectus.testing's database= option, the stack's psql, stale folders, restarts."""

import os
import subprocess
import sys
import tempfile

import pytest

from pydirectus import testing
from tests.deployment import stack as stack_module


def test_database_option_is_checked():
    with pytest.raises(ValueError, match="DB_"):
        testing.DirectusServer(database={"DB_CLIENT": "pg", "REDIS": "redis://x"})
    with pytest.raises(ValueError, match="DB_CLIENT"):
        testing.DirectusServer(database={"DB_HOST": "127.0.0.1"})
    with pytest.raises(ValueError, match="database="):
        testing.DirectusServer({"DB_HOST": "127.0.0.1"})  # the database's settings go in database=
    server = testing.DirectusServer({"REDIS": "redis://127.0.0.1:1"}, database={"DB_CLIENT": "pg", "DB_PORT": 5432},
                                    bootstrap=False)
    assert server.database == {"DB_CLIENT": "pg", "DB_PORT": "5432"} and server.bootstrap is False


def test_instances_share_one_postgresql_database(stack):
    """Both instances run on the stack's PostgreSQL (no SQLite file in their data folders), bootstrapped once."""
    for server in stack.servers:
        assert server.database["DB_CLIENT"] == "pg"
        assert not os.path.exists(os.path.join(server.data_dir, "data.db"))
    assert os.path.exists(os.path.join(stack.servers[0].data_dir, "bootstrap.log"))
    assert not os.path.exists(os.path.join(stack.servers[1].data_dir, "bootstrap.log"))
    assert stack.psql("SELECT email, token FROM directus_users") == [[stack.email, stack.token]]
    assert stack.psql("SELECT current_setting('server_version_num')::int / 10000") == [["15"]]


def test_stale_folder_of_a_dead_run_is_removed():
    folder = tempfile.mkdtemp(prefix=stack_module.FOLDER_PREFIX)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with open(os.path.join(folder, "owner"), "w") as handle:
        handle.write("%d 12345\n" % dead.pid)
    assert folder in stack_module.cleanup_stale_folders()
    assert not os.path.exists(folder)
