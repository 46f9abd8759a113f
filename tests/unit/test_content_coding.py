"""Compressed answers: the client asks for gzip and deflate, and decodes them streamed.

The decoder (``_core/http11.ContentDecoder``) on its own, then both clients against a loopback
server that answers compressed: JSON answers, a large streamed download (decoded in pieces no
larger than asked for), a Range request (identity asked for), and the failures: a truncated or
corrupt stream, a coding the client never asked for.
"""

import gzip
import json
import os
import zlib

import pytest

from pydirectus._core.http11 import (ACCEPT_ENCODING, ContentDecoder, DecodedTooLarge, Headers, UndecodableBody,
                                     content_decoder, request_head)
from pydirectus.errors import TransportError
from tests.fakeserver import FakeServer


def deflate(data, wbits=15):
    compressor = zlib.compressobj(6, zlib.DEFLATED, wbits)
    return compressor.compress(data) + compressor.flush()


TEXT = b"".join(b"line %06d of a compressible text, the same words again and again\n" % n for n in range(20000))
CODINGS = {
    "gzip": gzip.compress,
    "deflate": deflate,                                   # a zlib stream, as RFC 9110 says
    "raw deflate": lambda data: deflate(data, -15),       # what some servers send for "deflate"
}


# ------------------------------------------------------------------ the decoder alone

@pytest.mark.parametrize("name", sorted(CODINGS))
def test_each_coding_decodes_whole_and_in_pieces_of_any_size(name):
    coding = "gzip" if name == "gzip" else "deflate"
    compressed = CODINGS[name](TEXT)
    assert ContentDecoder(coding).decode_all(compressed, len(TEXT)) == TEXT
    for piece in (1, 7, 4096):
        decoder = ContentDecoder(coding)
        out = []
        for start in range(0, len(compressed), piece):
            out.append(decoder.decode(compressed[start:start + piece]))
        decoder.end()
        assert b"".join(out) == TEXT


def test_decode_never_returns_more_than_the_limit_and_keeps_the_rest_pending():
    compressed = gzip.compress(TEXT)
    decoder = ContentDecoder("gzip")
    pieces = [decoder.decode(compressed, 1000)]
    while decoder.pending:
        pieces.append(decoder.decode(b"", 1000))
    decoder.end()
    assert max(len(piece) for piece in pieces) <= 1000
    assert b"".join(pieces) == TEXT


def test_a_gzip_body_of_several_members_decodes_whole():
    body = gzip.compress(b"first member, ") + gzip.compress(b"second member")
    assert ContentDecoder("gzip").decode_all(body, 1000) == b"first member, second member"


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_a_truncated_stream_raises_at_its_end(coding):
    compressed = CODINGS[coding](TEXT)
    with pytest.raises(UndecodableBody, match="cut short"):
        ContentDecoder(coding).decode_all(compressed[:len(compressed) // 2], len(TEXT))
    decoder = ContentDecoder(coding)
    decoder.decode(compressed[:-3])
    with pytest.raises(UndecodableBody, match="cut short"):
        decoder.end()


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_a_corrupt_stream_raises(coding):
    compressed = bytearray(CODINGS[coding](TEXT))
    compressed[len(compressed) // 2: len(compressed) // 2 + 16] = b"\xff" * 16
    with pytest.raises(UndecodableBody, match="corrupt|cut short"):
        ContentDecoder(coding).decode_all(bytes(compressed), len(TEXT) * 2)
    with pytest.raises(UndecodableBody, match="corrupt"):
        ContentDecoder(coding).decode_all(b"this is not compressed at all", 1000)


def test_bytes_after_the_end_of_a_deflate_stream_raise():
    with pytest.raises(UndecodableBody, match="stray bytes"):
        ContentDecoder("deflate").decode_all(deflate(b"done") + b"garbage", 1000)


def test_a_bomb_is_refused_after_decoding_just_past_the_limit():
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024))  # 50 MiB of zeros in about 50 KB
    decoder = ContentDecoder("gzip")
    with pytest.raises(DecodedTooLarge):
        decoder.decode_all(bomb, 1024 * 1024)


@pytest.mark.parametrize("value, coding", [(None, None), ("identity", None), ("gzip", "gzip"), ("GZIP", "gzip"),
                                           ("x-gzip", "gzip"), ("deflate", "deflate"), ("identity, gzip", "gzip")])
def test_the_decoder_follows_content_encoding(value, coding):
    headers = Headers([("Content-Encoding", value)] if value else [])
    decoder = content_decoder(headers)
    assert (decoder.coding if decoder else None) == coding


@pytest.mark.parametrize("value", ["br", "zstd", "gzip, gzip", "compress"])
def test_a_coding_not_asked_for_raises_naming_it(value):
    with pytest.raises(UndecodableBody) as raised:
        content_decoder(Headers([("Content-Encoding", value)]))
    assert repr(value) in str(raised.value) and ACCEPT_ENCODING in str(raised.value)


def test_requests_ask_for_gzip_and_deflate_and_for_identity_with_a_range():
    def accept(headers):
        head = request_head("GET", "/x", "h", headers, {}, None)[0].decode()
        return [line for line in head.split("\r\n") if line.lower().startswith("accept-encoding")]
    assert accept({}) == ["Accept-Encoding: gzip, deflate"]
    assert accept({"Range": "bytes=10-"}) == ["Accept-Encoding: identity"]
    assert accept({"Accept-Encoding": "br"}) == ["Accept-Encoding: br"]


# ------------------------------------------------------------------ both clients, over loopback

def compressed_reply(body, coding="gzip", chunked=False, content_type="application/json; charset=utf-8",
                     extra=None):
    data = CODINGS[coding](body) if coding in CODINGS else body
    lines = ["HTTP/1.1 200 OK", "Content-Type: " + content_type,
             "Content-Encoding: " + ("deflate" if coding == "raw deflate" else coding)]
    lines += ["%s: %s" % item for item in (extra or {}).items()]
    if chunked:
        framed = b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + 1000]), data[i:i + 1000])
                          for i in range(0, len(data), 1000)) + b"0\r\n\r\n"
        return ("\r\n".join(lines + ["Transfer-Encoding: chunked"]) + "\r\n\r\n").encode() + framed
    return ("\r\n".join(lines + ["Content-Length: %d" % len(data)]) + "\r\n\r\n").encode() + data


ITEMS = {"data": [{"id": n, "title": "article %d" % n, "body": "words " * 40} for n in range(300)]}


@pytest.mark.parametrize("coding", sorted(CODINGS))
@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
def test_json_answers_arrive_compressed_and_are_decoded(make_client, coding, chunked):
    body = json.dumps(ITEMS).encode()
    with FakeServer(lambda seen: compressed_reply(body, coding, chunked)) as server, \
            make_client(hostname=server.url, static_token="tok", proxies={}) as client:
        items = client.read_items("articles")
        assert [item["id"] for item in items] == list(range(300))
        assert server.requests[0].headers["accept-encoding"] == "gzip, deflate"
        again = client.read_items("articles")  # the connection was left in step
        assert len(again) == 300
    assert {seen.connection for seen in server.requests} == {1}


@pytest.mark.parametrize("failure, message", [
    # the connection closes 40 bytes before the Content-Length's end
    (lambda body: lambda conn: conn.sendall(compressed_reply(body)[:-40]), "cut short"),
    (lambda body: compressed_reply(body, "br"), "'br'"),  # a coding never asked for
])
def test_a_broken_or_unknown_coding_is_a_transport_error_that_says_so(make_client, failure, message):
    body = json.dumps(ITEMS).encode()
    with FakeServer(lambda seen: failure(body)) as server, \
            make_client(hostname=server.url, static_token="tok", proxies={}, retries=0) as client:
        with pytest.raises(TransportError, match=message) as raised:
            client.read_items("articles")
    assert raised.value.may_have_been_processed


def truncated_inside_the_stream(body):
    """A well-framed answer whose gzip data stops before its end: the framing cannot tell."""
    data = gzip.compress(body)[:-20]
    return ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
            "Content-Length: %d\r\n\r\n" % len(data)).encode() + data


def test_a_gzip_stream_that_ends_early_is_an_error_not_a_short_answer(make_client):
    body = json.dumps(ITEMS).encode()
    with FakeServer(lambda seen: truncated_inside_the_stream(body)) as server, \
            make_client(hostname=server.url, static_token="tok", proxies={}, retries=0) as client:
        with pytest.raises(TransportError, match="cut short"):
            client.read_items("articles")


def test_a_compressed_download_is_streamed_decoded_and_byte_identical(make_client, tmp_path):
    content = os.urandom(300_000).hex().encode() + TEXT  # 1.9 MB that compresses about 3x
    ranges = []

    def handler(seen):
        if seen.headers.get("range"):
            ranges.append((seen.headers["range"], seen.headers.get("accept-encoding")))
        return compressed_reply(content, "gzip", chunked=True, content_type="text/plain",
                                extra={"Content-Disposition": 'attachment; filename="notes.txt"'})

    with FakeServer(handler) as server, make_client(hostname=server.url, static_token="tok", proxies={}) as client:
        path = client.download_file("0b9fd6d4-0000-4000-8000-000000000000", str(tmp_path / "notes.txt"))
        with open(str(path), "rb") as stored:
            assert stored.read() == content
        pieces = list(client.iter_file("0b9fd6d4-0000-4000-8000-000000000000", chunk_size=8192))
    assert b"".join(pieces) == content
    assert max(len(piece) for piece in pieces) <= 8192
    assert ranges == []


def test_a_range_request_asks_for_identity(make_client):
    with FakeServer(lambda seen: b"HTTP/1.1 206 Partial\r\nContent-Range: bytes 5-9/10\r\nContent-Length: 5\r\n\r\n"
                    b"56789") as server, \
            make_client(hostname=server.url, static_token="tok", proxies={}) as client:
        client.request("GET", "/assets/x", headers={"Range": "bytes=5-"})
    assert server.requests[0].headers["accept-encoding"] == "identity"


def test_a_compressed_download_cut_midway_resumes_with_an_identity_range(make_client, tmp_path):
    """nginx compresses the first answer and marks its ETag weak; the resuming Range request asks
    for identity and gets the same tag strong: the same file, resumed where the decoded bytes end."""
    content = TEXT
    compressed = gzip.compress(content)
    requests = []

    def handler(seen):
        requests.append((seen.headers.get("range"), seen.headers.get("accept-encoding")))
        if not seen.headers.get("range"):
            head = ("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: gzip\r\n"
                    "ETag: W/\"v1\"\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
            part = compressed[:len(compressed) // 2]
            return lambda conn: conn.sendall(head + b"%x\r\n%s\r\n" % (len(part), part))  # then closes
        start = int(seen.headers["range"].split("=")[1].rstrip("-"))
        rest = content[start:]
        return ("HTTP/1.1 206 Partial Content\r\nContent-Type: text/plain\r\nETag: \"v1\"\r\n"
                "Content-Range: bytes %d-%d/%d\r\nContent-Length: %d\r\n\r\n"
                % (start, len(content) - 1, len(content), len(rest))).encode() + rest

    with FakeServer(handler) as server, make_client(hostname=server.url, static_token="tok", proxies={},
                                                     sleep=lambda seconds: None) as client:
        path = client.download_file("0b9fd6d4-0000-4000-8000-000000000000", str(tmp_path / "notes.txt"))
    with open(str(path), "rb") as stored:
        assert stored.read() == content
    assert requests[0] == (None, "gzip, deflate")
    assert len(requests) == 2 and requests[1][1] == "identity" and int(requests[1][0][6:-1]) > 0


# ------------------------------------------------------------------ compressed request bodies

ARTICLES = [{"title": "article %d" % n, "body": "the same words again " * 20} for n in range(200)]  # ~90 KB


def created(seen):
    entries = json.loads(gzip.decompress(seen.body) if seen.headers.get("content-encoding") == "gzip" else seen.body)
    if isinstance(entries, dict):
        return compressed_reply(json.dumps({"data": dict(entries, id=1)}).encode())
    return compressed_reply(json.dumps({"data": [dict(entry, id=n) for n, entry in enumerate(entries)]}).encode())


def remote_client(make_client, server):
    return make_client(hostname=server.url, static_token="tok", proxies={})


def test_a_large_json_body_goes_gzip_compressed(make_client):
    with FakeServer(created) as server, remote_client(make_client, server) as client:
        result = client.create_items("articles", ARTICLES)
        client.create_item("articles", {"title": "small"})
    assert [item["title"] for item in result] == [entry["title"] for entry in ARTICLES]
    large, small = server.requests
    assert large.headers["content-encoding"] == "gzip" and len(large.body) * 5 < len(json.dumps(ARTICLES))
    assert json.loads(gzip.decompress(large.body)) == ARTICLES
    assert "content-encoding" not in small.headers


def test_a_refused_encoding_sends_the_body_as_it_is_and_never_compressed_again(make_client):
    def handler(seen):
        if seen.headers.get("content-encoding"):
            return compressed_reply(b'{"errors":[{"message":"Invalid payload. unsupported content encoding \\"gzip\\".",'
                                    b'"extensions":{"code":"INVALID_PAYLOAD"}}]}', "identity").replace(b"200 OK", b"400 X")
        return created(seen)
    with FakeServer(handler) as server, remote_client(make_client, server) as client:
        assert len(client.create_items("articles", ARTICLES)) == 200
        assert len(client.create_items("articles", ARTICLES)) == 200
    assert [seen.headers.get("content-encoding") for seen in server.requests] == ["gzip", None, None]


def test_a_file_upload_is_never_compressed(make_client, tmp_path):
    upload = tmp_path / "data.json"
    upload.write_bytes(json.dumps(ARTICLES).encode())
    with FakeServer(lambda seen: compressed_reply(b'{"data":{"id":"f"}}', "identity")) as server:
        with make_client(hostname=server.url, static_token="tok", proxies={}) as client:
            client.upload_file(str(upload))
            client.upload_file(json.dumps(ARTICLES).encode(), filename="data.json")
    assert [seen.headers.get("content-encoding") for seen in server.requests] == [None, None]
