"""The command line: every spec operation as a subcommand, generated from the same spec.

    python -m pydirectus read-items articles --limit 10 --filter '{"status": {"_eq": "published"}}'
    python -m pydirectus create-item articles --data '{"title": "Hello"}'
    python -m pydirectus upload-file ./photo.jpg --title "A photo"
    python -m pydirectus download-file <id> ./photo.jpg --width 320
    python -m pydirectus models --out app/directus_models.py   # typed models of the schema (codegen.py)
    python -m pydirectus --help            # every operation, by group

The server and credentials come from DIRECTUS_URL and DIRECTUS_TOKEN (or DIRECTUS_EMAIL and
DIRECTUS_PASSWORD), or from --url, --token, --email and --password. Path parameters and required
body members are positional; query parameters are flags (JSON for filter, deep, aggregate, ...), or
--query with a JSON object; a payload is --data with JSON, @file or - for standard input. Output is
JSON, indented on a terminal. Exit codes: 0 success, 1 ``models --check``: the file no longer matches
the schema, 2 usage, 3 authentication, 4 a request the server refused (4xx), 5 a server or
connection failure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from . import DirectusClient, __version__
from .errors import APIError, AuthenticationError, DirectusError, TransportError
from ._core.spec import QUERY_KINDS, RESULTS, path_kind

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing stays out of import time
    from inspect import Parameter
    from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

    from ._core.spec import Operation

EXIT_STALE, EXIT_USAGE, EXIT_AUTH, EXIT_REFUSED, EXIT_SERVER = 1, 2, 3, 4, 5
MODELS_DOC = "Write typed models and clients of the server's schema into a Python module"

# Client methods written by hand that have no spec entry yet, as commands of their group: their doc
# is their docstring's. A hand-written method that has a spec entry ("hand_written": true) takes its
# group and doc from it, so an entry added to the spec replaces its line here.
_NOT_IN_SPEC = {"upload_file": "files", "download_file": "files"}


def _command(name: str) -> str:
    return name.replace("_", "-")


class _HandWritten:
    """A command for a client method written by hand: its arguments come from the method's signature."""

    __slots__ = ("name", "group", "doc", "description")

    name: str
    group: str
    doc: str
    description: str

    def __init__(self, name: str, group: str, doc: str, description: str) -> None:
        self.name = name
        self.group = group
        self.doc = doc
        self.description = description


def _commands() -> Dict[str, Union[Operation, _HandWritten]]:
    """Every command, in spec order: an Operation for a generated method, a _HandWritten otherwise."""
    commands: Dict[str, Union[Operation, _HandWritten]] = {}
    for operation in DirectusClient.operations.values():
        if operation.hand_written:
            commands[_command(operation.name)] = _HandWritten(
                operation.name, operation.group, operation.doc,
                "\n".join([operation.doc, ""] + ["%s %s" % (operation.method, path)
                                                 for path in (operation.path,) + operation.path_variants]))
        else:
            commands[_command(operation.name)] = operation
    for name, group in _NOT_IN_SPEC.items():
        method = getattr(DirectusClient, name, None)
        if name not in DirectusClient.operations and method is not None:
            paragraphs = (method.__doc__ or name).strip().split("\n\n")
            doc = paragraphs[0].strip().splitlines()[0]
            commands[_command(name)] = _HandWritten(name, group, doc, "\n\n".join(
                " ".join(line.strip() for line in paragraph.splitlines()) for paragraph in paragraphs[:2]))
    return commands


def _overview() -> str:
    lines = ["usage: python -m pydirectus [--url URL] [--token TOKEN | --email E --password P] COMMAND [ARGS]",
             "", "Commands, by group (python -m pydirectus COMMAND --help for one):"]
    groups: Dict[str, List[Tuple[str, str]]] = {}
    for command, target in _commands().items():
        groups.setdefault(target.group, []).append((command, target.doc))
    groups.setdefault("schema", []).append(("models", MODELS_DOC))
    for group, commands in groups.items():
        lines.append("\n%s:" % group)
        lines.extend("  %-34s %s" % (command, doc) for command, doc in commands)
    lines += ["", "Environment: DIRECTUS_URL, DIRECTUS_TOKEN, DIRECTUS_EMAIL, DIRECTUS_PASSWORD.",
              "Exit codes: 0 ok, 1 models --check: the schema changed, 2 usage, 3 authentication, 4 refused by "
              "the server (4xx), 5 server or connection failure."]
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


def _boolean(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise ValueError("expected true or false")


def _file_bytes(text: str) -> bytes:
    """A file's content (``-``: standard input's)."""
    if text == "-":
        return sys.stdin.buffer.read()
    with open(text, "rb") as handle:
        return handle.read()


# the converters of a flag's text that the vocabulary's kinds name (spec.QUERY_KINDS, PATH_KINDS: cli)
_CONVERTERS: Dict[str, Callable[[str], Any]] = {
    "text": str, "integer": int, "boolean": _boolean, "json": _json_value, "bytes": _file_bytes,
}


# what a hand-written method's argument taking that converter's value says in its help
_HELP = {"json": "JSON, @file.json, or - for standard input",
         "bytes": "a file whose content is sent (- for standard input)", "integer": "an integer"}


def _converter(name: str) -> Callable[[str], Any]:
    function = _CONVERTERS[name]

    def convert(text: str) -> Any:
        return function(text)
    convert.__name__ = name  # what argparse names in its message: "invalid integer value: 'x'"
    return convert


def _operation_parser(command: str, operation: Operation) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pydirectus " + command,
                                     description="%s\n\n%s %s" % (operation.doc, operation.method, operation.path),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    for name in operation.path_params:
        parser.add_argument(name, type=_converter(path_kind(name).cli))
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
        parser.add_argument("--" + _command(query_param.name), dest=query_param.name,
                            type=_converter(QUERY_KINDS[query_param.type].cli),
                            help=query_param.doc or query_param.type)
    if operation.free_query:
        parser.add_argument("--params", type=_json_value, help="any query parameters, as a JSON object")
    if RESULTS[operation.result].cli in ("bytes", "stream"):
        parser.add_argument("--output", "-o", help="write the answer to this file instead of standard output")
    return parser


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _annotation_text(parameter: Parameter) -> str:
    """A parameter's annotation as written, without Optional[...] (a string: the package's modules
    use ``from __future__ import annotations``)."""
    annotation = parameter.annotation
    if annotation is parameter.empty:
        return ""
    if not isinstance(annotation, str):
        import inspect
        annotation = inspect.formatannotation(annotation)
    text = annotation.strip("'\"").replace(" ", "")
    if text.startswith("Optional[") and text.endswith("]"):
        text = text[len("Optional["):-1]
    return text


def _signature_converter(parameter: Parameter) -> str:
    """The converter (a key of _CONVERTERS) of a hand-written method's parameter, from its annotation."""
    text = _annotation_text(parameter)
    if text == "int":
        return "integer"
    if text == "bool":
        return "boolean"
    if text.startswith(("Mapping[", "Dict[", "Sequence[Any", "List[Any")):
        return "json"
    if text.startswith("Union[bytes"):
        return "bytes"
    return "text"


class _Signature:
    """The command line of a hand-written method: a parser built from its signature, and how a
    parse becomes the call's arguments."""

    __slots__ = ("parser", "positional", "variadic", "free", "progress", "flags")

    parser: argparse.ArgumentParser
    positional: List[str]
    variadic: Optional[str]
    free: Optional[str]
    progress: bool
    flags: List[str]

    def __init__(self, command: str, target: _HandWritten) -> None:
        import inspect
        parameters = list(inspect.signature(getattr(DirectusClient, target.name)).parameters.values())
        if parameters and parameters[0].kind in (parameters[0].POSITIONAL_ONLY, parameters[0].POSITIONAL_OR_KEYWORD):
            parameters = parameters[1:]  # the client itself
        self.positional, self.variadic, self.free, self.progress, self.flags = [], None, None, False, []
        parser = argparse.ArgumentParser(prog="python -m pydirectus " + command, description=target.description,
                                         formatter_class=argparse.RawDescriptionHelpFormatter)
        for parameter in parameters:
            name = parameter.name
            if name == "progress":  # the CLI's progress bar, on a terminal
                self.progress = True
            elif parameter.kind is parameter.VAR_KEYWORD:
                self.free = name
                parser.epilog = ("Any other --name VALUE is one of the %s arguments (VALUE as JSON when it "
                                 "parses, else as text; --name alone is true)." % name)
            elif parameter.kind is parameter.VAR_POSITIONAL:
                continue
            elif parameter.kind is parameter.KEYWORD_ONLY:
                flag = "--" + _command(name)
                self.flags.append(flag)
                kind = _signature_converter(parameter)
                if kind == "boolean" and parameter.default is False:
                    parser.add_argument(flag, dest=name, action="store_true", default=argparse.SUPPRESS)
                else:
                    parser.add_argument(flag, dest=name, type=_converter(kind), default=argparse.SUPPRESS,
                                        metavar=name.upper(), help=_HELP.get(kind))
            elif _annotation_text(parameter).startswith("Iterable["):  # several values: the rest of the line
                self.variadic = name
                parser.add_argument(name, nargs="+")
            else:
                self.positional.append(name)
                kind = _signature_converter(parameter)
                if parameter.default is parameter.empty:
                    parser.add_argument(name, type=_converter(kind), help=_HELP.get(kind))
                else:
                    parser.add_argument(name, type=_converter(kind), nargs="?", default=argparse.SUPPRESS,
                                        help=_HELP.get(kind))
        self.parser = parser

    def parse(self, command: str, rest: List[str]) -> Tuple[List[Any], Dict[str, Any]]:
        """(positional values, keyword values) of the call that ``rest`` asks for."""
        words, free = self._free_flags(rest)
        arguments = dict(vars(self.parser.parse_args(words)))
        positional = [arguments.pop(name) for name in self.positional if name in arguments]
        if self.variadic is not None:
            positional.append(arguments.pop(self.variadic))
        arguments.update(free)
        if self.progress:
            arguments["progress"] = _progress(command)
        return positional, arguments

    def _free_flags(self, rest: List[str]) -> Tuple[List[str], Dict[str, Any]]:
        """``rest`` less the ``--name value`` flags the signature does not name (its **arguments)."""
        if self.free is None:
            return rest, {}
        words: List[str] = []
        free: Dict[str, Any] = {}
        index = 0
        while index < len(rest):
            word = rest[index]
            index += 1
            flag, equals, value = word.partition("=")
            if not word.startswith("--") or word == "--" or flag in self.flags or flag in ("--help",):
                words.append(word)
                continue
            if not equals:
                if index < len(rest) and not rest[index].startswith("--"):
                    value = rest[index]
                    index += 1
                else:
                    value = "true"
            free[flag[2:].replace("-", "_")] = _json_or_text(value)
        return words, free


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


def _models_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pydirectus models", formatter_class=argparse.RawDescriptionHelpFormatter,
        description=MODELS_DOC + ": a dataclass per user collection, and Directus and AsyncDirectus, clients "
        "whose item methods return them (typed for mypy and pyright). See pydirectus/codegen.py for the types.",
        epilog="Exit codes: 0 written (or up to date with --check), 1 --check: the file does not match the "
               "server's schema, 2 usage, 3 authentication, 4 refused, 5 server failure.")
    parser.add_argument("--out", required=True, help="the module to write (or to check), e.g. app/directus_models.py")
    parser.add_argument("--import-name", default="pydirectus",
                        help="the name the module imports the library by (for a vendored copy; default pydirectus)")
    parser.add_argument("--collections", help="only these user collections, comma-separated (default: all)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing: exit 1 when the file no longer matches the server's schema (for CI)")
    return parser


def _models(options: argparse.Namespace, rest: List[str]) -> int:
    """The ``models`` command: write (or check) the generated module; its exit status."""
    from . import codegen
    arguments = _models_parser().parse_args(rest)
    if not all(part.isidentifier() for part in arguments.import_name.split(".")):
        raise _Usage("--import-name must be a module name, got %r" % arguments.import_name)
    only = [name.strip() for name in arguments.collections.split(",") if name.strip()] \
        if arguments.collections else None
    with _client(options) as client:
        schema, version = codegen.read_schema(client, only)
        url = client.url
    if arguments.check:
        try:
            with open(arguments.out, encoding="utf-8") as handle:
                written = codegen.header_hash(handle.read())
        except OSError as error:
            print("error: %s: %s" % (arguments.out, error.strerror or error), file=sys.stderr)
            return EXIT_STALE
        if written != codegen.schema_hash(schema):
            print("%s does not match the schema of %s (%s, the server's: %s): run python -m pydirectus models "
                  "again" % (arguments.out, url, written or "no schema hash", codegen.schema_hash(schema)),
                  file=sys.stderr)
            return EXIT_STALE
        print("%s matches the schema of %s" % (arguments.out, url), file=sys.stderr)
        return 0
    text = codegen.render_module(schema, url, version, arguments.import_name)
    with open(arguments.out, "w", encoding="utf-8") as handle:
        handle.write(text)
    print("wrote %s: %d models (%s)" % (arguments.out, len(schema["collections"]),
                                        ", ".join(entry["collection"] for entry in schema["collections"])),
          file=sys.stderr)
    return 0


def _run(options: argparse.Namespace, command: str, rest: List[str]) -> Any:
    commands = _commands()
    target = commands.get(command) or commands.get(_command(command))
    if target is None:
        raise _Usage("unknown command %r (python -m pydirectus --help lists them)" % command)
    if isinstance(target, _HandWritten):
        positional, keywords = _Signature(command, target).parse(command, rest)
        with _client(options) as client:
            return getattr(client, target.name)(*positional, **keywords)
    operation = target
    arguments = dict(vars(_operation_parser(command, operation).parse_args(rest)))
    output = arguments.pop("output", None)
    positional = [arguments.pop(name) for name in operation.path_params]
    keywords = {key: value for key, value in arguments.items() if value is not None}
    printing = RESULTS[operation.result].cli
    with _client(options) as client:
        result = getattr(client, operation.name)(*positional, **keywords)
        if printing == "stream" and result is not None:
            with result:
                _print(result, output)
            return None
        if printing == "json" or output is None:
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
        if command == "models":
            return _models(options, rest)
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
