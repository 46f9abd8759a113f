"""The pure parts of pydirectus.testing and tests/run.py: no server, no network."""

import os

import pytest

from pydirectus import testing
from tests import run


# ------------------------------------------------------------------ env file

def _parse_env_file(text):
    """What the dotenv parser Directus uses reads from our files (the subset we write)."""
    values = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        if value[:1] in ("'", '"') and value[-1:] == value[:1]:
            value = value[1:-1]
        values[key] = value
    return values


def test_default_settings_keep_the_server_on_loopback_and_silent(tmp_path):
    settings = testing.default_settings(str(tmp_path), "/app", 4321, "a@b.c", "pw", "tok")
    assert settings["HOST"] == "127.0.0.1"
    assert settings["PORT"] == "4321"
    assert settings["PUBLIC_URL"] == "http://127.0.0.1:4321"
    assert settings["DB_FILENAME"] == os.path.join(str(tmp_path), "data.db")
    for url_setting in ("TELEMETRY_URL", "COMPLIANCE_URL", "MARKETPLACE_REGISTRY"):
        assert settings[url_setting] == "http://127.0.0.1:9"
    assert settings["CACHE_ENABLED"] == "false"
    assert settings["RATE_LIMITER_ENABLED"] == "false"
    assert settings["LOGIN_STALL_TIME"] == "0"
    admin = (settings["ADMIN_EMAIL"], settings["ADMIN_PASSWORD"], settings["ADMIN_TOKEN"])
    assert admin == ("a@b.c", "pw", "tok")
    for path_setting in ("STORAGE_LOCAL_ROOT", "EXTENSIONS_PATH", "MIGRATIONS_PATH", "TEMP_PATH"):
        assert settings[path_setting].startswith(str(tmp_path) + os.sep)


def test_env_file_round_trips_plain_and_awkward_values():
    settings = {"PORT": "80", "PLAIN": "a b", "HASH": "x#y", "SPACES": " padded ", "QUOTE": "it's",
                "EMPTY": ""}
    text = testing.render_env_file(settings)
    assert text.endswith("\n")
    assert "PORT=80\n" in text
    assert _parse_env_file(text) == settings


@pytest.mark.parametrize("key, value", [
    ("BAD KEY", "x"), ("1ST", "x"), ("K", "a\nb"), ("K", "both ' and \" #"),
])
def test_env_file_refuses_what_it_cannot_write(key, value):
    with pytest.raises(ValueError):
        testing.render_env_file({key: value})


def test_server_refuses_settings_the_launcher_owns():
    with pytest.raises(ValueError, match="DB_FILENAME"):
        testing.DirectusServer({"DB_FILENAME": "/tmp/x.db"})
    with pytest.raises(ValueError, match="admin_password"):
        testing.DirectusServer({"ADMIN_PASSWORD": "x"})
    server = testing.DirectusServer({"ACCESS_TOKEN_TTL": "3s", "QUERY_LIMIT_MAX": 100})
    assert server.env == {"ACCESS_TOKEN_TTL": "3s", "QUERY_LIMIT_MAX": "100"}
    assert server.pid is None and server.url is None


# ------------------------------------------------------------------ template key and cache root

def test_template_key_is_stable_and_depends_on_every_input():
    base = ("12.4.0", "admin@example.com", "admin-password", "admin-static-token")
    key = testing.template_key(*base)
    assert key == testing.template_key(*base)
    assert len(key) == 12 and int(key, 16) >= 0
    # same key as the shell recipe: sha1 of the four values, one per line
    assert key == "4e2713628edb"
    for position in range(4):
        changed = list(base)
        changed[position] += "x"
        assert testing.template_key(*changed) != key


def test_cache_root_prefers_explicit_then_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.setenv("PYDIRECTUS_CACHE_DIR", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert testing.cache_root() == str(tmp_path / "explicit")
    monkeypatch.delenv("PYDIRECTUS_CACHE_DIR")
    assert testing.cache_root() == str(tmp_path / "xdg" / "pydirectus")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert testing.cache_root() == str(tmp_path / "home" / ".cache" / "pydirectus")


# ------------------------------------------------------------------ stale detection with fake pids

def _processes(**start_times):
    """A fake process table: pid -> start time; pids not in it are dead."""
    table = {int(pid[1:]): started for pid, started in start_times.items()}
    return table.get


def test_owned_server_is_stale_once_its_owner_is_gone():
    record = {"owner_pid": 100, "owner_started": "5000", "pid": 200, "server_started": "6000"}
    assert not testing.is_stale(record, _processes(p100="5000", p200="6000"))
    assert testing.is_stale(record, _processes(p200="6000"))  # owner dead, server orphaned
    assert testing.is_stale(record, _processes())


def test_reused_owner_pid_does_not_keep_a_server_alive():
    record = {"owner_pid": 100, "owner_started": "5000", "pid": 200, "server_started": "6000"}
    assert testing.is_stale(record, _processes(p100="9999", p200="6000"))


def test_owner_alive_keeps_its_server_even_if_the_server_died():
    record = {"owner_pid": 100, "owner_started": "5000", "pid": 200, "server_started": "6000"}
    assert not testing.is_stale(record, _processes(p100="5000"))  # the owner will stop it


def test_command_line_server_is_stale_only_once_it_stopped():
    record = {"owner_pid": None, "owner_started": None, "pid": 200, "server_started": "6000"}
    assert not testing.is_stale(record, _processes(p200="6000"))
    assert testing.is_stale(record, _processes())
    assert testing.is_stale(record, _processes(p200="7777"))  # pid reused by another process
    assert testing.is_stale(dict(record, pid=None), _processes())  # died before it got a pid


def test_process_start_time_of_this_process_and_of_a_dead_one():
    assert testing.process_start_time(os.getpid()) is not None
    assert testing.process_start_time(2 ** 22 + 12345) is None  # above Linux's pid_max


def test_cleanup_stale_removes_dead_owners_folders_and_keeps_live_ones(tmp_path):
    servers = tmp_path / "directus-0.0.0" / "servers"
    me = {"owner_pid": os.getpid(), "owner_started": testing.process_start_time(os.getpid()),
          "pid": None, "run_js": "/nonexistent/run.js"}
    gone = dict(me, owner_pid=2 ** 22 + 12345, owner_started="1")
    for name, record in (("live", me), ("dead", gone)):
        (servers / name).mkdir(parents=True)
        testing._write_record(str(servers / name), record)
    (servers / "fresh-debris").mkdir()  # no record yet: could be a server being set up right now

    removed = testing.cleanup_stale(str(tmp_path))
    assert removed == [str(servers / "dead")]
    assert sorted(os.listdir(str(servers))) == ["fresh-debris", "live"]


# ------------------------------------------------------------------ tests/run.py parsing

def test_pytest_summary_counts_are_parsed():
    output = ["x", "=== 3 failed, 10 passed, 2 skipped, 1 deselected, 4 warnings, 1 error in 1.23s ==="]
    assert run.parse_counts(output) == {"passed": 10, "failed": 4, "skipped": 2}
    assert run.parse_counts(["5 passed in 0.10s"]) == {"passed": 5, "failed": 0, "skipped": 0}
    assert run.parse_counts(["no summary at all"]) is None


def test_integration_tally_line_is_parsed():
    output = ["pydirectus integration tests: 7 passed, 1 failed, 2 skipped", "=== 8 passed in 1s ==="]
    assert run.parse_integration(output) == {"passed": 7, "failed": 1, "skipped": 2}
    assert run.parse_integration(["=== 8 passed in 1s ==="]) is None
