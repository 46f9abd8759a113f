"""multipart/form-data request bodies, streamed, without any I/O of their own.

``MultipartEncoder`` lays out form fields and file parts in the order given and hands the body
out chunk by chunk; a file part's content comes from a *content source* (see ``ContentSource``;
``files.py`` has those for paths and file objects) and is passed through, never gathered in memory.
Directus reads a file's form fields (title, folder, storage, ...) before the file part and starts
afresh after each file, so put each file's fields right before it (``files.py`` does).
"""

from __future__ import annotations

import os

from ..errors import is_whole

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is never imported at run time
    from typing import (AsyncGenerator, AsyncIterable, AsyncIterator, Callable, Generator, Iterable, Iterator, List,
                        Optional, Protocol, Union)

    Chunk = Union[bytes, bytearray, memoryview]

    class ContentSource(Protocol):
        """What a file part's content comes from. ``size``: the number of bytes it yields, or None
        when unknown (a generator, a pipe); ``replayable``: whether ``chunks()`` may be called
        again to start over (a path, a seekable file, bytes), or only once (a generator, a pipe);
        ``chunks()``: the content as bytes-like chunks, from the start. A source may have
        ``asynchronous`` True: its chunks are awaited (an async iterator), and a body with it
        can only be sent with ``async for`` (by the async transport)."""

        @property
        def size(self) -> Optional[int]: ...

        @property
        def replayable(self) -> bool: ...

        def chunks(self) -> Union[Iterator[Chunk], AsyncIterator[Chunk]]: ...

    # what _body yields: a chunk of the body, or an async source's iterator to be pulled; it is sent the chunk pulled
    Body = Generator[Union[Chunk, AsyncIterator[Chunk]], Optional[Chunk], None]

__all__ = ["MultipartEncoder", "Field", "FilePart", "BytesContent", "IterableContent", "quote_parameter",
           "make_boundary"]

CRLF = b"\r\n"
_FORBIDDEN_IN_HEADERS = ("\r", "\n", "\x00")


def make_boundary() -> str:
    """A random boundary: 128 bits make a collision with the content out of the question."""
    return "pydirectus-" + os.urandom(16).hex()


def quote_parameter(what: str, value: str) -> str:
    """``value`` as a quoted-string for a Content-Disposition parameter (``name``, ``filename``).

    Backslash and double quote are escaped with a backslash (busboy, Directus's parser, reads
    that); other characters, non-ASCII included, go as UTF-8, the way browsers send them. CR, LF
    and NUL cannot be represented and raise ValueError.
    """
    if not isinstance(value, str):
        raise TypeError("%s must be a string, got %s" % (what, type(value).__name__))
    if not value:
        raise ValueError("%s must not be empty" % what)
    if any(character in value for character in _FORBIDDEN_IN_HEADERS):
        raise ValueError("%s must not contain CR, LF or NUL: %r" % (what, value))
    return '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"')


def _check_content_type(content_type: str) -> None:
    if not isinstance(content_type, str) or not content_type.strip():
        raise TypeError("content_type must be a non-empty string, got %r" % (content_type,))
    if any(character in content_type for character in _FORBIDDEN_IN_HEADERS):
        raise ValueError("content_type must not contain CR, LF or NUL: %r" % (content_type,))
    try:
        content_type.encode("ascii")
    except UnicodeEncodeError:
        raise ValueError("content_type must be ASCII: %r" % (content_type,)) from None


class BytesContent:
    """A content source over bytes (or any bytes-like object), handed out in slices, not copied."""

    replayable = True

    def __init__(self, data: Union[bytes, bytearray, memoryview], chunk_size: int = 1024 * 1024) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("data must be bytes-like, got %s" % type(data).__name__)
        self._view = memoryview(data).cast("B")
        self.size = self._view.nbytes
        self._chunk_size = chunk_size

    def chunks(self) -> Iterator[memoryview]:
        view, step = self._view, self._chunk_size
        for start in range(0, len(view), step):
            yield view[start:start + step]


class IterableContent:
    """A content source over an iterable, or an async iterable, of bytes chunks.

    A list or tuple can be read again and its size is known; any other iterable (a generator) or
    async iterable is read once and its size is unknown unless given. A chunk that is not
    bytes-like raises TypeError.
    """

    def __init__(self, iterable: Union[Iterable[Chunk], AsyncIterable[Chunk]], size: Optional[int] = None) -> None:
        self.asynchronous = hasattr(iterable, "__aiter__")
        if not self.asynchronous and (isinstance(iterable, (str, bytes, bytearray, memoryview, dict))
                                      or not hasattr(iterable, "__iter__")):
            raise TypeError("expected an iterable of bytes chunks, got %s" % type(iterable).__name__)
        self._iterable = iterable
        self.replayable = False
        if isinstance(iterable, (list, tuple)):
            self.replayable = True
            for index, chunk in enumerate(iterable):
                _check_chunk(chunk, index)
            if size is None:
                size = sum(memoryview(chunk).nbytes for chunk in iterable)
        self.size = size

    def chunks(self) -> Union[Iterator[Chunk], AsyncIterator[Chunk]]:
        iterable = self._iterable
        if not hasattr(iterable, "__aiter__"):  # self.asynchronous, said so that a type checker narrows the type
            return _checked(iterable)
        return _checked_async(iterable)  # type: ignore[arg-type]  # it has __aiter__: mypy cannot narrow on hasattr


def _checked(iterable: Iterable[Chunk]) -> Iterator[Chunk]:
    for index, chunk in enumerate(iterable):
        _check_chunk(chunk, index)
        yield chunk


async def _checked_async(iterable: AsyncIterable[Chunk]) -> AsyncIterator[Chunk]:
    index = 0
    async for chunk in iterable:
        _check_chunk(chunk, index)
        index += 1
        yield chunk


def _check_chunk(chunk: object, index: int) -> None:
    if not isinstance(chunk, (bytes, bytearray, memoryview)):
        raise TypeError("chunk %d of the content is %s, not bytes" % (index, type(chunk).__name__))


class Field:
    """A form field: ``name`` and a string value (sent as UTF-8) or bytes."""

    __slots__ = ("name", "value")

    def __init__(self, name: str, value: Union[str, bytes]) -> None:
        quote_parameter("a field name", name)
        if isinstance(value, str):
            value = value.encode("utf-8")
        elif not isinstance(value, (bytes, bytearray)):
            raise TypeError("the value of field %r must be a string or bytes, got %s"
                            % (name, type(value).__name__))
        self.name = name
        self.value = bytes(value)

    def header(self, boundary: bytes) -> bytes:
        return (b"--" + boundary + CRLF
                + ("Content-Disposition: form-data; name=%s" % quote_parameter("a field name", self.name)).encode()
                + CRLF + CRLF)

    def __repr__(self) -> str:
        return "Field(%r, %d bytes)" % (self.name, len(self.value))


class FilePart:
    """A file part: field ``name``, ``filename``, ``content_type`` and a content ``source``."""

    __slots__ = ("name", "filename", "content_type", "source")

    def __init__(self, name: str, filename: str, content_type: str, source: ContentSource) -> None:
        quote_parameter("a field name", name)
        quote_parameter("filename", filename)
        _check_content_type(content_type)
        for member in ("size", "replayable", "chunks"):
            if not hasattr(source, member):
                raise TypeError("a content source needs size, replayable and chunks(); %r has no %s"
                                % (source, member))
        size = source.size
        if size is not None and not is_whole(size):
            raise ValueError("the size of a content source must be a whole number of bytes, got %r" % (size,))
        self.name = name
        self.filename = filename
        self.content_type = content_type
        self.source = source

    def header(self, boundary: bytes) -> bytes:
        disposition = "Content-Disposition: form-data; name=%s; filename=%s" % (
            quote_parameter("a field name", self.name), quote_parameter("filename", self.filename))
        return (b"--" + boundary + CRLF + disposition.encode("utf-8") + CRLF
                + b"Content-Type: " + self.content_type.encode("ascii") + CRLF + CRLF)

    def __repr__(self) -> str:
        return "FilePart(%r, %r, %r)" % (self.name, self.filename, self.content_type)


class MultipartEncoder:
    """A multipart/form-data body over ``parts`` (Fields and FileParts, sent in this order).

    Iterate it to get the body chunk by chunk (the transport does). ``content_type`` is the value of
    the Content-Type header, ``length`` the body's size in bytes or None when a source's size is
    unknown. ``progress(done, total)``, if given, is called as file content goes out: bytes of file
    content handed on so far and their total (None when unknown); after a rewind it counts again
    from zero. A source that yields more or fewer bytes than its stated size raises ValueError,
    since the Content-Length already sent would be a lie.
    """

    parts: List[Union[Field, FilePart]]

    def __init__(self, parts: Iterable[Union[Field, FilePart]], boundary: Optional[str] = None,
                 progress: Optional[Callable[[int, Optional[int]], object]] = None) -> None:
        parts = list(parts)
        for part in parts:
            if not isinstance(part, (Field, FilePart)):
                raise TypeError("parts must be Field or FilePart objects, got %r" % (part,))
        if boundary is None:
            boundary = make_boundary()
        if not isinstance(boundary, str) or not 1 <= len(boundary) <= 70 or not all(
                character.isalnum() or character in "'()+_,-./:=?" for character in boundary):
            raise ValueError("a boundary is 1 to 70 letters, digits or '()+_,-./:=?, got %r" % (boundary,))
        if progress is not None and not callable(progress):
            raise TypeError("progress must be a callable taking (done, total), got %r" % (progress,))
        self.boundary = boundary
        self.parts = parts
        self.progress = progress
        self.content_type = "multipart/form-data; boundary=" + boundary
        self._boundary = boundary.encode("ascii")
        self._closing = b"--" + self._boundary + b"--" + CRLF
        self.content_length = 0  # type: Optional[int]  # of the files' content only
        for part in parts:
            if isinstance(part, FilePart):
                size = part.source.size
                if size is None or self.content_length is None:
                    self.content_length = None
                else:
                    self.content_length += size
        self.length = None  # type: Optional[int]
        if self.content_length is not None:
            framing = sum(len(part.header(self._boundary)) + len(CRLF) for part in parts)
            values = sum(len(part.value) for part in parts if isinstance(part, Field))
            self.length = framing + values + self.content_length + len(self._closing)
        self._started = False

    @property
    def replayable(self) -> bool:
        """Whether the whole body can be sent again from the start."""
        return all(part.source.replayable for part in self.parts if isinstance(part, FilePart))

    def rewind(self) -> bool:
        """Make the next iteration start from the beginning (a retry after a connection failure);
        False if it cannot: a one-shot source was already (partly) read, and the request policy
        then gives up instead of sending half a file. No I/O here: a source seeks or reopens when
        it is iterated again."""
        if not self._started:
            return True
        if not self.replayable:
            return False
        self._started = False
        return True

    @property
    def asynchronous(self) -> bool:
        """Whether a source is asynchronous: the body must then be sent with ``async for``."""
        return any(getattr(part.source, "asynchronous", False) for part in self.parts if isinstance(part, FilePart))

    def __iter__(self) -> Iterator[Chunk]:
        if self.asynchronous:
            raise TypeError("this body has an async iterable source: send it with an async client "
                            "(AsyncDirectusClient), which reads it with async for")
        return self._start()  # type: ignore[return-value]  # without an async source, _body yields only chunks

    def __aiter__(self) -> AsyncIterator[Chunk]:
        return _pulled_async(self._start())

    def _start(self) -> Body:
        if self._started:
            raise RuntimeError("this multipart body was already sent: rewind() it before sending it again")
        self._started = True
        return self._body()

    def _body(self) -> Body:
        """The body's chunks, one generator for both ways of sending, so the framing and every check
        are written once. A plain source is read here; for an async one the generator yields the
        source's iterator and is sent its next chunk back (None once it is exhausted).

        The last chunk of each file goes out in one piece with the framing after it (the CRLF
        ending the part, later fields, the closing boundary), so a small body is one chunk. Why:
        Directus's JSON import (import.js, importJSON) never answers when a file's last row arrives
        in one read and the end of its part in a later one (its save queue has drained by then, and
        it waits for a drain that never comes), holding SQLite's only connection until
        IMPORT_TIMEOUT (1 h). A client paused between the two sends, on a loaded machine, set it off.
        """
        boundary = self._boundary
        progress = self.progress
        total = self.content_length
        done = 0
        pending = b""  # framing waiting for the next content (bytes)
        for part in self.parts:
            if isinstance(part, Field):
                pending += part.header(boundary) + part.value + CRLF
                continue
            pending += part.header(boundary)
            expected = part.source.size
            sent = 0
            held = None  # type: Optional[Chunk]  # the latest chunk, held back until we know whether it is the last
            chunks = part.source.chunks()
            plain = None if hasattr(chunks, "__anext__") else chunks  # None: an async source, pulled by yielding it
            while True:
                # an async source's chunks is an AsyncIterator, which mypy cannot tell from hasattr(__anext__)
                chunk = (yield chunks) if plain is None else next(plain, None)  # type: ignore[misc]
                if chunk is None:
                    break
                length = memoryview(chunk).nbytes
                if not length:
                    continue
                if expected is not None and sent + length > expected:
                    raise ValueError("the content of %r is longer than its size of %d bytes (did the file grow "
                                     "while it was being sent?)" % (part.filename, expected))
                sent += length
                if held is not None:
                    if pending:
                        yield pending
                        pending = b""
                    yield held
                    done += memoryview(held).nbytes
                    if progress is not None:
                        progress(done, total)
                held = chunk
            if expected is not None and sent != expected:
                raise ValueError("the content of %r ended after %d of its %d bytes (did the file shrink "
                                 "while it was being sent?)" % (part.filename, sent, expected))
            if held is not None:
                pending = pending + held + CRLF  # a copy of the last chunk, with the framing around it
                done += memoryview(held).nbytes
                if progress is not None:
                    progress(done, total)  # counted as it is handed on, with the end of its part
            else:
                pending += CRLF
        yield pending + self._closing

    def __repr__(self) -> str:
        return "<MultipartEncoder %d parts, %s>" % (
            len(self.parts), "%d bytes" % self.length if self.length is not None else "length unknown")


_BYTES = (bytes, bytearray, memoryview)


async def _pulled_async(body: Body) -> AsyncGenerator[Chunk, None]:
    """The chunks of ``_body`` for ``async for``: the chunks of async sources are awaited here.

    Plain sources are read by ``_body`` in the event loop. For a local file that is a read of at
    most 128 KiB from the page cache or the disk, microseconds: less than handing it to a thread.
    """
    try:
        chunk = None  # type: Optional[Chunk]
        while True:
            try:
                piece = body.send(chunk)
            except StopIteration:
                return
            chunk = None
            if isinstance(piece, _BYTES):
                yield piece
            else:
                try:
                    chunk = await piece.__anext__()
                except StopAsyncIteration:
                    pass
    finally:
        body.close()
