"""The command line without a server: its commands come from the spec and, for the methods written
by hand, from their signatures; a call is checked against a recording client or a MockTransport."""

import json

import pytest

from pydirectus import DirectusClient, cli
from pydirectus._core.spec import QUERY_KINDS, RESULTS
from tests.mocktransport import MockTransport, json_response

URL = ["--url", "http://directus.test", "--token", "t"]


class Recorder:
    """A stand-in for the client: records the method called and its arguments."""

    def __init__(self, answer=None):
        self.calls = []
        self.answer = answer

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return None

    def __getattr__(self, name):
        def method(*args, **kwargs):
            self.calls.append((name, args, kwargs))
            return self.answer
        return method


def exit_status(words):
    """main's status, or argparse's (it exits by itself on a usage error, as ``python -m`` does)."""
    try:
        return cli.main(words)
    except SystemExit as stopped:
        return stopped.code


@pytest.fixture
def recorder(monkeypatch):
    client = Recorder()
    monkeypatch.setattr(cli, "_client", lambda options: client)
    return client


def hand_written_commands():
    return {command: target for command, target in cli._commands().items() if isinstance(target, cli._HandWritten)}


def test_every_hand_written_operation_of_the_spec_is_a_command_of_its_group():
    commands = hand_written_commands()
    for operation in DirectusClient.operations.values():
        if operation.hand_written:
            target = commands[operation.name.replace("_", "-")]
            assert (target.name, target.group, target.doc) == (operation.name, operation.group, operation.doc)
    assert {"upload-file", "download-file", "upload-files", "replace-file"} <= set(commands)


def test_the_overview_lists_the_file_commands_under_files(capsys):
    assert cli.main(["--help"]) == 0
    overview = capsys.readouterr().out
    files = overview.split("\nfiles:\n")[1].split("\n\n")[0]
    for command in ("upload-file", "download-file", "upload-files", "replace-file", "read-file"):
        assert "\n  %s " % command in "\n" + files


@pytest.mark.parametrize("command", sorted(hand_written_commands()))
def test_every_hand_written_command_has_a_parser(command, capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main([command, "--help"])
    assert stopped.value.code == 0
    assert "python -m pydirectus " + command in capsys.readouterr().out


def test_upload_file_takes_the_path_and_metadata_flags(recorder, tmp_path, capsys):
    recorder.answer = {"id": "f1", "title": "A photo"}
    path = str(tmp_path / "photo.jpg")
    assert cli.main(URL + ["upload-file", path, "--title", "A photo", "--folder", "12",
                           "--description", "on the beach", "--tags", '["sea", "sun"]']) == 0
    [(name, args, kwargs)] = recorder.calls
    assert (name, args) == ("upload_file", (path,))
    # a keyword of the signature keeps its type (text); a free flag's value is JSON when it parses
    assert kwargs == {"title": "A photo", "folder": "12", "description": "on the beach", "tags": ["sea", "sun"],
                      "progress": None}  # no progress bar: standard error is not a terminal
    assert json.loads(capsys.readouterr().out) == {"id": "f1", "title": "A photo"}


@pytest.mark.parametrize("words", [
    ["download-file", "abc", "./photo.jpg", "--width", "320", "--overwrite", "--fit=cover"],
    ["download-file", "--width", "320", "abc", "--overwrite", "./photo.jpg", "--fit", "cover"],
])
def test_download_file_takes_id_dest_and_transform_flags(recorder, words):
    assert cli.main(URL + words) == 0
    [(name, args, kwargs)] = recorder.calls
    assert (name, args) == ("download_file", ("abc", "./photo.jpg"))
    assert kwargs == {"width": 320, "fit": "cover", "overwrite": True, "progress": None}


def test_typed_keyword_flags_are_converted(recorder):
    assert cli.main(URL + ["download-file", "abc", "out.bin", "--chunk-size", "1024", "--without-enlargement"]) == 0
    assert recorder.calls[0][2] == {"chunk_size": 1024, "without_enlargement": True, "progress": None}
    assert exit_status(URL + ["download-file", "abc", "out.bin", "--chunk-size", "many"]) == 2


def test_upload_files_takes_several_paths(recorder):
    assert cli.main(URL + ["upload-files", "a.txt", "b.txt", "--fields", "id,title", "--folder", "f"]) == 0
    assert recorder.calls == [("upload_files", (["a.txt", "b.txt"],),
                               {"fields": "id,title", "folder": "f", "progress": None})]


def test_tus_commands_convert_integers_and_read_chunks_from_a_file(recorder, tmp_path):
    chunk = tmp_path / "chunk"
    chunk.write_bytes(b"0123")
    assert cli.main(URL + ["upload-tus-chunk", "u1", "8", str(chunk)]) == 0
    assert cli.main(URL + ["create-tus-upload", "100", "--metadata", '{"title": "t"}']) == 0
    assert cli.main(URL + ["read-tus-options"]) == 0
    assert recorder.calls == [("upload_tus_chunk", ("u1", 8, b"0123"), {}),
                              ("create_tus_upload", (100,), {"metadata": {"title": "t"}}),
                              ("read_tus_options", (), {})]


def test_a_method_without_free_arguments_refuses_unknown_flags(recorder, capsys):
    assert exit_status(URL + ["create-tus-upload", "100", "--colour", "red"]) == 2
    assert recorder.calls == []


def test_a_generated_command_through_a_mock_transport(monkeypatch, capsys):
    seen = []

    def handler(request):
        seen.append(request)
        return json_response(200, {"data": [{"id": 1, "title": "Hello"}], "meta": {"filter_count": 1}})

    def client(options):
        return DirectusClient(hostname=options.url, static_token=options.token, transport=MockTransport(handler))

    monkeypatch.setattr(cli, "_client", client)
    assert cli.main(URL + ["read-items", "articles", "--limit", "1", "--meta", "filter_count",
                           "--filter", '{"title": {"_eq": "Hello"}}']) == 0
    assert json.loads(capsys.readouterr().out) == {"data": [{"id": 1, "title": "Hello"}], "meta": {"filter_count": 1}}
    assert seen[0].url.startswith("http://directus.test/items/articles?")
    assert "limit=1" in seen[0].url
    assert exit_status(URL + ["read-items", "articles", "--limit", "one"]) == 2
    assert "invalid integer value" in capsys.readouterr().err


def test_every_query_kind_and_result_kind_names_what_the_cli_knows():
    assert {kind.cli for kind in QUERY_KINDS.values()} <= set(cli._CONVERTERS)
    assert {kind.cli for kind in RESULTS.values()} <= {"json", "bytes", "stream"}


def test_unknown_command_is_a_usage_error(capsys):
    assert cli.main(URL + ["no-such-command"]) == 2
    assert "unknown command" in capsys.readouterr().err
