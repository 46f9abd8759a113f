"""Resumable uploads over the TUS 1.0 protocol (``/files/tus``; the server needs TUS_ENABLED=true).

TUS speaks in headers (Upload-Length, Upload-Offset, Upload-Metadata) rather than JSON, so its
five endpoints are written by hand here; the spec lists them as ``hand_written``. On top of them,
``upload_file_resumable`` sends a file chunk by chunk and, when a chunk is lost, asks the server
how far it got and goes on from there: nothing is sent twice and nothing is skipped.

Each method is a helper written once in ``TusFlows`` for both clients, as in ``files.py``.
"""

from __future__ import annotations

from ..errors import DirectusError, ForbiddenError, TransportError, error_from_response, is_whole
from .effects import LocalFile
from .files import check_binary_file, guess_type_flow, source_path
from .helpers import helper
from .records import Request, decode_result, header_int, quote_path_value

__all__ = ["TusFlows"]

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is never imported at run time
    import os
    from typing import Any, BinaryIO, Callable, Dict, Mapping, Optional, Tuple, Union

    from .effects import Flow
    from .records import Response
    from ..models import File
    from .policy import RequestPolicy
    from .spec import Operation

_TUS_VERSION = "1.0.0"
_DEFAULT_CHUNK = 8 * 1024 * 1024


def _encode_metadata(metadata: Mapping[str, Any]) -> str:
    """Upload-Metadata: comma-separated ``key base64(value)`` pairs."""
    import base64
    pairs = []
    for key, value in metadata.items():
        if value is None:
            continue
        if not key or any(c in key for c in " ,\r\n"):
            raise ValueError("Upload-Metadata key %r must not be empty or hold spaces or commas" % key)
        pairs.append("%s %s" % (key, base64.b64encode(str(value).encode("utf-8")).decode("ascii")))
    return ",".join(pairs)


def _offset(response: Response) -> int:
    """The Upload-Offset of a TUS answer, which must have one."""
    offset = header_int(response.headers, "Upload-Offset")
    if offset is None:
        raise DirectusError("the TUS answer lacks a valid Upload-Offset header (got %r)"
                            % (response.headers.get("Upload-Offset"),))
    return offset


class TusFlows:
    """The TUS methods of both clients (see the module docstring)."""

    if TYPE_CHECKING:  # what the clients, which mix this in, bring
        url: str
        _policy: RequestPolicy
        operations: Dict[str, Operation]

        def _call_flow(self, operation: Operation, path_values: Mapping[str, Any], data: Any,
                       query_values: Mapping[str, Any], model: Optional[type]) -> Flow[Any]: ...

    def _tus_flow(self, method: str, path: str, headers: Optional[Mapping[str, str]] = None,
                  body: Optional[bytes] = None) -> Flow[Response]:
        all_headers = dict(self._policy.headers_for(True))
        all_headers["Tus-Resumable"] = _TUS_VERSION
        all_headers.update(headers or {})
        request = Request(method, self.url + path, all_headers, body)
        response = yield from self._policy.request_flow(request)
        if response.status >= 300:
            raise error_from_response(response.status, response.headers, response.body, method, request.url,
                                      response.attempts)
        return response

    @helper("run")
    def create_tus_upload(self, length: int, *, filename: Optional[str] = None, mime_type: Optional[str] = None,
                          metadata: Optional[Mapping[str, Any]] = None) -> Flow[str]:
        """Start a resumable upload of ``length`` bytes; returns the upload's id.

        POST /files/tus

        ``metadata`` holds other fields of the file record Directus creates (``folder``, ``title``,
        ``id`` of a file to replace, ...). Directus refuses an upload without a file name
        (``filename``, or ``filename_download`` in ``metadata``) or of length 0.
        """
        upload_id, _ = yield from self._create_tus_upload_flow(length, filename, mime_type, metadata)
        return upload_id

    def _create_tus_upload_flow(self, length: int, filename: Optional[str], mime_type: Optional[str],
                                metadata: Optional[Mapping[str, Any]]) -> Flow[Tuple[str, Optional[str]]]:
        """(upload id, the file record's id if the answer names it: Directus 10 names it here, on
        the POST; 11 and 12 only in the answer to the last chunk)."""
        if not is_whole(length):
            raise ValueError("length must be a whole number of bytes, got %r" % (length,))
        fields = dict(metadata or {})
        if filename is not None:
            # Directus reads the download name from this key; "filename" would be stored nowhere
            fields["filename_download"] = filename
        if mime_type is not None:
            fields["type"] = mime_type
        headers = {"Upload-Length": str(length)}
        if fields:
            headers["Upload-Metadata"] = _encode_metadata(fields)
        response = yield from self._tus_flow("POST", "/files/tus", headers)
        location = response.headers.get("Location") or ""
        upload_id = location.rstrip("/").rpartition("/")[2]
        if not upload_id:
            raise DirectusError("the TUS answer to POST /files/tus has no Location header")
        return upload_id, response.headers.get("Directus-File-Id") or None

    def _send_tus_chunk_flow(self, id: str, offset: int,
                             chunk: Union[bytes, bytearray, memoryview]) -> Flow[Response]:
        """The answer to the PATCH of ``chunk`` at ``offset`` (its headers say where the upload stands)."""
        if not isinstance(chunk, (bytes, bytearray, memoryview)):
            raise TypeError("chunk must be bytes, got %s" % type(chunk).__name__)
        return (yield from self._tus_flow(
            "PATCH", "/files/tus/" + quote_path_value("id", id),
            {"Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"}, bytes(chunk)))

    @helper("run")
    def upload_tus_chunk(self, id: str, offset: int, chunk: Union[bytes, bytearray, memoryview]) -> Flow[int]:
        """Send ``chunk`` (bytes) at byte ``offset`` of upload ``id``; returns the new offset.

        PATCH /files/tus/{id}
        """
        return _offset((yield from self._send_tus_chunk_flow(id, offset, chunk)))

    @helper("run")
    def read_tus_upload_offset(self, id: str) -> Flow[Tuple[int, Optional[int]]]:
        """How many bytes of upload ``id`` the server has: ``(offset, length)``.

        HEAD /files/tus/{id}
        """
        response = yield from self._tus_flow("HEAD", "/files/tus/" + quote_path_value("id", id))
        return _offset(response), header_int(response.headers, "Upload-Length")

    @helper("run")
    def delete_tus_upload(self, id: str) -> Flow[None]:
        """Abandon upload ``id``.

        DELETE /files/tus/{id}
        """
        yield from self._tus_flow("DELETE", "/files/tus/" + quote_path_value("id", id))

    @helper("run")
    def read_tus_options(self, id: str = "capabilities") -> Flow[Dict[str, Any]]:
        """The server's TUS capabilities: ``{"version", "extensions", "max_size"}``.

        OPTIONS /files/tus/{id}
        """
        response = yield from self._tus_flow("OPTIONS", "/files/tus/" + quote_path_value("id", id))
        # Directus 10 sends no Tus-Version, only the Tus-Resumable of the protocol it speaks
        return {"version": response.headers.get("Tus-Version") or response.headers.get("Tus-Resumable"),
                "extensions": [name.strip() for name in (response.headers.get("Tus-Extension") or "").split(",")
                               if name.strip()],
                "max_size": header_int(response.headers, "Tus-Max-Size")}

    @helper("run")
    def upload_file_resumable(self, file: Union[str, os.PathLike[str], BinaryIO], *, filename: Optional[str] = None,
                              mime_type: Optional[str] = None, metadata: Optional[Mapping[str, Any]] = None,
                              chunk_size: int = _DEFAULT_CHUNK,
                              progress: Optional[Callable[[int, Optional[int]], Any]] = None,
                              max_resumes: int = 10) -> Flow[File]:
        """Upload a file chunk by chunk over TUS, resuming after lost chunks; returns its File.

        ``file`` is a path or a seekable binary file object. ``progress(done, total)`` is called
        after each chunk. A chunk whose answer is lost is not resent blindly: the server is asked
        for its offset first. When the lost answer was the last one, the server has already
        forgotten the upload and DirectusError says the file may exist.
        """
        import os
        if not is_whole(chunk_size, 1):
            raise ValueError("chunk_size must be a positive number of bytes")
        if isinstance(file, (str, os.PathLike)):
            path = source_path(file)
            handle: BinaryIO = yield LocalFile("open_to_read", path)
            owned = True
            filename = filename or os.path.basename(path)
        elif hasattr(file, "read") and hasattr(file, "seek"):
            check_binary_file(file)
            handle, owned = file, False  # it reads and seeks: a binary file object
            filename = filename or os.path.basename(getattr(file, "name", "") or "") or None
        else:
            raise TypeError("file must be a path or a seekable binary file object")
        try:
            seekable, start, length = yield LocalFile("describe", handle)
            if not seekable:
                raise TypeError("file must be a path or a seekable binary file object")
            if mime_type is None and filename:
                mime_type = yield from guess_type_flow(filename)
            # the server would answer both with a misleading "Upload-Metadata is invalid"
            if length == 0:
                raise ValueError("Directus refuses empty TUS uploads; send an empty file with a plain upload")
            if not filename and not (metadata or {}).get("filename_download"):
                raise ValueError("Directus needs a file name for a TUS upload: pass filename=")
            # the helpers' own functions: on a client, self.create_tus_upload is the method that runs one
            upload_id, file_id = yield from self._create_tus_upload_flow(length, filename, mime_type, metadata)
            offset, resumes = 0, 0
            while offset < length:
                chunk = yield LocalFile("read_at", handle, start + offset, min(chunk_size, length - offset))
                try:
                    response = yield from self._send_tus_chunk_flow(upload_id, offset, chunk)
                except TransportError:
                    resumes += 1
                    if resumes > max_resumes:
                        raise
                    offset = yield from self._tus_resume_offset_flow(upload_id)
                    continue
                offset = _offset(response)
                # Only the answer to the last chunk names the file record (Directus 10: the answer
                # to the POST did): partial uploads are hidden from /files, and Directus forgets
                # the upload id once it is complete.
                file_id = response.headers.get("Directus-File-Id") or file_id
                if progress is not None:
                    progress(offset, length)
        finally:
            if owned:
                handle.close()  # the room's file object: a closing flow cannot yield an effect
        if not file_id:
            raise DirectusError("the TUS upload %s is complete but the server did not name its file record"
                                % upload_id)
        record: File = yield from self._call_flow(self.operations["read_file"], {"id": file_id}, None, {}, None)
        return record

    def _tus_resume_offset_flow(self, upload_id: str) -> Flow[int]:
        """Where to go on after a chunk whose answer was lost."""
        try:
            return (yield from TusFlows.read_tus_upload_offset(self, upload_id))[0]
        except ForbiddenError:
            # Directus forgets an upload once its last byte is in, and only the lost answer named
            # the file it became: which record that is cannot be found out reliably.
            raise DirectusError("the answer to a chunk of TUS upload %s was lost and the server no longer "
                                "knows the upload: it may have completed; look for the file before "
                                "uploading again" % upload_id) from None
