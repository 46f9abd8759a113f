"""The sans-I/O RFC 6455 client: the RFC's own vectors, and every way a server can break the rules."""

import struct

import pytest

from pydirectus._core.websocket import (Accepted, BinaryMessage, ClientConnection, Closed, ConnectionClosedError,
                                  HandshakeError, Ping, Pong, TextMessage, accept_key, encode_frame,
                                  is_valid_close_code, mask)

RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="          # RFC 6455 section 1.3
RFC_MASK = bytes.fromhex("37fa213d")          # RFC 6455 section 5.7


class ScriptedRandom:
    """random_bytes for the connection: the RFC's nonce for the key, then the RFC's masking key."""

    def __init__(self):
        self.calls = []

    def __call__(self, n):
        self.calls.append(n)
        if n == 16:
            import base64
            return base64.b64decode(RFC_KEY)
        return RFC_MASK[:n]


def accepted_reply(key=RFC_KEY, extra=""):
    return ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Accept: %s\r\n%s\r\n" % (accept_key(key), extra)).encode()


def open_connection(max_size=1 << 20, **kwargs):
    connection = ClientConnection("example.com", "/chat", random_bytes=ScriptedRandom(), max_size=max_size, **kwargs)
    events = connection.receive_data(accepted_reply(connection.key))
    assert events == [Accepted(None, events[0].headers)]
    return connection


def failed_with(events, code):
    assert len(events) >= 1 and isinstance(events[-1], Closed), events
    assert events[-1].code == code and events[-1].error, events[-1]
    return events[-1]


def sent_close_code(connection):
    """The close code in the (masked) close frame the connection queued."""
    data = connection.data_to_send()
    assert data[0] == 0x88, data[:2].hex()
    length = data[1] & 0x7F
    payload = mask(data[2:6], data[6:6 + length])
    return struct.unpack("!H", payload[:2])[0]


# --- handshake -----------------------------------------------------------------------------

def test_accept_key_of_the_rfc_example():
    assert accept_key(RFC_KEY) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_handshake_request_has_the_required_headers_and_no_origin():
    connection = ClientConnection("example.com:8055", "/sub/websocket?x=1", subprotocols=["graphql-transport-ws"],
                                  headers=[("User-Agent", "test")], random_bytes=ScriptedRandom())
    assert connection.key == RFC_KEY
    request = connection.handshake_request().decode()
    assert request.startswith("GET /sub/websocket?x=1 HTTP/1.1\r\n")
    assert request.endswith("\r\n\r\n")
    for line in ("Host: example.com:8055", "Upgrade: websocket", "Connection: Upgrade",
                 "Sec-WebSocket-Key: " + RFC_KEY, "Sec-WebSocket-Version: 13",
                 "Sec-WebSocket-Protocol: graphql-transport-ws", "User-Agent: test"):
        assert "\r\n" + line + "\r\n" in request
    assert "origin" not in request.lower()


def test_header_injection_is_refused():
    with pytest.raises(ValueError):
        ClientConnection("example.com", "/x\r\nEvil: 1")
    with pytest.raises(ValueError):
        ClientConnection("example.com", "/x", headers=[("User-Agent", "a\nb")])


def test_frames_in_the_same_segment_as_the_reply_are_kept():
    connection = ClientConnection("h", "/", random_bytes=ScriptedRandom())
    events = connection.receive_data(accepted_reply(connection.key) + encode_frame(0x1, b"Hello")[:4])
    assert isinstance(events[0], Accepted) and len(events) == 1
    assert connection.receive_data(encode_frame(0x1, b"Hello")[4:]) == [TextMessage("Hello")]


def test_reply_head_may_arrive_byte_by_byte():
    connection = ClientConnection("h", "/", random_bytes=ScriptedRandom())
    data = accepted_reply(connection.key) + encode_frame(0x1, b"hi")
    events = []
    for index in range(len(data)):
        events += connection.receive_data(data[index:index + 1])
    assert isinstance(events[0], Accepted) and events[1:] == [TextMessage("hi")]


@pytest.mark.parametrize("status", [401, 403, 500])
def test_refused_upgrade_raises_with_the_status(status):
    connection = ClientConnection("h", "/", random_bytes=ScriptedRandom())
    with pytest.raises(HandshakeError) as caught:
        connection.receive_data(b"HTTP/1.1 %d Nope\r\n\r\n" % status)
    assert caught.value.status == status
    assert connection.state == "CLOSED"


@pytest.mark.parametrize("reply, message", [
    (b"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: wrong\r\n\r\n",
     "Accept"),
    (b"HTTP/1.1 101 OK\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", "Upgrade"),
    (b"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: %s\r\n\r\n", "Connection"),
    (b"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
     b"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n", "extension"),
    (b"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
     b"Sec-WebSocket-Protocol: chat\r\n\r\n", "subprotocol"),
    (b"SSH-2.0-OpenSSH\r\n\r\n", "HTTP"),
])
def test_invalid_101_replies_are_refused(reply, message):
    connection = ClientConnection("h", "/", random_bytes=ScriptedRandom())
    if b"%s" in reply:
        reply = reply % accept_key(connection.key).encode()
    with pytest.raises(HandshakeError, match=message):
        connection.receive_data(reply)


def test_offered_subprotocol_is_accepted():
    connection = ClientConnection("h", "/", subprotocols=["graphql-transport-ws"], random_bytes=ScriptedRandom())
    events = connection.receive_data(accepted_reply(connection.key, "Sec-WebSocket-Protocol: graphql-transport-ws\r\n"))
    assert events[0].subprotocol == "graphql-transport-ws" == connection.subprotocol


def test_a_huge_reply_head_is_refused():
    connection = ClientConnection("h", "/", random_bytes=ScriptedRandom())
    with pytest.raises(HandshakeError, match="longer"):
        connection.receive_data(b"HTTP/1.1 101 OK\r\n" + b"X: y\r\n" * 20000)


# --- framing (RFC 6455 section 5.7 vectors) -------------------------------------------------

def test_unmasked_hello_from_the_server():
    connection = open_connection()
    assert connection.receive_data(bytes.fromhex("810548656c6c6f")) == [TextMessage("Hello")]


def test_client_frames_are_masked_as_in_the_rfc_example():
    connection = open_connection()
    connection.send_text("Hello")
    assert connection.data_to_send() == bytes.fromhex("818537fa213d7f9f4d5158")


def test_masking_is_its_own_inverse_and_matches_a_byte_loop():
    key = b"\x01\x02\x03\x04"
    for size in (0, 1, 3, 4, 5, 125, 126, 1000, 65537):
        data = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
        expected = bytes(b ^ key[i % 4] for i, b in enumerate(data))
        assert mask(key, data) == expected
        assert mask(key, expected) == data


def test_a_masked_frame_from_the_server_fails_the_connection():
    connection = open_connection()
    failed_with(connection.receive_data(bytes.fromhex("818537fa213d7f9f4d5158")), 1002)
    assert sent_close_code(connection) == 1002
    assert connection.receive_data(bytes.fromhex("810548656c6c6f")) == []  # nothing after failing


def test_fragmented_message_from_the_rfc():
    connection = open_connection()
    assert connection.receive_data(bytes.fromhex("010348656c")) == []
    assert connection.receive_data(bytes.fromhex("80026c6f")) == [TextMessage("Hello")]


def test_ping_is_answered_with_the_same_payload_masked():
    connection = open_connection()
    assert connection.receive_data(bytes.fromhex("890548656c6c6f")) == [Ping(b"Hello")]
    pong = connection.data_to_send()
    assert pong[:2] == b"\x8a\x85" and mask(pong[2:6], pong[6:]) == b"Hello"
    assert connection.receive_data(bytes.fromhex("8a0548656c6c6f")) == [Pong(b"Hello")]


def test_16_and_64_bit_lengths():
    connection = open_connection()
    payload = bytes(range(256))
    assert connection.receive_data(bytes.fromhex("827e0100") + payload) == [BinaryMessage(payload)]
    big = b"x" * 65536
    assert connection.receive_data(bytes.fromhex("827f0000000000010000") + big) == [BinaryMessage(big)]


def test_sent_lengths_use_the_shortest_encoding():
    connection = open_connection()
    for size, header in ((125, b"\x82\xfd"), (126, b"\x82\xfe\x00\x7e"), (65535, b"\x82\xfe\xff\xff"),
                         (65536, b"\x82\xff" + struct.pack("!Q", 65536))):
        connection.send_binary(b"a" * size)
        data = connection.data_to_send()
        assert data.startswith(header) and len(data) == len(header) + 4 + size
        assert mask(data[len(header):len(header) + 4], data[len(header) + 4:]) == b"a" * size


def test_fragments_with_pings_between_them():
    connection = open_connection()
    events = connection.receive_data(encode_frame(0x1, b"{\"a\":", fin=False) + encode_frame(0x9, b"p1"))
    assert events == [Ping(b"p1")]
    events = connection.receive_data(encode_frame(0x0, b" 1,", fin=False) + encode_frame(0x9, b"p2")
                                     + encode_frame(0x0, b" \"b\": 2}"))
    assert events == [Ping(b"p2"), TextMessage('{"a": 1, "b": 2}')]
    assert connection.data_to_send().count(b"\x8a\x82") == 2


def test_a_character_split_across_frames_is_fine():
    connection = open_connection()
    text = "héllo €"
    data = text.encode()
    cut = data.index("€".encode()) + 1  # inside the three bytes of the euro sign
    events = connection.receive_data(encode_frame(0x1, data[:cut], fin=False) + encode_frame(0x0, data[cut:]))
    assert events == [TextMessage(text)]


def test_invalid_utf8_split_across_frames_fails_with_1007():
    connection = open_connection()
    assert connection.receive_data(encode_frame(0x1, b"ok \xe2\x82", fin=False)) == []
    failed_with(connection.receive_data(encode_frame(0x0, b"\x28 rest")), 1007)
    assert sent_close_code(connection) == 1007


def test_truncated_utf8_at_the_end_of_a_message_fails_with_1007():
    connection = open_connection()
    failed_with(connection.receive_data(encode_frame(0x1, b"ok \xe2\x82")), 1007)


def test_oversize_frame_fails_with_1009_before_its_payload_arrives():
    connection = open_connection(max_size=1000)
    failed_with(connection.receive_data(bytes.fromhex("817f0000000000100000")), 1009)
    assert sent_close_code(connection) == 1009


def test_oversize_fragmented_message_fails_with_1009():
    connection = open_connection(max_size=1000)
    assert connection.receive_data(encode_frame(0x2, b"a" * 600, fin=False)) == []
    failed_with(connection.receive_data(encode_frame(0x0, b"a" * 600)), 1009)


@pytest.mark.parametrize("frame, why", [
    (bytes([0xC1, 0x01]) + b"a", "RSV1 set"),
    (bytes([0xA1, 0x01]) + b"a", "RSV2 set"),
    (bytes([0x91, 0x01]) + b"a", "RSV3 set"),
    (bytes([0x83, 0x00]), "reserved data opcode 3"),
    (bytes([0x8B, 0x00]), "reserved control opcode 0xB"),
    (bytes([0x09, 0x00]), "fragmented ping"),
    (bytes([0x89, 0x7E, 0x00, 0x7E]) + b"a" * 126, "ping longer than 125"),
    (bytes([0x80, 0x01]) + b"a", "continuation without a message"),
    (bytes([0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 1]), "64-bit length with its top bit set"),
    (bytes([0x88, 0x01, 0x03]), "one-byte close payload"),
])
def test_protocol_violations_fail_with_1002(frame, why):
    connection = open_connection()
    failed_with(connection.receive_data(frame), 1002)


def test_a_new_message_inside_a_fragmented_one_fails_with_1002():
    connection = open_connection()
    connection.receive_data(encode_frame(0x1, b"a", fin=False))
    failed_with(connection.receive_data(encode_frame(0x1, b"b")), 1002)


# --- closing ------------------------------------------------------------------------------

def test_peer_close_is_echoed_and_reported():
    connection = open_connection()
    events = connection.receive_data(encode_frame(0x8, struct.pack("!H", 4406) + "Subprotocol not acceptable".encode()))
    assert events == [Closed(4406, "Subprotocol not acceptable")]
    assert sent_close_code(connection) == 4406
    assert connection.state == "CLOSED"
    with pytest.raises(ConnectionClosedError):
        connection.send_text("late")


def test_codeless_close_is_1005_and_echoed_empty():
    connection = open_connection()
    assert connection.receive_data(bytes([0x88, 0x00])) == [Closed(1005, "")]
    assert connection.data_to_send()[:2] == b"\x88\x80"


def test_end_of_file_without_close_is_1006():
    connection = open_connection()
    assert connection.receive_data(b"") == [Closed(1006, "")]


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535])
def test_invalid_close_codes_fail_with_1002(code):
    assert not is_valid_close_code(code)
    connection = open_connection()
    failed_with(connection.receive_data(encode_frame(0x8, struct.pack("!H", code))), 1002)


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
                                  3000, 4000, 4999])
def test_valid_close_codes(code):
    assert is_valid_close_code(code)
    connection = open_connection()
    assert connection.receive_data(encode_frame(0x8, struct.pack("!H", code))) == [Closed(code, "")]


def test_close_reason_must_be_utf8():
    connection = open_connection()
    failed_with(connection.receive_data(encode_frame(0x8, struct.pack("!H", 1000) + b"\xff")), 1007)


def test_client_initiated_close_handshake():
    connection = open_connection()
    connection.close(1000, "bye")
    assert connection.state == "CLOSING"
    assert sent_close_code(connection) == 1000
    with pytest.raises(ConnectionClosedError):
        connection.send_text("late")
    # data may still arrive until the server's close frame; no second close frame is sent
    assert connection.receive_data(encode_frame(0x1, b"last")) == [TextMessage("last")]
    assert connection.receive_data(encode_frame(0x8, struct.pack("!H", 1000))) == [Closed(1000, "")]
    assert connection.data_to_send() == b""


def test_long_close_reasons_are_cut_at_a_character_boundary():
    connection = open_connection()
    connection.close(1000, "€" * 100)
    data = connection.data_to_send()
    payload = mask(data[2:6], data[6:])
    assert len(payload) <= 125
    payload[2:].decode("utf-8")


def test_local_only_codes_cannot_be_sent():
    connection = open_connection()
    with pytest.raises(ValueError):
        connection.close(1006)
