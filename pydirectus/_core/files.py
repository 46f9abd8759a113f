"""Files and assets: streaming uploads, replacing a file's content, resumable downloads, asset URLs.

The file methods of both clients (``upload_file``, ``upload_files``, ``replace_file``,
``download_file``, ``iter_file``, ``asset_url``), each a helper written once in ``FileFlows``: a
flow that takes every decision and yields its I/O as effects, ``LocalFile`` for the local file
system (``_sync/localfiles.py`` performs those).
"""

from __future__ import annotations

import os
import re

from .effects import Deliver, LocalFile, Read, Sleep, SourceFailed
from ..errors import TransportError, error_from_response, is_whole
from .helpers import helper
from .records import Request, decode_raw, encode_json, header_int, is_item, models, quote_path_value
from .multipart import BytesContent, Field, FilePart, IterableContent, MultipartEncoder
from .query import encode_query

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is never imported at run time
    from logging import Logger
    from typing import (Any, AsyncIterable, AsyncIterator, BinaryIO, Callable, Dict, Iterable, Iterator, List,
                        Mapping, Optional, Protocol, Sequence, Tuple, Union)

    from .effects import Delivering, Flow
    from .records import Response, ResponseStream
    from ..models import File, Item
    from .multipart import Chunk, ContentSource
    from .policy import RequestPolicy
    from .spec import Operation
    from .http11 import Headers

    # what tells one version of a file from another: (ETag, Last-Modified)
    Identity = Tuple[Optional[str], Optional[str]]

    FileSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, BinaryIO, Iterable[bytes]]
    Fields = Union[str, Sequence[Union[str, Mapping[str, Any]]]]
    AsyncFileSource = Union[FileSource, AsyncIterable[bytes]]
    Progress = Callable[[int, Optional[int]], object]

    class Temporary(Protocol):
        """A download's temporary file, as ``LocalFile("create_temporary", ...)`` gives it."""

        def discard(self) -> None: ...

__all__ = ["FileFlows", "safe_filename", "disposition_filename", "multipart_body", "multipart_call_flow",
           "MultipartPayload", "source_path", "check_binary_file", "guess_type_flow"]

# Bytes per chunk read from a file for an upload, and from the socket for a download. Chunks that
# fit in the CPU's cache are copied twice (socket, file) while still in it: measured on loopback,
# 128 KiB chunks download 1 GiB with 35% less CPU than 1 MiB chunks, and a little less than curl.
_READ_SIZE = 128 * 1024
_DOWNLOAD_CHUNK = 128 * 1024
_FITS = ("cover", "contain", "inside", "outside")
_FORMATS = ("auto", "jpg", "jpeg", "png", "webp", "tiff", "avif")
_RESERVED_FIELDS = {
    "type": "the MIME type is mime_type=, or guessed from the file name",
    "file": "the content is the file argument",
}
# Names Windows will not create a file under, whatever the extension.
_WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL"} | {"%s%d" % (p, n) for p in ("COM", "LPT") for n in range(1, 10)}
_DISPOSITION_PARAM = re.compile(r';\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$")
# what a compressed file is, whatever is inside it (report.csv.gz is a gzip file)
_COMPRESSED = {"gzip": "application/gzip", "bzip2": "application/x-bzip2", "xz": "application/x-xz",
               "br": "application/x-brotli", "compress": "application/x-compress"}


# --------------------------------------------------------------------------- content sources

class _FileContent:
    """A content source over a binary file object (see ``localfiles.describe`` for ``replayable``,
    ``start`` and ``size``: a seekable file can be sent again after a connection failure, a pipe
    only once); reads at most the size it had when it was opened. ``chunks`` and ``close`` are
    method calls, not effects: the transport calls ``chunks`` as it sends the body, and ``close``
    runs as a flow ends, when a flow closed early (a cancelled task, an abandoned iterator) can
    yield no more."""

    def __init__(self, handle: BinaryIO, owned: bool, replayable: bool, start: int, size: Optional[int]) -> None:
        self.handle = handle
        self.owned = owned  # opened from a path by the flow: closed by it too
        self.replayable = replayable
        self.start = start
        self.size = size

    def chunks(self) -> Iterator[bytes]:
        handle, remaining = self.handle, self.size
        try:
            if self.replayable:
                handle.seek(self.start)
            while remaining is None or remaining > 0:
                chunk = handle.read(_READ_SIZE if remaining is None else min(_READ_SIZE, remaining))
                if not chunk:
                    return
                if not isinstance(chunk, (bytes, bytearray)):
                    raise TypeError("the file object must be opened in binary mode: read() returned %s"
                                    % type(chunk).__name__)
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk
        except Exception as error:  # an OSError here is the disk's, not the connection's
            # where in read() it failed tells nothing the message does not: drop it, close at once
            raise SourceFailed(error, keep_traceback=False) from None

    def close(self) -> None:
        if self.owned:
            self.handle.close()


class _GuardedContent:
    """A content source whose iteration errors (the caller's generator raised) pass the transport intact."""

    def __init__(self, source: IterableContent) -> None:
        self.source = source
        self.size = source.size
        self.replayable = source.replayable
        self.asynchronous = source.asynchronous

    def chunks(self) -> Union[Iterator[Chunk], AsyncIterator[Chunk]]:
        chunks = self.source.chunks()
        if not hasattr(chunks, "__anext__"):  # not self.asynchronous, said so that a type checker narrows the type
            return _guarded_chunks(chunks)
        return _guarded_async(chunks)  # type: ignore[arg-type]  # it has __anext__: mypy cannot narrow on hasattr


def _guarded_chunks(chunks: Iterator[Chunk]) -> Iterator[Chunk]:
    while True:
        try:
            chunk = next(chunks)
        except StopIteration:
            return
        except Exception as error:
            raise SourceFailed(error) from None
        yield chunk


async def _guarded_async(chunks: AsyncIterator[Chunk]) -> AsyncIterator[Chunk]:
    while True:
        try:
            chunk = await chunks.__anext__()
        except StopAsyncIteration:
            return
        except Exception as error:
            raise SourceFailed(error) from None
        yield chunk


def _guarded(progress: Optional[Progress]) -> Optional[Progress]:
    """``progress`` with its exceptions carried through the transport (raising in it cancels)."""
    if progress is None:
        return None

    def call(done: int, total: Optional[int]) -> None:
        try:
            progress(done, total)
        except Exception as error:
            raise SourceFailed(error) from None
    return call


def _check_progress(progress: object) -> None:
    if progress is not None and not callable(progress):
        raise TypeError("progress must be a callable taking (done_bytes, total_bytes_or_None), got %r"
                        % (progress,))


def _file_content_flow(handle: BinaryIO, owned: bool) -> Flow[_FileContent]:
    """A content source over ``handle``: where it stands and its size come from ``describe``."""
    replayable, start, size = yield LocalFile("describe", handle)
    return _FileContent(handle, owned, replayable, start, size)


def source_path(file: Union[str, os.PathLike[str]]) -> str:
    """The path ``file`` is (a str or an os.PathLike), checked."""
    path = os.fspath(file)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not path:
        raise ValueError("the path of the file to upload is empty")
    return path


def check_binary_file(file: object) -> None:
    """Raise unless ``file`` is a binary file object still open."""
    import io
    if isinstance(file, io.TextIOBase):
        raise TypeError("the file object must be opened in binary mode ('rb'), not text mode")
    if getattr(file, "closed", False):
        raise ValueError("the file object is closed")


def _open_source_flow(file: AsyncFileSource, asynchronous: bool = False
                      ) -> Flow[Tuple[ContentSource, Optional[str]]]:
    """(content source, the source's own file name or None) for what ``upload_file`` accepts; a
    path is opened here (FileNotFoundError, IsADirectoryError: before anything is sent).

    ``asynchronous``: for the async client, which can also read an async iterable.
    """
    if isinstance(file, (str, os.PathLike)):
        path = source_path(file)
        handle = yield LocalFile("open_to_read", path)
        try:
            return (yield from _file_content_flow(handle, True)), os.path.basename(path)
        except BaseException:
            handle.close()
            raise
    if isinstance(file, (bytes, bytearray, memoryview)):
        return BytesContent(file), None
    if hasattr(file, "read"):
        check_binary_file(file)
        name = getattr(file, "name", None)
        # it has read(): a binary file object, which mypy cannot tell from hasattr
        return ((yield from _file_content_flow(file, False)),  # type: ignore[arg-type]
                os.path.basename(name) if isinstance(name, str) else None)
    if hasattr(file, "__aiter__"):
        if not asynchronous:
            raise TypeError("an async iterable can only be uploaded by AsyncDirectusClient; give DirectusClient "
                            "an iterable of bytes chunks")
    elif isinstance(file, dict) or is_item(file) or not hasattr(file, "__iter__"):
        raise TypeError("file must be a path, bytes, a binary file object or an iterable of bytes chunks, got %s"
                        % type(file).__name__)
    return _GuardedContent(IterableContent(file)), None


def _close_source(source: object) -> None:
    if isinstance(source, _FileContent):
        source.close()


def _close_sources(parts: Iterable[Union[Field, FilePart]]) -> None:
    for part in parts:
        if isinstance(part, FilePart):
            _close_source(part.source)


# --------------------------------------------------------------------------- form fields

def guess_type_flow(filename: Optional[str]) -> Flow[Optional[str]]:
    """The MIME type of a file named ``filename``, from the system's tables; None when unknown."""
    if not filename:
        return None
    kind, encoding = yield LocalFile("guess_type", filename)
    if encoding:
        return _COMPRESSED.get(encoding, "application/octet-stream")
    guessed: Optional[str] = kind
    return guessed


def _first_guess_flow(*names: Optional[str]) -> Flow[Optional[str]]:
    """The MIME type guessed from the first of ``names`` that tells one; None when none does."""
    for name in names:
        guessed = yield from guess_type_flow(name)
        if guessed:
            return guessed
    return None


def _field_value(name: str, value: object) -> str:
    """A field's value as Directus's multipart reader takes it: text, JSON for lists and dicts."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (dict, list, tuple)) or is_item(value):
        return encode_json(value).decode("utf-8")
    if hasattr(value, "isoformat"):
        text = value.isoformat()  # type: str  # a date, time or datetime
        return text
    raise TypeError("field %r: expected a string, number, boolean, None, list or dict, got %s"
                    % (name, type(value).__name__))


def _metadata_fields(fields: Mapping[str, Any]) -> List[Field]:
    """The Fields for one file's metadata; None values are left out."""
    out = []
    for name, value in fields.items():
        if name in _RESERVED_FIELDS:
            raise TypeError("%r cannot be given as a field: %s" % (name, _RESERVED_FIELDS[name]))
        if value is None:
            continue
        if name == "folder" and is_item(value):
            value = value.id
        out.append(Field(name, _field_value(name, value)))
    return out


class _Upload:
    """One file of an upload: its parts (fields, then the file part) and what identifies its record."""

    parts: List[Union[Field, FilePart]]

    def __init__(self, metadata: List[Field], part: FilePart, own_name: Optional[str],
                 fields: Mapping[str, Any]) -> None:
        self.part = part
        self.parts = metadata + [part]
        self.own_name = own_name
        self.given_name = fields.get("filename_download")
        self.size = part.source.size
        self.fields = {name: value.id if name == "folder" and is_item(value) else value
                       for name, value in fields.items() if value is not None}

    @property
    def filename_download(self) -> str:
        """What the record's filename_download will be: Directus prefers the field to the part's name."""
        return self.given_name or self.part.filename

    def rename(self, filename: str, content_type: str) -> None:
        """Set the file part's name and MIME type (after the upload was checked, before it is sent)."""
        self.part = self.parts[-1] = FilePart(self.part.name, filename, content_type, self.part.source)

    def sent_record(self, id: Union[str, int, None] = None) -> File:
        """A File of what was sent, for a server that does not let the uploader read the record back
        (a role that may create files but not read them: Directus then answers 204)."""
        record = dict(self.fields, id=id, filename_download=self.filename_download, type=self.part.content_type)
        if self.size is not None:
            record["filesize"] = self.size
        sent = models().File.from_dict(record)  # type: File
        return sent


def _upload_of_flow(file: AsyncFileSource, filename: Optional[str], mime_type: Optional[str],
                    fields: Mapping[str, Any], where: str, asynchronous: bool) -> Flow[_Upload]:
    """One file to upload, checked, its content opened."""
    if filename is not None and not isinstance(filename, str):
        raise TypeError("%s: filename must be a string, got %s" % (where, type(filename).__name__))
    if mime_type is not None and not isinstance(mime_type, str):
        raise TypeError("%s: mime_type must be a string, got %s" % (where, type(mime_type).__name__))
    metadata = _metadata_fields(fields)
    source, own_name = yield from _open_source_flow(file, asynchronous)
    try:
        name = filename or own_name or "file"
        mime = mime_type or (yield from _first_guess_flow(filename, own_name)) or "application/octet-stream"
        return _Upload(metadata, FilePart("file", name, mime, source), own_name, fields)
    except BaseException:
        _close_source(source)
        raise


def _upload_entry_flow(entry: Union[AsyncFileSource, Dict[str, Any]], common: Mapping[str, Any], index: int,
                       asynchronous: bool, query_names: Sequence[str] = ()) -> Flow[_Upload]:
    """An _Upload for one entry of ``upload_files``: a file, or a dict with "file" and its own fields."""
    where = "files[%d]" % index
    if isinstance(entry, dict):
        options = dict(entry)
        if "file" not in options:
            raise TypeError("%s: a dict entry needs the key 'file'" % where)
        for name in query_names:
            if name in options:
                raise TypeError("%s: %s is a query parameter of the whole request: give it to upload_files"
                                % (where, name))
        file = options.pop("file")
        filename = options.pop("filename", None)
        mime_type = options.pop("mime_type", None)
        fields = dict(common, **options)
    else:
        file, filename, mime_type, fields = entry, None, None, dict(common)
    return (yield from _upload_of_flow(file, filename, mime_type, fields, where, asynchronous))


def _in_upload_order(records: List[Dict[str, Any]], uploads: Sequence[_Upload]) -> List[Dict[str, Any]]:
    """``records`` in the order of ``uploads``: Directus answers several files in its own order."""
    if len(records) != len(uploads):
        return records
    remaining = list(records)
    ordered = []
    for upload in uploads:
        candidates = [r for r in remaining if r.get("filename_download") == upload.filename_download] or remaining
        if upload.size is not None:
            # compared as text: PostgreSQL answers the bigInteger filesize as a string
            candidates = [r for r in candidates if str(r.get("filesize")) == str(upload.size)] or candidates
        ordered.append(candidates[0])
        remaining.remove(candidates[0])
    return ordered


# --------------------------------------------------------------------------- assets

def _positive_int(name: str, value: object, maximum: Optional[int] = None) -> str:
    if not is_whole(value, None):
        raise TypeError("%s must be an integer, got %r" % (name, value))
    if value < 1 or (maximum is not None and value > maximum):
        raise ValueError("%s must be between 1 and %s, got %d" % (name, maximum or "any", value))
    return str(value)


def _asset_query(transform: Mapping[str, Any]) -> str:
    """The query string (without ``?``) of the asset transforms; bad ones raise TypeError/ValueError."""
    from urllib.parse import quote
    parts = []  # type: List[str]
    transform = dict(transform)

    def add(wire: str, text: str) -> None:
        parts.append("%s=%s" % (wire, quote(text, safe=",.:-_~")))

    key = transform.pop("key", None)
    if key is not None:
        if not isinstance(key, str) or not key:
            raise TypeError("key must be the non-empty key of an asset preset, got %r" % (key,))
        add("key", key)
    for name in ("width", "height"):
        value = transform.pop(name, None)
        if value is not None:
            add(name, _positive_int(name, value))
    fit = transform.pop("fit", None)
    if fit is not None:
        if fit not in _FITS:
            raise ValueError("fit must be one of %s, got %r" % (", ".join(_FITS), fit))
        add("fit", fit)
    quality = transform.pop("quality", None)
    if quality is not None:
        add("quality", _positive_int("quality", quality, 100))
    image_format = transform.pop("format", None)
    if image_format is not None:
        if image_format not in _FORMATS:
            raise ValueError("format must be one of %s, got %r" % (", ".join(_FORMATS), image_format))
        add("format", image_format)
    for name, wire in (("without_enlargement", "withoutEnlargement"), ("download", "download")):
        value = transform.pop(name, None)
        if value is not None and not isinstance(value, bool):
            raise TypeError("%s must be True or False, got %r" % (name, value))
        if value:  # Directus reads any value of these, "false" included, as yes: leave them out instead
            add(wire, "true")
    for name in ("focal_point_x", "focal_point_y"):
        value = transform.pop(name, None)
        if value is not None:
            if not is_whole(value):
                raise TypeError("%s must be a pixel position (an integer, 0 or more), got %r" % (name, value))
            add(name, str(value))
    transforms = transform.pop("transforms", None)
    if transforms is not None:
        if not isinstance(transforms, (list, tuple)) or not all(
                isinstance(step, (list, tuple)) and step and isinstance(step[0], str) for step in transforms):
            raise TypeError('transforms must be a list of [method, *arguments] lists, e.g. [["blur", 10]], got %r'
                            % (transforms,))
        try:
            add("transforms", encode_json(list(transforms)).decode("utf-8"))
        except TypeError as error:
            raise TypeError("transforms: %s" % error) from None
    if transform:
        raise TypeError("unexpected keyword argument%s %s; the asset transforms are key, width, height, fit, "
                        "quality, format, without_enlargement, focal_point_x, focal_point_y, transforms, download"
                        % ("s" if len(transform) > 1 else "", ", ".join(repr(k) for k in sorted(transform))))
    return "&".join(parts)


def disposition_filename(value: Optional[str]) -> Optional[str]:
    """The file name in a Content-Disposition header value (``filename*`` preferred), or None."""
    if not value:
        return None
    params = {}
    for name, raw in _DISPOSITION_PARAM.findall(value):
        raw = raw.strip()
        if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params[name.lower()] = raw
    extended = params.get("filename*")
    if extended and extended.count("'") >= 2:
        from urllib.parse import unquote
        charset, _, encoded = extended.split("'", 2)
        try:
            return unquote(encoded, encoding=charset or "utf-8", errors="strict")
        except (LookupError, UnicodeDecodeError):
            pass
    return params.get("filename") or None


def safe_filename(name: Optional[str], fallback: str = "download") -> str:
    """``name`` reduced to a base name that is safe to create in a folder of your choosing.

    Folders (``/`` and ``\\``) are dropped, control characters and the characters Windows refuses
    are removed or replaced, leading dots go (no hidden files, no ``..``), Windows device names get
    a ``_`` prefix and the name is cut to 255 bytes keeping its extension. ``fallback`` is used
    when nothing is left.
    """
    candidate = _base_name(name) or _base_name(fallback) or "download"
    if candidate.partition(".")[0].upper() in _WINDOWS_DEVICES:
        candidate = "_" + candidate
    while len(candidate.encode("utf-8")) > 255:
        stem, extension = os.path.splitext(candidate)
        if len(extension.encode("utf-8")) > 32:
            stem, extension = candidate, ""
        candidate = stem[:-1] + extension
    return candidate


def _base_name(name: Optional[str]) -> str:
    candidate = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    candidate = "".join("_" if c in '<>:"|?*' else c for c in candidate if c >= " " and c != "\x7f")
    return candidate.strip().lstrip(".").strip()


def _identity(headers: Headers) -> Identity:
    """What tells one version of a file from another: (ETag, Last-Modified). The ETag is compared
    weakly: a proxy that compresses an answer marks its ETag weak (nginx: ``W/"..."``), and the
    identity-encoded answer to a resuming Range request carries the same tag strong."""
    etag = headers.get("ETag")
    if etag is not None and etag[:2] == "W/":
        etag = etag[2:]
    return etag, headers.get("Last-Modified")


def _same_identity(first: Identity, second: Identity) -> bool:
    return all(a == b for a, b in zip(first, second) if a is not None and b is not None)


class _DownloadTarget:
    """A download into a path: checked before anything is sent (``check_download_target``), named
    from the answer when the path is a folder, written through a temporary file beside the target
    and moved into place once the content is complete (discarded otherwise)."""

    def __init__(self, folder: Optional[str], path: Optional[str], id_text: str, overwrite: bool) -> None:
        self.folder = folder  # a folder given: the file's name comes from the answer
        self.path = path
        self.id_text = id_text
        self.overwrite = overwrite
        self.temporary: Optional[Temporary] = None  # set by open_flow, which comes first

    def open_flow(self, response: Response) -> Flow[None]:
        """With the first answer: the name it gives, when a folder was given, and the temporary file."""
        if self.path is None:
            name = disposition_filename(response.headers.get("Content-Disposition"))
            self.path = os.path.join(self.folder or "", safe_filename(name, fallback=safe_filename(self.id_text)))
        self.temporary = yield LocalFile("create_temporary", self.path, self.overwrite)

    def complete_flow(self) -> Flow[None]:
        yield LocalFile("move_into_place", self.temporary, self.path, self.overwrite)

    def discard(self) -> None:
        """Close the temporary file, and remove it unless it became the target. A method of the
        room's object, called as is: the flow may be closing, and then it cannot yield."""
        if self.temporary is not None:
            self.temporary.discard()
            self.temporary = None


def _check_chunk_size(chunk_size: object) -> None:
    if not is_whole(chunk_size, 1):
        raise TypeError("chunk_size must be a positive integer, got %r" % (chunk_size,))


def _resumed(response: Response, url: str, done: int, total: Optional[int],
             identity: Identity) -> Tuple[int, Optional[int]]:
    """(bytes to skip, total) of an answer to a Range request from ``done``; a different file raises."""
    headers = response.headers
    changed = TransportError("the file changed on the server while it was being downloaded; download it again",
                             method="GET", url=url, may_have_been_processed=True)
    if not _same_identity(identity, _identity(headers)):
        raise changed
    if response.status == 206:
        match = _CONTENT_RANGE.match(headers.get("Content-Range") or "")
        if not match or int(match.group(1)) != done:
            raise TransportError("the server resumed the download at the wrong place (Content-Range: %s)"
                                 % headers.get("Content-Range"), method="GET", url=url, may_have_been_processed=True)
        size = None if match.group(3) == "*" else int(match.group(3))
        if total is not None and size is not None and size != total:
            raise changed
        return 0, total if total is not None else size
    length = header_int(headers, "Content-Length")
    if total is not None and length is not None and length != total:
        raise changed
    return done, total if total is not None else length


# --------------------------------------------------------------------------- the methods

class FileFlows:
    """The file methods of both clients (see the module docstring), and asset_url."""

    if TYPE_CHECKING:  # what the clients, which mix this in, bring
        url: str
        logger: Logger
        _policy: RequestPolicy
        _asynchronous: bool
        operations: Dict[str, Operation]

        def _raw_request(self, method: str, path: str, params: Optional[Mapping[str, Any]], json: Any, data: Any,
                         headers: Optional[Mapping[str, str]], auth: bool) -> Request: ...

    # --- uploads -----------------------------------------------------------------------------
    @helper("run")
    def upload_file(self, file: FileSource, *, filename: Optional[str] = None, mime_type: Optional[str] = None,
                    title: Optional[str] = None, folder: Union[str, Item, None] = None,
                    storage: Optional[str] = None, progress: Optional[Progress] = None,
                    fields: Optional[Fields] = None, **metadata: Any) -> Flow[File]:
        """Upload a file and return its record.

        POST /files (multipart/form-data)

        ``file``: a path, bytes, a binary file object (read from where it stands) or an iterable of
        bytes chunks (a generator is sent with chunked encoding, since its size is unknown; the
        async client takes an async iterable too). ``filename`` defaults to the path's or file
        object's name (else ``"file"``); ``mime_type`` is guessed from it. ``title`` (Directus
        derives one from the name otherwise), ``folder`` (a folder id), ``storage`` and any other
        ``directus_files`` field (``description``, ``tags``, ``metadata``, ``filename_download``,
        ...) are sent before the content, as Directus requires. ``progress(done, total)`` is called
        as content goes out (``total`` None when unknown); an exception raised in it cancels the
        upload. When the server does not let you read the record back (a role that may create
        files but not read them), the File holds what was sent and its ``id`` is None.

        ``fields`` (``["id", "title"]``) and the other global query parameters of ``create_file``
        (``deep``, ``alias``, ``backlink``, ...) go in the URL: Directus answers with the new
        record read through them.
        """
        metadata = dict(metadata, title=title, folder=folder, storage=storage, fields=fields)
        record_fields, query = self._upload_query(metadata, "upload_file()")
        upload = yield from _upload_of_flow(file, filename, mime_type, record_fields, "upload_file()",
                                            self._asynchronous)
        return (yield from self._upload_flow("POST", "/files", [upload], progress, query=query))[0]

    @helper("run")
    def upload_files(self, files: Iterable[Union[FileSource, Dict[str, Any]]], *,
                     progress: Optional[Progress] = None, fields: Optional[Fields] = None,
                     **metadata: Any) -> Flow[List[File]]:
        """Upload several files in one request; their records, in the order given.

        POST /files (multipart/form-data, one file part per file)

        Each entry is a file as ``upload_file`` takes it, or a dict with the key ``"file"`` and that
        file's own ``filename``, ``mime_type`` and fields. ``metadata`` fields are sent with every
        file (a dict entry's own fields win). ``progress(done, total)`` counts the bytes of all the
        files. ``fields`` and the other global query parameters, for the whole request, as for
        ``upload_file``.
        """
        _check_progress(progress)
        if isinstance(files, (str, bytes, bytearray, memoryview, dict)) or not hasattr(files, "__iter__"):
            raise TypeError("files must be a list of files (use upload_file for one), got %s" % type(files).__name__)
        for name in ("filename", "mime_type"):
            if name in metadata:
                raise TypeError("upload_files(): %s is per file: give {'file': ..., %r: ...} entries" % (name, name))
        record_fields, query = self._upload_query(dict(metadata, fields=fields), "upload_files()")
        query_names = [param.name for param in self.operations["upload_files"].query_params.values()]
        uploads = []  # type: List[_Upload]
        try:
            for index, entry in enumerate(files):
                uploads.append((yield from _upload_entry_flow(entry, record_fields, index, self._asynchronous,
                                                              query_names)))
            if not uploads:
                raise ValueError("files is empty: nothing to upload")
        except BaseException:
            _close_sources(part for upload in uploads for part in upload.parts)
            raise
        return (yield from self._upload_flow("POST", "/files", uploads, progress, query=query))

    @helper("run")
    def replace_file(self, id: Union[str, int], file: FileSource, *, filename: Optional[str] = None,
                     mime_type: Optional[str] = None, progress: Optional[Progress] = None,
                     fields: Optional[Fields] = None, **metadata: Any) -> Flow[File]:
        """Replace the content of file ``id``: it keeps its id and metadata (title, folder, tags, ...).

        PATCH /files/{id} (multipart/form-data)

        ``filename_download`` stays as it is unless ``filename`` is given (the current record is
        read first for it). ``mime_type`` defaults to a guess from ``filename``, else from the new
        content's own name (a path's), else the current type. ``metadata`` fields update the record
        at the same time. ``fields`` and the other global query parameters, and the other arguments,
        as for ``upload_file``.
        """
        path = "/files/" + quote_path_value("id", id)
        _check_progress(progress)
        record_fields, query = self._upload_query(dict(metadata, fields=fields), "replace_file()")
        upload = yield from _upload_of_flow(file, filename, mime_type, record_fields, "replace_file()",
                                            self._asynchronous)
        try:
            guessed = mime_type or (yield from _first_guess_flow(filename, upload.own_name))
            if filename is None or guessed is None:
                # Directus takes the file part's name for the new filename_download: send the current one
                request = self._raw_request("GET", path, {"fields": "filename_download,type"}, None, None, None, True)
                current = decode_raw((yield from self._policy.request_flow(request))) or {}
                upload.rename(filename or current.get("filename_download") or upload.part.filename,
                              guessed or current.get("type") or upload.part.content_type)
        except BaseException:
            _close_sources(upload.parts)
            raise
        return (yield from self._upload_flow("PATCH", path, [upload], progress, id, query))[0]

    def _upload_query(self, fields: Mapping[str, Any], where: str) -> Tuple[Dict[str, Any], str]:
        """(the record's fields, the URL's query) from an upload's keyword arguments.

        Directus answers an upload with the new record read through the request's global query
        (``fields``, ``deep``, ``alias``, ...), as every create does: keywords named as those are
        sent in the URL, checked and encoded as for ``create_file``, never as form fields.
        """
        params = self.operations["upload_files"].query_params  # wire name -> QueryParam
        names = {param.name: param.wire for param in params.values()}
        record, query = {}, {}  # type: Dict[str, Any], Dict[str, Any]
        for name, value in fields.items():
            wire = names.get(name)
            if wire is None:
                record[name] = value
            elif value is not None:
                query[wire] = value
        try:
            text = encode_query(query, params)
        except TypeError as error:
            raise TypeError("%s: %s" % (where, error)) from None
        return record, "?" + text if text else ""

    def _upload_flow(self, method: str, path: str, uploads: Sequence[_Upload], progress: Optional[Progress],
                     id: Union[str, int, None] = None, query: str = "") -> Flow[List[File]]:
        """Send the uploads as one multipart request; their records (File), in upload order.
        ``query``: the URL's query string, with its ``?``, or empty. The files are closed at the end."""
        parts = [part for upload in uploads for part in upload.parts]
        try:
            _check_progress(progress)
            encoder = MultipartEncoder(parts, progress=_guarded(progress))
            headers = dict(self._policy.headers_for(True))
            headers["Content-Type"] = encoder.content_type
            if encoder.length is not None:
                headers["Content-Length"] = str(encoder.length)
            request = Request(method, self.url + path + query, headers, encoder)
            response = yield from self._policy.request_flow(request)
        finally:
            _close_sources(parts)
        if response.status >= 300:
            raise error_from_response(response.status, response.headers, response.body, method, request.url,
                                      response.attempts)
        document = response.json() if response.status != 204 else None
        data = document.get("data") if isinstance(document, dict) else None
        if data is None:  # uploaded, but this role may not read files: what was sent
            return [upload.sent_record(id) for upload in uploads]
        if isinstance(data, dict):
            data = [data]
        return [models().File.from_dict(record) for record in _in_upload_order(data, uploads)]

    # --- downloads ---------------------------------------------------------------------------
    def asset_url(self, id: Union[str, int], *, include_token: bool = False, **transform: Any) -> str:
        """The URL of file ``id``'s content (for an ``<img src>`` or a link), with ``transform``.

        GET /assets/{id}

        The URL carries no token unless ``include_token=True``: then anyone holding the URL can
        read the file as you for as long as the token lives (a password session's access token
        expires after ACCESS_TOKEN_TTL; a static token until it is changed). Without it, the file
        must be readable by the public role. Transforms as for ``download_file``. This method
        sends nothing: a password session needs a fresh access token already (after ``login()``,
        or any other call), else DirectusError.
        """
        if not isinstance(include_token, bool):
            raise TypeError("include_token must be True or False, got %r" % (include_token,))
        url = self._asset_url(id, transform)
        if include_token:
            token = self._url_token()
            if token:
                from urllib.parse import quote
                url += ("&" if "?" in url else "?") + "access_token=" + quote(token, safe="")
        return url

    def _url_token(self) -> Optional[str]:
        """The token ``asset_url`` puts in a URL: the client's access token flow, when it needs no
        effect (a static token, a fresh access token, or no credentials). asset_url is a plain
        method of both clients: it cannot log in or refresh."""
        from .auth import access_token_flow
        from ..errors import DirectusError
        flow = access_token_flow(self._policy)
        try:
            flow.send(None)
        except StopIteration as done:  # the flow's result: (token, expiry)
            token: Optional[str] = done.value[0]
            return token
        flow.close()
        raise DirectusError("asset_url(include_token=True) needs a fresh access token: call login() (await it on "
                            "the async client), or any other method, first")

    def _asset_url(self, id: Union[str, int], transform: Mapping[str, Any]) -> str:
        url = self.url + "/assets/" + quote_path_value("id", id)
        query = _asset_query(transform)
        return url + "?" + query if query else url

    @helper("iterate")
    def iter_file(self, id: Union[str, int], *, chunk_size: int = 64 * 1024, progress: Optional[Progress] = None,
                  **transform: Any) -> Delivering[bytes]:
        """The content of file ``id`` as an iterator of chunks of at most ``chunk_size`` bytes.

        GET /assets/{id}

        The request goes out when iteration starts; a drop midway resumes where it stopped (see
        the module docstring). Close the iterator (or finish it) to release the connection.
        Transforms as for ``download_file``.
        """
        url = self._asset_url(id, transform)
        _check_chunk_size(chunk_size)
        _check_progress(progress)
        yield from self._asset_flow(url, chunk_size, progress)
        return None

    @helper("run")
    def download_file(self, id: Union[str, int], dest: Union[str, os.PathLike[str], BinaryIO], *,
                      overwrite: bool = False, progress: Optional[Progress] = None,
                      chunk_size: int = _DOWNLOAD_CHUNK, **transform: Any) -> Flow[Optional[str]]:
        """Download the content of file ``id`` into ``dest``: a path, a folder, or a binary file object.

        GET /assets/{id}

        A path is written through a temporary file renamed into place once the content is complete
        and verified; an existing file is not replaced unless ``overwrite=True`` (FileExistsError).
        Into an existing folder (or a path ending with a separator) the file goes under the name
        the server gives, reduced to a safe base name. Returns the path written, or None for a file
        object (written from where it stands; it holds what arrived if the download fails). A drop
        midway resumes with a Range request.
        ``progress(done, total)`` is called as bytes arrive.

        Image transforms: ``width``, ``height``, ``fit`` (cover, contain, inside, outside),
        ``quality`` (1-100), ``format`` (auto, jpg, png, webp, tiff, avif), ``without_enlargement``,
        ``focal_point_x``, ``focal_point_y``, ``transforms`` (a list of sharp steps, e.g.
        ``[["blur", 10]]``) and ``key`` (a storage asset preset). ``download=True`` asks for an
        attachment disposition.
        """
        url = self._asset_url(id, transform)
        _check_chunk_size(chunk_size)
        _check_progress(progress)
        if not isinstance(overwrite, bool):
            raise TypeError("overwrite must be True or False, got %r" % (overwrite,))
        if isinstance(dest, (str, os.PathLike)):
            path = os.fspath(dest)
            if isinstance(path, bytes):
                path = os.fsdecode(path)
            if not path:
                raise ValueError("dest is an empty path")
            folder, file_path = yield LocalFile("check_download_target", path, overwrite)
            target = _DownloadTarget(folder, file_path, str(id), overwrite)
            try:
                yield from self._asset_flow(url, chunk_size, progress, target=target)
                yield from target.complete_flow()
            finally:
                target.discard()
            return target.path
        if hasattr(dest, "write"):
            import io
            if isinstance(dest, io.TextIOBase):
                raise TypeError("dest must be opened in binary mode ('wb'), not text mode")
            if getattr(dest, "closed", False):
                raise ValueError("dest is closed")
            yield from self._asset_flow(url, chunk_size, progress, sink=dest)
            return None
        raise TypeError("dest must be a path or a binary file object, got %s" % type(dest).__name__)

    def _open_asset_flow(self, url: str, offset: int) -> Flow[Response]:
        """The streamed answer to GET ``url`` from byte ``offset`` on; an error status raises."""
        headers = dict(self._policy.headers_for(True))
        headers["Accept"] = "*/*"
        if offset:
            headers["Range"] = "bytes=%d-" % offset
        response = yield from self._policy.request_flow(Request("GET", url, headers, None, True, stream=True))
        if response.status >= 300 or response.stream is None:
            raise error_from_response(response.status, response.headers, response.body or b"", "GET", url)
        return response

    def _asset_flow(self, url: str, chunk_size: int, progress: Optional[Progress],
                    target: Optional[_DownloadTarget] = None, sink: Optional[object] = None) -> Flow[None]:
        """The content at ``url``, chunk by chunk, written (``LocalFile("write", ...)``) into the
        temporary file of ``target``, or into ``sink`` (a caller's binary file object), or else
        delivered; drops and short bodies resume where they stopped.

        A resumed answer must be the same file: a 206 must start where we stopped, and a 200 (the
        server ignores Range for transformed images) must have the same size and validators; its
        first bytes, already delivered, are skipped. Drops that bring no new byte are retried as
        many times as the client's ``retries``, with backoff; drops that make progress always are.
        """
        done = 0
        total = None  # type: Optional[int]
        identity = (None, None)  # type: Identity  # set from the first answer, before it is read
        first = True
        stalls = 0
        while True:
            response = yield from self._open_asset_flow(url, done)
            stream: ResponseStream = response.stream  # type: ignore[assignment]  # _open_asset_flow checked it
            try:  # no yield in the finally below: closing a stream is the same call for both clients
                skip = 0
                if first:
                    first = False
                    total = header_int(response.headers, "Content-Length")
                    if response.status == 206:  # a server that answers a plain GET with a range: trust it not
                        total = None
                    identity = _identity(response.headers)
                    if target is not None:
                        yield from target.open_flow(response)
                        sink = target.temporary
                else:
                    skip, total = _resumed(response, url, done, total, identity)
                before = done
                failure = None  # type: Optional[TransportError]
                while True:
                    try:
                        chunk = yield Read(stream, chunk_size)
                    except TransportError as error:
                        failure = error
                        break
                    if not chunk:
                        break
                    if skip:
                        if len(chunk) <= skip:
                            skip -= len(chunk)
                            continue
                        chunk, skip = chunk[skip:], 0
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total)
                    if sink is None:
                        yield Deliver(chunk)
                    else:
                        yield LocalFile("write", sink, chunk)
                if failure is None:
                    if total is None or done >= total:
                        return
                    failure = TransportError("the answer was cut short: %d of %d bytes" % (done, total),
                                             method="GET", url=url, may_have_been_processed=True)
            finally:
                stream.close()
            stalls = 0 if done > before else stalls + 1
            retry = self._policy.retry
            if stalls > retry.retries:
                raise failure
            self.logger.debug("download of %s dropped at %d of %s bytes (%s): resuming", url, done,
                              total if total is not None else "?", failure.message)
            if stalls:
                yield Sleep(retry.backoff(stalls - 1))


# --------------------------------------------------------------------------- multipart payloads of operations

class MultipartPayload:
    """The body ``build_request`` gives an operation whose payload is ``multipart`` (``import_items``,
    ...): ``data`` checked, its files not opened yet. ``multipart_call_flow`` makes the body of it
    (opening files is an effect) before the request goes out; sending it as it is fails."""

    def __init__(self, data: Dict[str, Any]) -> None:
        self.data = data

    def __iter__(self) -> Iterator[bytes]:
        raise RuntimeError("a multipart payload goes out through multipart_call_flow, which opens its files")


def multipart_body(data: object) -> MultipartPayload:
    """The multipart payload of an operation (``import_items``, ...), checked without opening its files.

    ``data`` maps form names to values: a string, number, boolean, list or dict is a field; bytes,
    a binary file object, a path given as ``pathlib.Path`` (a plain string is a field value), or a
    ``(filename, content)`` or ``(filename, content, content_type)`` tuple is a file part.
    """
    if not isinstance(data, dict) or not data:
        raise TypeError("a multipart payload is a non-empty dict of form fields and files, got %r" % (data,))
    for name, value in data.items():
        if not isinstance(name, str) or not name:
            raise TypeError("form names must be non-empty strings, got %r" % (name,))
        content = value[1] if isinstance(value, tuple) and 2 <= len(value) <= 3 else value
        if content is value and not _is_file_value(value):
            _field_value(name, value)  # a bad field raises now
        elif isinstance(content, (str, os.PathLike)):
            source_path(content)
        elif hasattr(content, "read"):
            check_binary_file(content)
        elif not isinstance(content, (bytes, bytearray, memoryview)) and (
                isinstance(content, dict) or is_item(content) or not hasattr(content, "__iter__")):
            raise TypeError("form %r: a file's content is bytes, a binary file object, a path or an iterable of "
                            "bytes chunks, got %s" % (name, type(content).__name__))
    return MultipartPayload(dict(data))


def _is_file_value(value: object) -> bool:
    return isinstance(value, (bytes, bytearray, memoryview, os.PathLike)) or hasattr(value, "read")


def multipart_encoder_flow(payload: MultipartPayload) -> Flow[MultipartEncoder]:
    """The body of ``payload``: its files opened and their types guessed (effects). On failure,
    what was opened is closed; on success the caller closes it (``close_body``)."""
    parts = []  # type: List[Union[Field, FilePart]]
    try:
        for name, value in payload.data.items():
            filename = content_type = None  # type: Optional[str]
            if isinstance(value, tuple) and 2 <= len(value) <= 3:
                filename, value, content_type = (tuple(value) + (None,))[:3]
            elif not _is_file_value(value):
                parts.append(Field(name, _field_value(name, value)))
                continue
            source, own_name = yield from _open_source_flow(value)
            try:
                filename = filename or own_name or name
                guessed = content_type or (yield from guess_type_flow(filename)) or "application/octet-stream"
                parts.append(FilePart(name, filename, guessed, source))
            except BaseException:
                _close_source(source)
                raise
        return MultipartEncoder(parts)
    except BaseException:
        _close_sources(parts)
        raise


def multipart_call_flow(request: Request, call: Callable[[Request], Flow[Any]]) -> Flow[Any]:
    """Run ``call`` (the flow of an operation's call) with ``request``, its ``MultipartPayload`` body
    made into the multipart body first; the files it opened are closed at the end."""
    payload = request.body
    if not isinstance(payload, MultipartPayload):
        return (yield from call(request))
    encoder = yield from multipart_encoder_flow(payload)
    try:
        headers = dict(request.headers)
        headers["Content-Type"] = encoder.content_type
        if encoder.length is not None:
            headers["Content-Length"] = str(encoder.length)
        ready = Request(request.method, request.url, headers, encoder, request.auth, request.stream,
                        request.follow_redirects)
        return (yield from call(ready))
    finally:
        _close_sources(encoder.parts)
