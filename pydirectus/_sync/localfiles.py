"""The local-file operations of the core's flows: each ``LocalFile("name", *args)`` effect is a call
of the function ``name`` here (see ``_core/effects.py``). The sync runner calls it; the async
runner calls it in a thread, so that the event loop goes on meanwhile.

The core decides what to open, where a download goes and when it is complete; these functions only
do it. What they return (an open file, a ``Temporary``) goes back into the flow, which hands it to
the next operation; reading an open upload's chunks is the transport's, as it sends the body (see
``_core/files.py``).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is never imported at run time
    from typing import Any, BinaryIO, Optional, Tuple

__all__ = ["QUICK", "open_to_read", "describe", "read_at", "guess_type", "check_download_target", "create_temporary",
           "write", "move_into_place", "discard", "Temporary"]


# What the async runner does in the event loop rather than in a thread: writing a download's chunk
# (at most a few hundred KiB, into an open file) takes microseconds, less than a thread's handoff.
QUICK = frozenset({"write"})


# --- reading files to send ------------------------------------------------------------------------

def open_to_read(path: str) -> BinaryIO:
    """``path`` opened for reading, unbuffered (FileNotFoundError, IsADirectoryError, ...)."""
    handle: BinaryIO = open(path, "rb", buffering=0)
    return handle


def describe(handle: Any) -> Tuple[bool, int, Optional[int]]:
    """(seekable, where it stands, bytes from there to its end or None) of a binary file object.

    A regular file's size comes from the file system; another seekable object's from seeking to its
    end and back. A pipe or a socket is not seekable: its size is unknown.
    """
    seekable = False
    try:
        seekable = bool(handle.seekable())
    except (AttributeError, OSError, ValueError):
        pass
    if not seekable:
        return False, 0, None
    start: int = handle.tell()
    size: Optional[int] = None
    try:
        import stat
        info = os.fstat(handle.fileno())
        if stat.S_ISREG(info.st_mode):
            size = info.st_size
    except (AttributeError, OSError, ValueError):  # io.BytesIO and friends have no fileno
        pass
    if size is None:
        size = handle.seek(0, 2)
        handle.seek(start)
    return True, start, max(0, size - start)


def read_at(handle: BinaryIO, position: int, size: int) -> bytes:
    """``size`` bytes of ``handle`` from ``position`` (a TUS chunk: megabytes)."""
    handle.seek(position)
    return handle.read(size)


def guess_type(filename: str) -> Tuple[Optional[str], Optional[str]]:
    """``mimetypes.guess_type(filename, strict=False)``: (type, encoding). The first call reads the
    system's MIME tables."""
    import mimetypes
    return mimetypes.guess_type(filename, strict=False)


# --- writing downloads ------------------------------------------------------------------------------

def check_download_target(path: str, overwrite: bool) -> Tuple[Optional[str], Optional[str]]:
    """(folder, None) when ``path`` is an existing folder, or ends with a separator (the server
    names the file); (None, path) for a file path. Raises before anything is sent: FileExistsError
    for an existing file without ``overwrite``, FileNotFoundError for a missing folder."""
    separators = (os.sep,) + ((os.altsep,) if os.altsep else ())
    if os.path.isdir(path) or path.endswith(separators):
        if not os.path.isdir(path):
            raise FileNotFoundError("no such folder: %s" % path)
        return path, None
    if os.path.lexists(path) and not overwrite:
        raise FileExistsError("%s exists: pass overwrite=True to replace it" % path)
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise FileNotFoundError("no such folder: %s" % parent)
    return None, path


class Temporary:
    """A download's temporary file, beside its target (same file system, so it can be renamed into
    place): written, then moved into place (``move_into_place``) or discarded.

    ``discard`` is also called by the flow directly, as it ends (finished, failed, or closed early:
    a closed flow cannot yield an effect any more); it does nothing once the file is in place.
    """

    def __init__(self, path: str, handle: BinaryIO) -> None:
        self.path: Optional[str] = path
        self.handle = handle

    def write(self, data: bytes) -> None:
        self.handle.write(data)

    def discard(self) -> None:
        """Close the file, and remove it unless it became the target."""
        if not self.handle.closed:
            self.handle.close()
        if self.path is not None:
            try:
                os.unlink(self.path)
            except OSError:
                pass
            self.path = None


def create_temporary(target: str, overwrite: bool) -> Temporary:
    """A new temporary file beside ``target``; FileExistsError when ``target`` exists and not
    ``overwrite`` (a server-named file in a folder is checked here, once the name is known)."""
    if not overwrite and os.path.lexists(target):
        raise FileExistsError("%s exists: pass overwrite=True to replace it" % target)
    folder, name = os.path.split(target)
    name = name.encode("utf-8")[:200].decode("utf-8", "ignore")  # room for the suffix within 255 bytes
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        path = os.path.join(folder, ".%s.%s.part" % (name, os.urandom(4).hex()))
        try:
            descriptor = os.open(path, flags, 0o666)  # the umask applies, as for any new file
        except FileExistsError:
            continue
        return Temporary(path, os.fdopen(descriptor, "wb"))
    raise FileExistsError("could not create a temporary file beside %s" % target)


def write(handle: Any, data: bytes) -> None:
    """Write ``data`` to ``handle`` (a ``Temporary``, or the binary file object a caller gave)."""
    handle.write(data)


def move_into_place(temporary: Temporary, target: str, overwrite: bool) -> None:
    """Close ``temporary`` and give it the name ``target``: atomically, and never over an existing
    file unless ``overwrite`` (FileExistsError, even for a file created a moment ago)."""
    temporary.handle.close()
    path = temporary.path
    if path is None:
        raise ValueError("the temporary file of %s was discarded" % target)
    if overwrite:
        os.replace(path, target)
        temporary.path = None
        return
    try:
        os.link(path, target)  # fails if target exists, even one created a moment ago
    except FileExistsError:
        raise FileExistsError("%s exists: pass overwrite=True to replace it" % target) from None
    except (AttributeError, NotImplementedError, OSError):  # no hard links here (FAT, some mounts)
        if os.path.lexists(target):
            raise FileExistsError("%s exists: pass overwrite=True to replace it" % target) from None
        os.rename(path, target)
        temporary.path = None
        return
    temporary.path = None
    try:
        os.unlink(path)
    except OSError:
        pass


def discard(temporary: Temporary) -> None:
    """``temporary.discard()``: close and remove it."""
    temporary.discard()
