"""A sans-I/O WebSocket client (RFC 6455): bytes in, events out, no sockets, no threads.

``ClientConnection`` does what a client must do on the wire: the opening handshake, masked
framing, reassembly of fragments, incremental UTF-8 validation, a message size limit checked
before anything is buffered, automatic pongs and the close handshake. Feed it
``receive_data(bytes)`` (``b""`` for end of file), which returns the events decoded, and write
``data_to_send()`` to the socket after every call. Both realtime rooms drive it.
"""

from __future__ import annotations

import base64
import codecs
import hashlib
import os
import struct

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is never imported at run time
    from typing import Any, Callable, Dict, Iterable, List, Literal, Optional, Tuple, Union

__all__ = [
    "ClientConnection", "HandshakeError", "ConnectionClosedError",
    "Event", "Accepted", "TextMessage", "BinaryMessage", "Ping", "Pong", "Closed",
    "accept_key", "mask", "encode_frame", "is_valid_close_code",
    "OP_CONTINUATION", "OP_TEXT", "OP_BINARY", "OP_CLOSE", "OP_PING", "OP_PONG",
]

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONTINUATION, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA
_DATA_OPCODES = (OP_CONTINUATION, OP_TEXT, OP_BINARY)
_CONTROL_OPCODES = (OP_CLOSE, OP_PING, OP_PONG)

# Close codes (RFC 6455 section 7.4.1 and the IANA registry).
NORMAL_CLOSURE = 1000
PROTOCOL_ERROR = 1002
NO_STATUS_RECEIVED = 1005   # local only: a close frame without a code
ABNORMAL_CLOSURE = 1006     # local only: the connection ended without a close frame
INVALID_PAYLOAD = 1007
MESSAGE_TOO_BIG = 1009
# Codes a peer may put on the wire below 3000; 1004 is reserved, 1005, 1006 and 1015 are local only.
_WIRE_CODES = frozenset((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014))

_MAX_HEAD = 65536           # the largest handshake reply head accepted
_MAX_CONTROL_PAYLOAD = 125
_MAX_CLOSE_REASON = 123     # 125 minus the two bytes of the code

# States of a connection.
CONNECTING, OPEN, CLOSING, CLOSED = "CONNECTING", "OPEN", "CLOSING", "CLOSED"


class HandshakeError(Exception):
    """The server did not accept the upgrade: ``status`` (None when the reply was not HTTP) and
    ``headers`` (a dict with lower-case names) say what it answered."""

    def __init__(self, message: str, status: Optional[int] = None, headers: Optional[Dict[str, str]] = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


class ConnectionClosedError(Exception):
    """Raised when sending on a connection that is closing or closed."""


# --- events ---------------------------------------------------------------------------------

class Event:
    """What ``ClientConnection.receive_data`` hands out: one of the classes below."""

    __slots__: Tuple[str, ...] = ()

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and all(
            getattr(self, name) == getattr(other, name) for name in self.__slots__)

    def __repr__(self) -> str:
        return "%s(%s)" % (type(self).__name__, ", ".join(
            "%s=%r" % (name, getattr(self, name)) for name in self.__slots__))


class Accepted(Event):
    """The server accepted the upgrade; ``subprotocol`` is the one it chose, or None."""

    __slots__ = ("subprotocol", "headers")

    def __init__(self, subprotocol: Optional[str] = None, headers: Optional[Dict[str, str]] = None) -> None:
        self.subprotocol = subprotocol
        self.headers = headers or {}


class TextMessage(Event):
    """A whole text message (fragments already joined), as ``str``."""

    __slots__ = ("data",)

    def __init__(self, data: str) -> None:
        self.data = data


class BinaryMessage(Event):
    """A whole binary message, as ``bytes``."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class Ping(Event):
    """A ping frame; its pong is already queued in ``data_to_send()``."""

    __slots__ = ("payload",)

    def __init__(self, payload: bytes = b"") -> None:
        self.payload = payload


class Pong(Event):
    __slots__ = ("payload",)

    def __init__(self, payload: bytes = b"") -> None:
        self.payload = payload


class Closed(Event):
    """The connection is closed: no more events will come.

    ``code`` and ``reason`` are the peer's (1005 for a close frame without a code, 1006 when the
    connection ended without one), or ours when we failed the connection because of a protocol
    violation: then ``error`` says what the peer did wrong. Once a Closed event is returned,
    write the remaining ``data_to_send()`` and close the TCP connection.
    """

    __slots__ = ("code", "reason", "error")

    def __init__(self, code: int, reason: str = "", error: Optional[str] = None) -> None:
        self.code = code
        self.reason = reason
        self.error = error


class _Failure(Exception):
    """A protocol violation by the peer: fail the connection with ``code`` (RFC 6455 section
    7.1.7): a close frame with 1002, 1007 or 1009 is queued and a ``Closed`` event with an
    ``error`` is returned."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


# --- pure helpers -----------------------------------------------------------------------------

def accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` value a server must answer to ``Sec-WebSocket-Key`` ``key``."""
    digest = hashlib.sha1((key + GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def mask(key: bytes, data: bytes) -> bytes:
    """``data`` XOR the 4-byte ``key`` repeated (masking and unmasking are the same operation).

    XOR of two big integers: pure Python, yet fast, as websocket-client does without wsaccel.
    """
    length = len(data)
    if not length:
        return b""
    key_stream = (key * (length // 4 + 1))[:length]
    return (int.from_bytes(data, "big") ^ int.from_bytes(key_stream, "big")).to_bytes(length, "big")


def encode_frame(opcode: int, payload: bytes, fin: bool = True, mask_key: Optional[bytes] = None) -> bytes:
    """One frame. ``mask_key`` (4 bytes) masks it, as every client frame must be."""
    length = len(payload)
    first = (0x80 if fin else 0) | opcode
    mask_bit = 0x80 if mask_key is not None else 0
    if length < 126:
        header = struct.pack("!BB", first, mask_bit | length)
    elif length < 65536:
        header = struct.pack("!BBH", first, mask_bit | 126, length)
    else:
        header = struct.pack("!BBQ", first, mask_bit | 127, length)
    if mask_key is None:
        return header + payload
    return header + mask_key + mask(mask_key, payload)


def is_valid_close_code(code: int) -> bool:
    """Whether a peer may send ``code`` in a close frame (RFC 6455 section 7.4)."""
    return code in _WIRE_CODES or 3000 <= code <= 4999


def _truncate_utf8(text: str, limit: int) -> bytes:
    """``text`` encoded, cut to at most ``limit`` bytes without splitting a character."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return data
    return data[:limit].decode("utf-8", "ignore").encode("utf-8")


def _header_tokens(value: Optional[str]) -> List[str]:
    return [token.strip().lower() for token in (value or "").split(",") if token.strip()]


def _check_header_value(name: str, value: str) -> None:
    if any(c in value for c in "\r\n\0"):
        raise ValueError("the %s header must not contain CR, LF or NUL" % name)


# --- the connection ----------------------------------------------------------------------------

class ClientConnection:
    """One client WebSocket connection, as a state machine without I/O.

    ``host`` is the Host header (with the port when it is not the scheme's default),
    ``resource`` the request target (path and query). ``subprotocols`` are offered in
    ``Sec-WebSocket-Protocol``; ``headers`` are extra request headers (name, value) pairs.
    ``max_size`` bounds a message (and so a frame) in bytes. ``random_bytes(n)`` is the source of
    the handshake key and of the masking keys (``os.urandom``; injectable for tests).
    """

    def __init__(self, host: str, resource: str, subprotocols: Iterable[str] = (),
                 headers: Iterable[Tuple[str, str]] = (), max_size: int = 64 * 1024 * 1024,
                 random_bytes: Callable[[int], bytes] = os.urandom) -> None:
        for name, value in [("Host", host), ("request target", resource)] + list(headers):
            _check_header_value(name, value)
        self.host = host
        self.resource = resource
        self.subprotocols = tuple(subprotocols)
        self.extra_headers = tuple(headers)
        self.max_size = max_size
        self._random_bytes = random_bytes
        self.key = base64.b64encode(random_bytes(16)).decode("ascii")
        self.state = CONNECTING
        self.subprotocol: Optional[str] = None
        self.close_code: Optional[int] = None      # of the Closed event, once closed
        self.close_reason: Optional[str] = None
        self._buffer = bytearray()  # received and not yet parsed
        self._outgoing = bytearray()
        self._close_sent = False
        self._message_opcode: Optional[int] = None  # OP_TEXT or OP_BINARY while a fragmented message is open
        self._message_parts: List[Any] = []  # str for a text message, bytes for a binary one
        self._message_size = 0
        self._decoder: Optional[codecs.IncrementalDecoder] = None  # of a text message only

    # --- the handshake -------------------------------------------------------------------
    def handshake_request(self) -> bytes:
        """The bytes of the upgrade request, to write before anything else."""
        lines = ["GET %s HTTP/1.1" % self.resource, "Host: %s" % self.host, "Upgrade: websocket",
                 "Connection: Upgrade", "Sec-WebSocket-Key: %s" % self.key, "Sec-WebSocket-Version: 13"]
        if self.subprotocols:
            lines.append("Sec-WebSocket-Protocol: %s" % ", ".join(self.subprotocols))
        lines.extend("%s: %s" % pair for pair in self.extra_headers)
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _receive_handshake(self) -> Optional[Accepted]:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > _MAX_HEAD:
                self.state = CLOSED
                raise HandshakeError("the server's handshake reply is longer than %d bytes" % _MAX_HEAD)
            return None
        head = bytes(self._buffer[:end]).decode("latin-1")
        del self._buffer[:end + 4]  # what follows the head is frames: keep it for the parser
        lines = head.split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            self.state = CLOSED
            raise HandshakeError("the server did not answer with HTTP: %r" % lines[0][:100])
        status = int(parts[1])
        headers: Dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                name = name.strip().lower()
                value = value.strip()
                headers[name] = headers[name] + ", " + value if name in headers else value
        self.state = CLOSED  # until proven otherwise
        if status != 101:
            reason = parts[2] if len(parts) > 2 else ""
            raise HandshakeError("the server refused the WebSocket upgrade: %d %s" % (status, reason),
                                 status, headers)
        if "websocket" not in _header_tokens(headers.get("upgrade")):
            raise HandshakeError("the 101 reply has no 'Upgrade: websocket'", status, headers)
        if "upgrade" not in _header_tokens(headers.get("connection")):
            raise HandshakeError("the 101 reply has no 'Connection: Upgrade'", status, headers)
        if headers.get("sec-websocket-accept") != accept_key(self.key):
            raise HandshakeError("the server's Sec-WebSocket-Accept does not match the key sent",
                                 status, headers)
        if headers.get("sec-websocket-extensions"):
            raise HandshakeError("the server chose an extension that was not offered: %s"
                                 % headers["sec-websocket-extensions"], status, headers)
        subprotocol = headers.get("sec-websocket-protocol")
        if subprotocol is not None and subprotocol not in self.subprotocols:
            raise HandshakeError("the server chose a subprotocol that was not offered: %r" % subprotocol,
                                 status, headers)
        self.state = OPEN
        self.subprotocol = subprotocol
        return Accepted(subprotocol, headers)

    # --- receiving -----------------------------------------------------------------------
    def receive_data(self, data: bytes) -> List[Event]:
        """Take bytes read from the socket (``b""``: the peer closed TCP); returns the events.

        Raises HandshakeError while the handshake reply is refused or invalid.
        """
        if self.state == CLOSED:
            return []
        if not data:
            return [self._closed(ABNORMAL_CLOSURE, "")]
        self._buffer += data
        events: List[Event] = []
        if self.state == CONNECTING:
            accepted = self._receive_handshake()
            if accepted is None:
                return events
            events.append(accepted)
        try:
            while self.state in (OPEN, CLOSING):
                event = self._next_frame_event()
                if event is None:
                    break
                if event is not True:
                    events.append(event)
        except _Failure as failure:
            events.append(self._fail(failure.code, str(failure)))
        return events

    def _next_frame_event(self) -> Union[Event, Literal[True], None]:
        """Parse one frame from the buffer: an event, True (a frame with no event yet), or None."""
        buffer = self._buffer
        if len(buffer) < 2:
            return None
        first, second = buffer[0], buffer[1]
        fin, opcode = first & 0x80, first & 0x0F
        if first & 0x70:
            raise _Failure(PROTOCOL_ERROR, "a frame has reserved bits set (no extension was agreed)")
        if opcode not in _DATA_OPCODES and opcode not in _CONTROL_OPCODES:
            raise _Failure(PROTOCOL_ERROR, "unknown opcode 0x%X" % opcode)
        if second & 0x80:
            raise _Failure(PROTOCOL_ERROR, "the server sent a masked frame")
        length = second & 0x7F
        offset = 2
        if length == 126:
            if len(buffer) < 4:
                return None
            length = struct.unpack_from("!H", buffer, 2)[0]
            offset = 4
        elif length == 127:
            if len(buffer) < 10:
                return None
            length = struct.unpack_from("!Q", buffer, 2)[0]
            offset = 10
            if length >> 63:
                raise _Failure(PROTOCOL_ERROR, "a 64-bit frame length has its top bit set")
        if opcode in _CONTROL_OPCODES:
            if length > _MAX_CONTROL_PAYLOAD:
                raise _Failure(PROTOCOL_ERROR, "a control frame is longer than 125 bytes")
            if not fin:
                raise _Failure(PROTOCOL_ERROR, "a control frame is fragmented")
        else:
            # before buffering the payload: a peer must not make us hold more than max_size
            if self._message_size + length > self.max_size:
                raise _Failure(MESSAGE_TOO_BIG, "a message is larger than max_size (%d bytes)" % self.max_size)
        if len(buffer) < offset + length:
            return None
        payload = bytes(buffer[offset:offset + length])
        del buffer[:offset + length]
        if opcode == OP_PING:
            if not self._close_sent:
                self._queue_frame(OP_PONG, payload)
            return Ping(payload)
        if opcode == OP_PONG:
            return Pong(payload)
        if opcode == OP_CLOSE:
            return self._receive_close(payload)
        return self._receive_data_frame(opcode, payload, bool(fin))

    def _receive_data_frame(self, opcode: int, payload: bytes,
                            fin: bool) -> Union[TextMessage, BinaryMessage, Literal[True]]:
        if opcode == OP_CONTINUATION:
            if self._message_opcode is None:
                raise _Failure(PROTOCOL_ERROR, "a continuation frame without a message to continue")
            opcode = self._message_opcode
        else:
            if self._message_opcode is not None:
                raise _Failure(PROTOCOL_ERROR, "a new message started inside a fragmented one")
            self._message_opcode = opcode
            self._message_size = 0
            self._message_parts = []
            self._decoder = codecs.getincrementaldecoder("utf-8")() if opcode == OP_TEXT else None
        self._message_size += len(payload)
        decoder = self._decoder
        if decoder is not None:  # a text message
            try:
                self._message_parts.append(decoder.decode(payload, final=fin))
            except UnicodeDecodeError:
                raise _Failure(INVALID_PAYLOAD, "a text message is not valid UTF-8") from None
        else:
            self._message_parts.append(payload)
        if not fin:
            return True
        parts, self._message_parts = self._message_parts, []
        self._message_opcode = self._decoder = None
        self._message_size = 0
        if opcode == OP_TEXT:
            return TextMessage("".join(parts))
        return BinaryMessage(b"".join(parts))

    def _receive_close(self, payload: bytes) -> Closed:
        if len(payload) == 1:
            raise _Failure(PROTOCOL_ERROR, "a close frame with a one-byte payload")
        if not payload:
            code, reason = NO_STATUS_RECEIVED, ""
        else:
            code = struct.unpack_from("!H", payload)[0]
            if not is_valid_close_code(code):
                raise _Failure(PROTOCOL_ERROR, "invalid close code %d" % code)
            try:
                reason = payload[2:].decode("utf-8")
            except UnicodeDecodeError:
                raise _Failure(INVALID_PAYLOAD, "a close reason is not valid UTF-8") from None
        if not self._close_sent:  # echo it, as section 5.5.1 asks
            self._queue_frame(OP_CLOSE, payload[:2])
            self._close_sent = True
        return self._closed(code, reason)

    def _closed(self, code: int, reason: str, error: Optional[str] = None) -> Closed:
        self.state = CLOSED
        self.close_code, self.close_reason = code, reason
        return Closed(code, reason, error)

    def _fail(self, code: int, message: str) -> Closed:
        """Fail the connection (section 7.1.7): send a close frame with ``code``, stop reading."""
        if not self._close_sent:
            self._queue_frame(OP_CLOSE, struct.pack("!H", code) + _truncate_utf8(message, _MAX_CLOSE_REASON))
            self._close_sent = True
        self._buffer.clear()
        return self._closed(code, message, message)

    # --- sending -------------------------------------------------------------------------
    def _queue_frame(self, opcode: int, payload: bytes, fin: bool = True) -> None:
        self._outgoing += encode_frame(opcode, payload, fin, self._random_bytes(4))

    def _check_open(self) -> None:
        if self.state != OPEN:
            raise ConnectionClosedError("the WebSocket connection is %s" % self.state.lower())

    def send_text(self, text: str) -> None:
        self._check_open()
        self._queue_frame(OP_TEXT, text.encode("utf-8"))

    def send_binary(self, data: Union[bytes, bytearray, memoryview]) -> None:
        self._check_open()
        self._queue_frame(OP_BINARY, bytes(data))

    def send_ping(self, payload: bytes = b"") -> None:
        self._check_open()
        if len(payload) > _MAX_CONTROL_PAYLOAD:
            raise ValueError("a ping payload is at most 125 bytes")
        self._queue_frame(OP_PING, payload)

    def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        """Start the close handshake: the connection is CLOSING until the peer's close frame."""
        if self.state == CONNECTING:
            self.state = CLOSED
            return
        if self.state != OPEN:
            return
        if code == NO_STATUS_RECEIVED:
            payload = b""
        elif is_valid_close_code(code):
            payload = struct.pack("!H", code) + _truncate_utf8(reason, _MAX_CLOSE_REASON)
        else:
            raise ValueError("%r cannot be sent as a close code" % (code,))
        self._queue_frame(OP_CLOSE, payload)
        self._close_sent = True
        self.state = CLOSING

    def data_to_send(self) -> bytes:
        """The bytes to write to the socket now (empty when there is nothing)."""
        data = bytes(self._outgoing)
        self._outgoing.clear()
        return data
