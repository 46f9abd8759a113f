"""The command line: every spec operation as a subcommand, generated from the same spec.

    python -m pydirectus read-items articles --limit 10 --filter '{"status": {"_eq": "published"}}'
    python -m pydirectus create-item articles --data '{"title": "Hello"}'
    python -m pydirectus upload-file ./photo.jpg --title "A photo"
    python -m pydirectus download-file <id> ./photo.jpg --width 320
    python -m pydirectus --help            # every operation, by group

The server and credentials come from DIRECTUS_URL and DIRECTUS_TOKEN (or DIRECTUS_EMAIL and
DIRECTUS_PASSWORD), or from --url, --token, --email and --password. Path parameters and required
body members are positional; query parameters are flags (JSON for filter, deep, aggregate, ...), or
--query with a JSON object; a payload is --data with JSON, @file or - for standard input. Output is
JSON, indented on a terminal. Exit codes: 0 success, 2 usage, 3 authentication, 4 a request the
server refused (4xx), 5 a server or connection failure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from . import DirectusClient, __version__
from .errors import APIError, AuthenticationError, DirectusError, TransportError
from ._core.interpreter import MODEL_RESULTS

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing stays out of import time
    from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

    from ._core.spec import Operation

EXIT_USAGE, EXIT_AUTH, EXIT_REFUSED, EXIT_SERVER = 2, 3, 4, 5
_HAND_WRITTEN = {
    "upload-file": "Upload a file (path), with metadata flags; prints its record.",
    "download-file": "Download a file's content to a path, optionally transformed.",
}


def _command(name: str) -> str:
    return name.replace("_", "-")


def _operations() -> Dict[str, Operation]:
    return {_command(op.name): op for op in DirectusClient.operations.values() if not op.hand_written}


def _overview() -> str:
    lines = ["usage: python -m pydirectus [--url URL] [--token TOKEN | --email E --password P] COMMAND [ARGS]",
             "", "Commands, by group (python -m pydirectus COMMAND --help for one):"]
    groups: Dict[str, List[Tuple[str, str]]] = {}
    for command, operation in _operations().items():
        groups.setdefault(operation.group, []).append((command, operation.doc))
    groups.setdefault("files", []).extend(sorted(_HAND_WRITTEN.items()))
    for group, commands in groups.items():
        lines.append("\n%s:" % group)
        lines.extend("  %-34s %s" % (command, doc) for command, doc in commands)
    lines += ["", "Environment: DIRECTUS_URL, DIRECTUS_TOKEN, DIRECTUS_EMAIL, DIRECTUS_PASSWORD.",
              "Exit codes: 0 ok, 2 usage, 3 authentication, 4 refused by the server (4xx), 5 server or "
              "connection failure."]
    return "\n".join(lines)


def _global_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pydirectus", add_help=False)
    parser.add_argument("--url", default=os.environ.get("DIRECTUS_URL"))
    parser.add_argument("--token", default=os.environ.get("DIRECTUS_TOKEN"))
    parser.add_argument("--email", default=os.environ.get("DIRECTUS_EMAIL"))
    parser.add_argument("--password", default=os.environ.get("DIRECTUS_PASSWORD"))
    parser.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")
    parser.add_argument("--verbose", "-v", action="store_true", help="log every request (DEBUG) to stderr")
    parser.add_argument("--version", action="store_true")
    parser.add_argument("--help", "-h", action="store_true")
    return parser


def _json_value(text: str) -> Any:
    if text == "-":
        return json.load(sys.stdin)
    if text.startswith("@"):
        with open(text[1:], encoding="utf-8") as handle:
            return json.load(handle)
    return json.loads(text)


def _typed(kind: str) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        if kind == "integer":
            return int(text)
        if kind == "boolean":
            if text.lower() in ("true", "1", "yes"):
                return True
            if text.lower() in ("false", "0", "no"):
                return False
            raise ValueError("expected true or false")
        if kind == "json":
            return _json_value(text)
        return text
    convert.__name__ = kind
    return convert


def _operation_parser(command: str, operation: Operation) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pydirectus " + command,
                                     description="%s\n\n%s %s" % (operation.doc, operation.method, operation.path),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    for name in operation.path_params:
        parser.add_argument(name)
    for param in operation.body_params:
        if param.required:
            parser.add_argument(param.name, type=_json_or_text, help=param.doc or None)
        else:
            parser.add_argument("--" + _command(param.name), dest=param.name, type=_json_or_text,
                                help=param.doc or None)
    if operation.payload != "none" and not operation.body_params:
        parser.add_argument("--data", type=_json_value, required=operation.payload_required,
                            help="the body: JSON, @file.json, or - for standard input")
    if operation.query_params:
        parser.add_argument("--query", type=_json_value, help="query parameters as one JSON object")
    for query_param in operation.query_params.values():
        parser.add_argument("--" + _command(query_param.name), dest=query_param.name, type=_typed(query_param.type),
                            help=query_param.doc or query_param.type)
    if operation.free_query:
        parser.add_argument("--params", type=_json_value, help="any query parameters, as a JSON object")
    if operation.result in ("bytes", "stream"):
        parser.add_argument("--output", "-o", help="write the answer to this file instead of standard output")
    return parser


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _files_parser(command: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pydirectus " + command, description=_HAND_WRITTEN[command])
    if command == "upload-file":
        parser.add_argument("path")
        for name in ("title", "folder", "filename", "storage"):
            parser.add_argument("--" + name)
    else:
        parser.add_argument("id")
        parser.add_argument("dest")
        parser.add_argument("--overwrite", action="store_true")
        for name in ("width", "height", "quality"):
            parser.add_argument("--" + name, type=int)
        for name in ("fit", "format", "key"):
            parser.add_argument("--" + name)
    return parser


def _progress(label: str) -> Optional[Callable[[int, Optional[int]], None]]:
    """A progress bar on standard error when it is a terminal, else nothing."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: Optional[int]) -> None:
        if total:
            filled = int(30 * done / total)
            sys.stderr.write("\r%s [%s%s] %d%%" % (label, "#" * filled, "." * (30 - filled), 100 * done // total))
        else:
            sys.stderr.write("\r%s %d bytes" % (label, done))
        if total and done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()
    return show


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain(entry) for entry in value]
    to_dict = getattr(value, "to_dict", None)
    return to_dict() if to_dict is not None else value


def _print(value: Any, output: Optional[str] = None) -> None:
    if isinstance(value, (bytes, bytearray)) or hasattr(value, "read"):
        data = value if isinstance(value, (bytes, bytearray)) else b"".join(iter(value))
        if output:
            with open(output, "wb") as handle:
                handle.write(data)
        else:
            sys.stdout.buffer.write(data)
        return
    if value is None:
        return
    indent = 2 if sys.stdout.isatty() else None
    meta = getattr(value, "meta", None)
    document = {"data": _plain(value), "meta": meta} if meta else _plain(value)
    print(json.dumps(document, indent=indent, ensure_ascii=False, default=str))


def _client(options: argparse.Namespace) -> DirectusClient:
    if not options.url:
        raise _Usage("no server: set DIRECTUS_URL or give --url")
    credentials: Dict[str, Any] = {"static_token": options.token} if options.token else {}
    if not options.token and (options.email or options.password):
        credentials = {"username": options.email, "password": options.password}
    return DirectusClient(hostname=options.url, ssl_verify=not options.insecure, **credentials)


class _Usage(Exception):
    pass


def _run(options: argparse.Namespace, command: str, rest: List[str]) -> Any:
    if command in _HAND_WRITTEN:
        arguments = dict(vars(_files_parser(command).parse_args(rest)))
        with _client(options) as client:
            if command == "upload-file":
                path = arguments.pop("path")
                fields = {k: v for k, v in arguments.items() if v is not None}
                return client.upload_file(path, progress=_progress("upload"), **fields)
            transform = {k: v for k, v in arguments.items() if k not in ("id", "dest", "overwrite") and v is not None}
            client.download_file(arguments["id"], arguments["dest"], overwrite=arguments["overwrite"],
                                 progress=_progress("download"), **transform)
            return None
    operations = _operations()
    operation = operations.get(command) or operations.get(_command(command))
    if operation is None:
        raise _Usage("unknown command %r (python -m pydirectus --help lists them)" % command)
    arguments = dict(vars(_operation_parser(command, operation).parse_args(rest)))
    output = arguments.pop("output", None)
    positional = [arguments.pop(name) for name in operation.path_params]
    keywords = {key: value for key, value in arguments.items() if value is not None}
    with _client(options) as client:
        result = getattr(client, operation.name)(*positional, **keywords)
        if operation.result == "stream" and result is not None:
            with result:
                _print(result, output)
            return None
        if operation.result in MODEL_RESULTS or output is None:
            return result
        _print(result, output)
        return None


def _split(argv: List[str]) -> Tuple[List[str], Optional[str], List[str]]:
    """(global options, command, the command's arguments): global options come before the command."""
    with_value = {"--url", "--token", "--email", "--password"}
    index = 0
    while index < len(argv):
        word = argv[index]
        if word in with_value:
            index += 2
        elif word.startswith("-"):
            index += 1
        else:
            return argv[:index], word, argv[index + 1:]
    return argv, None, []


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; its exit status."""
    try:
        return _main(argv)
    except BrokenPipeError:  # the reader went away (``| head``): stop quietly, like other tools
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 141  # what a shell reports for a writer that SIGPIPE stopped


def _main(argv: Optional[Sequence[str]]) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    global_arguments, command, rest = _split(argv)
    options, unknown = _global_parser().parse_known_args(global_arguments)
    if options.version:
        print("pydirectus %s" % __version__)
        return 0
    if unknown:
        print("error: unknown option %s before the command\n\n%s" % (" ".join(unknown), _overview()),
              file=sys.stderr)
        return EXIT_USAGE
    if command is None:
        print(_overview(), file=sys.stdout if options.help else sys.stderr)
        return 0 if options.help else EXIT_USAGE
    if options.verbose:
        import logging
        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s")
    try:
        _print(_run(options, command, rest))
        return 0
    except _Usage as error:
        print("error: %s" % error, file=sys.stderr)
        return EXIT_USAGE
    except (TypeError, ValueError) as error:  # bad arguments, refused before anything was sent
        print("error: %s" % error, file=sys.stderr)
        return EXIT_USAGE
    except AuthenticationError as error:
        print("error: %s" % error, file=sys.stderr)
        return EXIT_AUTH
    except APIError as error:
        print("error: %s" % error, file=sys.stderr)
        return EXIT_SERVER if (error.status or 500) >= 500 else EXIT_REFUSED
    except (TransportError, DirectusError) as error:
        print("error: %s" % error, file=sys.stderr)
        return EXIT_SERVER
