"""The streaming multipart/form-data encoder, without any socket: layout, lengths, quoting, replay."""

import email.parser
import email.policy

import pytest

from pydirectus._core.multipart import (BytesContent, Field, FilePart, IterableContent, MultipartEncoder, make_boundary,
                                  quote_parameter)


def body_of(encoder):
    return b"".join(bytes(chunk) for chunk in encoder)


def parse(encoder, body=None):
    """The parts of a body, as the stdlib email parser (an independent reader) sees them."""
    body = body_of(encoder) if body is None else body
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + encoder.content_type.encode() + b"\r\n\r\n" + body)
    assert message.is_multipart() and not message.defects
    return [(part.get_param("name", header="content-disposition"), part.get_filename(),
             part.get_content_type(), part.get_payload(decode=True)) for part in message.iter_parts()]


class OneShot:
    """A source that can be read once, like a generator or a pipe."""

    replayable = False

    def __init__(self, chunks, size=None):
        self._chunks = chunks
        self.size = size
        self.reads = 0

    def chunks(self):
        self.reads += 1
        return iter(self._chunks)


def test_exact_layout_fields_then_file():
    encoder = MultipartEncoder([Field("title", "A title"), Field("folder", "f-1"),
                                FilePart("file", "a.txt", "text/plain", BytesContent(b"hello"))], boundary="XyZ")
    assert encoder.content_type == "multipart/form-data; boundary=XyZ"
    body = body_of(encoder)
    assert body == (b'--XyZ\r\nContent-Disposition: form-data; name="title"\r\n\r\nA title\r\n'
                    b'--XyZ\r\nContent-Disposition: form-data; name="folder"\r\n\r\nf-1\r\n'
                    b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n'
                    b'Content-Type: text/plain\r\n\r\nhello\r\n--XyZ--\r\n')
    assert encoder.length == len(body)


def test_several_files_parse_back_with_an_independent_parser():
    data = bytes(range(256)) * 1000
    encoder = MultipartEncoder([
        Field("title", "Première"), FilePart("file", "one.bin", "application/octet-stream", BytesContent(data)),
        Field("title", "Second"), FilePart("file", "two.csv", "text/csv", IterableContent([b"a,b\r\n", b"1,2\r\n"])),
    ])
    parts = parse(encoder)
    assert parts == [("title", None, "text/plain", "Première".encode()),
                     ("file", "one.bin", "application/octet-stream", data),
                     ("title", None, "text/plain", b"Second"),
                     ("file", "two.csv", "text/csv", b"a,b\r\n1,2\r\n")]
    assert encoder.length == len(body_of_fresh(encoder))
    assert encoder.content_length == len(data) + 10


def body_of_fresh(encoder):
    assert encoder.rewind()
    return body_of(encoder)


def test_length_is_none_when_a_size_is_unknown_and_chunks_pass_through_unchanged():
    chunks = [b"x" * 10, b"y" * 3]
    source = OneShot(chunks)
    encoder = MultipartEncoder([FilePart("file", "g.bin", "application/octet-stream", source)], boundary="b")
    assert encoder.length is None and encoder.content_length is None
    out = list(encoder)
    assert any(piece is chunks[0] for piece in out)  # the very object: nothing gathered or copied
    assert out[-1] == chunks[-1] + b"\r\n--b--\r\n"  # but the last goes out with the end of its part


def test_a_file_never_ends_apart_from_the_end_of_its_part():
    """Directus's JSON import never answers when the end of a file part comes in a later read than
    the file's last bytes (see MultipartEncoder._body): each file's last chunk goes out in one piece
    with the framing after it, and a small body is one chunk."""
    small = MultipartEncoder([FilePart("file", "a.json", "application/json", BytesContent(b'[{"t": 1}]'))],
                             boundary="b")
    assert len(list(small)) == 1
    chunks = [b"[" + b"1," * 10, b"2]"]
    fields_after = MultipartEncoder([FilePart("file", "a.json", "application/json", OneShot(chunks)),
                                     Field("title", "after")], boundary="b")
    out = [bytes(piece) for piece in fields_after]
    assert out[-1].startswith(b"2]\r\n") and out[-1].endswith(b"--b--\r\n") and b"after" in out[-1]
    two_files = MultipartEncoder([FilePart("one", "1.json", "application/json", OneShot([b"[1]"])),
                                  FilePart("two", "2.json", "application/json", OneShot([b"[2]"]))], boundary="b")
    out = [bytes(piece) for piece in two_files]
    assert [piece for piece in out if b"[1]" in piece][0].count(b"[1]\r\n--b\r\n") == 1
    assert out[-1].endswith(b"[2]\r\n--b--\r\n")


def test_bytes_are_handed_out_in_slices_of_the_same_buffer():
    data = bytearray(b"z" * (3 * 1024 * 1024 + 5))
    source = BytesContent(data)
    views = list(source.chunks())
    assert [len(v) for v in views] == [1024 * 1024] * 3 + [5]
    assert all(isinstance(v, memoryview) and v.obj is views[0].obj for v in views)


def test_names_and_filenames_are_quoted_and_utf8():
    encoder = MultipartEncoder([FilePart("file", 'say "hi" \\ é€.txt', "text/plain", BytesContent(b"x"))],
                               boundary="b")
    body = body_of(encoder)
    assert 'filename="say \\"hi\\" \\\\ é€.txt"'.encode("utf-8") in body
    assert quote_parameter("name", 'a"b') == '"a\\"b"'


@pytest.mark.parametrize("bad", ["a\r\nX-Injected: 1", "a\nb", "nul\x00"])
def test_line_breaks_in_names_are_refused(bad):
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        FilePart("file", bad, "text/plain", BytesContent(b""))
    with pytest.raises(ValueError):
        Field(bad, "v")
    with pytest.raises(ValueError):
        FilePart("file", "a", "text/plain" + bad, BytesContent(b""))


def test_bad_parts_and_arguments_are_refused():
    with pytest.raises(TypeError):
        MultipartEncoder(["title"])
    with pytest.raises(TypeError):
        Field("n", 3)
    with pytest.raises(ValueError):
        Field("", "v")
    with pytest.raises(TypeError):
        FilePart("file", "a", "text/plain", object())
    with pytest.raises(ValueError):
        FilePart("file", "a", "text/plain", OneShot([], size=-1))
    with pytest.raises(ValueError):
        FilePart("file", "a", "téxt/plain", BytesContent(b""))
    with pytest.raises(ValueError):
        MultipartEncoder([], boundary="has space")
    with pytest.raises(ValueError):
        MultipartEncoder([], boundary="x" * 71)
    with pytest.raises(TypeError):
        MultipartEncoder([], progress="not callable")
    with pytest.raises(TypeError):
        IterableContent("a string is not chunks")
    with pytest.raises(TypeError):
        IterableContent([b"ok", "not bytes"])
    with pytest.raises(TypeError):
        BytesContent("text")


def test_a_chunk_that_is_not_bytes_raises_when_it_comes():
    encoder = MultipartEncoder([FilePart("file", "g", "text/plain", IterableContent(iter([b"ok", "text"])))])
    with pytest.raises(TypeError, match="chunk 1 of the content is str"):
        body_of(encoder)


def test_boundaries_are_random():
    assert make_boundary() != make_boundary()
    assert MultipartEncoder([]).boundary != MultipartEncoder([]).boundary


def test_rewind_starts_over_for_replayable_sources():
    encoder = MultipartEncoder([Field("title", "t"), FilePart("file", "a", "text/plain", BytesContent(b"abc"))])
    first = body_of(encoder)
    with pytest.raises(RuntimeError, match="rewind"):
        iter(encoder)
    assert encoder.replayable and encoder.rewind() is True
    assert body_of(encoder) == first


def test_a_one_shot_source_cannot_be_rewound_once_read():
    source = OneShot([b"abc"], size=3)
    encoder = MultipartEncoder([FilePart("file", "a", "text/plain", source)])
    assert not encoder.replayable
    assert encoder.rewind() is True  # not sent yet: nothing to undo
    iterator = iter(encoder)
    next(iterator)  # the part header went out
    assert encoder.rewind() is False
    with pytest.raises(RuntimeError):
        iter(encoder)


def test_a_source_that_breaks_its_size_raises():
    longer = MultipartEncoder([FilePart("file", "grew.log", "text/plain", OneShot([b"abcd"], size=3))])
    with pytest.raises(ValueError, match="longer than its size of 3"):
        body_of(longer)
    shorter = MultipartEncoder([FilePart("file", "shrank.log", "text/plain", OneShot([b"ab"], size=3))])
    with pytest.raises(ValueError, match="ended after 2 of its 3 bytes"):
        body_of(shorter)


def test_progress_counts_file_content_only():
    calls = []
    encoder = MultipartEncoder([Field("title", "t"),
                                FilePart("file", "a", "text/plain", IterableContent([b"ab", b"", b"cde"])),
                                FilePart("file", "b", "text/plain", BytesContent(b"fg"))],
                               progress=lambda done, total: calls.append((done, total)))
    body_of(encoder)
    assert calls == [(2, 7), (5, 7), (7, 7)]
    calls.clear()
    unknown = MultipartEncoder([FilePart("file", "g", "text/plain", OneShot([b"abc"]))],
                               progress=lambda done, total: calls.append((done, total)))
    body_of(unknown)
    assert calls == [(3, None)]


def test_an_empty_file_and_an_empty_form():
    encoder = MultipartEncoder([FilePart("file", "empty", "text/plain", BytesContent(b""))], boundary="b")
    assert body_of(encoder) == (b'--b\r\nContent-Disposition: form-data; name="file"; filename="empty"\r\n'
                                b'Content-Type: text/plain\r\n\r\n\r\n--b--\r\n')
    empty = MultipartEncoder([], boundary="b")
    assert body_of(empty) == b"--b--\r\n" and empty.length == 7


def test_the_module_does_no_io():
    import pydirectus._core.multipart as module
    source = open(module.__file__, encoding="utf-8").read()
    for forbidden in ("open(", "import socket", "import io", "import mimetypes", ".read(", ".seek("):
        assert forbidden not in source, forbidden


def test_multipart_payloads_of_spec_operations_build_fields_and_files(tmp_path):
    import pathlib
    from pydirectus._core.files import multipart_body, multipart_encoder_flow
    from tests.unit.test_files import perform_locally
    path = tmp_path / "a.csv"
    path.write_bytes(b"x,y\n1,2\n")
    # checked now; its files opened (LocalFile effects) by the flow that makes the body
    payload = multipart_body({"note": "hi", "count": 3, "meta": {"a": 1}, "file": pathlib.Path(str(path)),
                              "raw": ("raw.bin", b"\x00\x01", "application/x-thing")})
    body = perform_locally(multipart_encoder_flow(payload))
    data = b"".join(bytes(chunk) for chunk in body)
    body.parts[3].source.close()
    assert body.length == len(data)
    assert b'name="note"\r\n\r\nhi\r\n' in data and b'name="count"\r\n\r\n3\r\n' in data
    assert b'name="meta"\r\n\r\n{"a":1}\r\n' in data
    assert b'filename="a.csv"\r\nContent-Type: text/csv\r\n\r\nx,y\n1,2\n' in data
    assert b'filename="raw.bin"\r\nContent-Type: application/x-thing\r\n\r\n\x00\x01' in data
