"""AsyncDirectusClient's file, asset and TUS methods: the flows of ``files.py`` and ``tus.py``, awaited.

Each method has the name, parameters, docstring (its ``DirectusClient`` twin's own, copied) and
guarantees of the sync one, because both run the same flow: argument checks, requests, resume
decisions, progress and the handling of the target file are written once, in ``files.FileFlows``
and ``tus.TusFlows``; ``async_driver.AsyncFlowRunner`` performs their effects on the event loop:

    Exchange   awaits the client's ``_send`` (the session policy over the async transport)
    Read       awaits the streamed answer's ``read``
    Sleep      awaits the client's sleep (``asyncio.sleep`` unless replaced)
    Blocking   runs in the event loop's default executor (a TUS chunk: megabytes of a local file)
    Deliver    is yielded by ``iter_file``'s async generator

An upload's content goes out with ``async for`` (``MultipartEncoder.__aiter__``), which awaits an
async iterable source; local files are read, and downloads written, 128 KiB at a time in the event
loop (see ``files.py``: microseconds each, less than a thread handoff).
"""

from __future__ import annotations

from .runner import AsyncFlowRunner
from .._core.auth import access_token_flow
from .._core.effects import FlowSteps
from ..errors import DirectusError
from .._core.files import _DOWNLOAD_CHUNK, FileFlows, FilesMixin
from .._core.tus import _DEFAULT_CHUNK, TusFlows, TusMixin

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is never imported at run time
    import os
    from typing import (Any, AsyncIterator, BinaryIO, Callable, Dict, Iterable, List, Mapping, Optional, Tuple,
                        TypeVar, Union)

    from .._core.files import AsyncFileSource, Fields, Progress
    from ..models import File, Item

    _Method = TypeVar("_Method", bound=Callable[..., Any])

__all__ = ["AsyncFilesMixin", "AsyncTusMixin"]


def _twin_of(sync_method: Callable[..., Any]) -> Callable[[_Method], _Method]:
    """Gives the decorated coroutine method the docstring of its DirectusClient twin."""
    def document(method: _Method) -> _Method:
        method.__doc__ = sync_method.__doc__
        return method
    return document


class AsyncFilesMixin(FileFlows, AsyncFlowRunner):
    """The file and asset methods of AsyncDirectusClient (see ``files.py``)."""

    def _url_token(self) -> Optional[str]:
        """The token ``asset_url`` puts in a URL: the client's access token flow, when it needs no
        I/O. asset_url is a plain method, so it cannot log in: a password session needs a fresh
        access token (after ``await directus.login()``, or any other call)."""
        flow = access_token_flow(self._session)
        try:
            flow.send(None)
        except StopIteration as done:  # the flow's result: (token, expiry)
            token = done.value[0]  # type: Optional[str]
            return token
        flow.close()
        raise DirectusError("asset_url(include_token=True) needs a fresh access token: "
                            "await directus.login() (or any other call) first")

    # --- uploads -----------------------------------------------------------------------------
    @_twin_of(FilesMixin.upload_file)
    async def upload_file(self, file: AsyncFileSource, *, filename: Optional[str] = None,
                          mime_type: Optional[str] = None, title: Optional[str] = None,
                          folder: Union[str, Item, None] = None, storage: Optional[str] = None,
                          progress: Optional[Progress] = None, fields: Optional[Fields] = None,
                          **metadata: Any) -> File:
        metadata = dict(metadata, title=title, folder=folder, storage=storage, fields=fields)
        return await self._run(self._upload_file_flow(file, filename, mime_type, metadata, progress))

    @_twin_of(FilesMixin.upload_files)
    async def upload_files(self, files: Iterable[Union[AsyncFileSource, Dict[str, Any]]], *,
                           progress: Optional[Progress] = None, fields: Optional[Fields] = None,
                           **metadata: Any) -> List[File]:
        return await self._run(self._upload_files_flow(files, progress, dict(metadata, fields=fields)))

    @_twin_of(FilesMixin.replace_file)
    async def replace_file(self, id: Union[str, int], file: AsyncFileSource, *, filename: Optional[str] = None,
                           mime_type: Optional[str] = None, progress: Optional[Progress] = None,
                           fields: Optional[Fields] = None, **metadata: Any) -> File:
        metadata = dict(metadata, fields=fields)
        return await self._run(self._replace_file_flow(id, file, filename, mime_type, progress, metadata))

    # --- downloads ---------------------------------------------------------------------------
    @_twin_of(FilesMixin.iter_file)
    def iter_file(self, id: Union[str, int], *, chunk_size: int = 64 * 1024, progress: Optional[Progress] = None,
                  **transform: Any) -> AsyncIterator[bytes]:
        return self._iterate(FlowSteps(self._iter_file_flow(id, chunk_size, progress, transform)))

    @_twin_of(FilesMixin.download_file)
    async def download_file(self, id: Union[str, int], dest: Union[str, os.PathLike[str], BinaryIO], *,
                            overwrite: bool = False, progress: Optional[Progress] = None,
                            chunk_size: int = _DOWNLOAD_CHUNK, **transform: Any) -> Optional[str]:
        return await self._run(self._download_file_flow(id, dest, overwrite, progress, chunk_size, transform))


class AsyncTusMixin(TusFlows, AsyncFlowRunner):
    """The TUS methods of AsyncDirectusClient (see ``tus.py``)."""

    @_twin_of(TusMixin.create_tus_upload)
    async def create_tus_upload(self, length: int, *, filename: Optional[str] = None,
                                mime_type: Optional[str] = None, metadata: Optional[Mapping[str, Any]] = None) -> str:
        return await self._run(self._create_tus_upload_flow(length, filename, mime_type, metadata))

    @_twin_of(TusMixin.upload_tus_chunk)
    async def upload_tus_chunk(self, id: str, offset: int, chunk: Union[bytes, bytearray, memoryview]) -> int:
        return await self._run(self._upload_tus_chunk_flow(id, offset, chunk))

    @_twin_of(TusMixin.read_tus_upload_offset)
    async def read_tus_upload_offset(self, id: str) -> Tuple[int, Optional[int]]:
        return await self._run(self._read_tus_upload_offset_flow(id))

    @_twin_of(TusMixin.delete_tus_upload)
    async def delete_tus_upload(self, id: str) -> None:
        await self._run(self._delete_tus_upload_flow(id))

    @_twin_of(TusMixin.read_tus_options)
    async def read_tus_options(self, id: str = "capabilities") -> Dict[str, Any]:
        return await self._run(self._read_tus_options_flow(id))

    @_twin_of(TusMixin.upload_file_resumable)
    async def upload_file_resumable(self, file: Union[str, os.PathLike[str], BinaryIO], *,
                                    filename: Optional[str] = None,
                                    mime_type: Optional[str] = None, metadata: Optional[Mapping[str, Any]] = None,
                                    chunk_size: int = _DEFAULT_CHUNK,
                                    progress: Optional[Callable[[int, Optional[int]], Any]] = None,
                                    max_resumes: int = 10) -> File:
        return await self._run(self._upload_file_resumable_flow(file, filename, mime_type, metadata, chunk_size,
                                                                progress, max_resumes))
