"""Helpers and fixtures shared by the test_groups_*.py round trips.

Test modules import the fixtures they use from here (pytest registers fixtures found in a test
module's namespace). Nothing here uses pydirectus to prepare what a test checks, apart from the
admin clients that drive the calls under test.
"""

import base64
import hashlib
import hmac
import json
import struct
import time
import uuid
import zlib

import pytest

from pydirectus import DirectusClient
from pydirectus.testing import SECRET, DirectusServer
from tests.conftest import COLLECTION_FIELDS, remove_collection
from tests.rest import call

# Settings of the server the destructive and the specially configured tests share. The purpose
# variable (Directus ignores unknown variables) keeps other tests from getting this server by
# asking for the same settings.
GROUPS_SERVER_SETTINGS = {
    "PYDIRECTUS_PURPOSE": "test-groups",
    "TUS_ENABLED": "true",
    "METRICS_ENABLED": "true",
    "REGISTER_STALL_TIME": "0",  # 750 ms per registration otherwise
}


@pytest.fixture(scope="session")
def groups_server(directus_factory):
    """A server of our own, started by pydirectus.testing, so its SECRET is known (tokens that
    Directus would only send by e-mail can be made here) and its settings can be changed freely.
    Also the target of the schema test."""
    server = directus_factory(GROUPS_SERVER_SETTINGS)
    assert isinstance(server, DirectusServer)
    return server


@pytest.fixture
def groups_client(groups_server):
    with DirectusClient(hostname=groups_server.url, static_token=groups_server.token) as client:
        yield client


@pytest.fixture
def make_collection(directus):
    """``make_collection(meta=..., extra_fields=[...])``: another fresh collection on the session
    server (the `collection` fixture's fields plus `extra_fields`), removed after the test."""
    made = []

    def make(meta=None, extra_fields=()):
        name = "t_" + uuid.uuid4().hex[:12]
        reply = call(directus.url, "POST", "/collections",
                     {"collection": name, "meta": meta or {}, "schema": {},
                      "fields": COLLECTION_FIELDS + list(extra_fields)}, token=directus.token)
        assert reply.status == 200, reply
        made.append(name)
        return name

    yield make
    for name in reversed(made):
        remove_collection(directus, name)


# ------------------------------------------------------------------ tokens Directus sends by e-mail

def _b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def directus_jwt(payload, secret=SECRET, lifetime=600):
    """An HS256 token as Directus signs invitation, verification and password-reset links."""
    now = int(time.time())
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64url(json.dumps(dict(payload, iat=now, exp=now + lifetime, iss="directus")).encode())
    signature = hmac.new(secret.encode(), (header + "." + body).encode(), hashlib.sha256).digest()
    return header + "." + body + "." + _b64url(signature)


def directus_simple_hash(text):
    """@directus/utils getSimpleHash: a 32-bit ``31 * h + unit`` over UTF-16 units, |h| in hex."""
    encoded = text.encode("utf-16-le")
    value = 0
    for unit in struct.unpack("<%dH" % (len(encoded) // 2), encoded):
        value = (31 * value + unit) & 0xFFFFFFFF
    if value >= 0x80000000:  # JavaScript's `hash &= hash` keeps it a signed 32-bit integer
        value -= 0x100000000
    return "%x" % abs(value)


# ------------------------------------------------------------------ two-factor codes (RFC 6238)

def totp(secret, at=None, step=30, digits=6):
    """The TOTP code of a base32 `secret` (SHA-1, 30 s, 6 digits: what Directus's otplib uses)."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    counter = int((time.time() if at is None else at) // step)
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    code = (struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF) % 10 ** digits
    return "%0*d" % (digits, code)


def fresh_totp(secret, margin=2.0):
    """A code that stays valid for `margin` seconds: Directus accepts the current window only."""
    left = 30 - time.time() % 30
    if left < margin:
        time.sleep(left + 0.05)
    return totp(secret)


# ------------------------------------------------------------------ files built by hand

def png_bytes(width, height):
    """A solid red RGB PNG of the given size."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def png_size(data):
    """(width, height) from a PNG's IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:16]
    return struct.unpack(">II", data[16:24])


def multipart_body(fields, filename, content, content_type):
    """A multipart/form-data body for POST /files (fields first, then the file): (body, header)."""
    boundary = "pydirectus-test-" + uuid.uuid4().hex
    parts = [b'--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
             % (boundary.encode(), name.encode(), str(value).encode()) for name, value in fields.items()]
    parts.append(b'--%s\r\nContent-Disposition: form-data; name="file"; filename="%s"\r\nContent-Type: %s\r\n\r\n'
                 % (boundary.encode(), filename.encode(), content_type.encode()) + content + b"\r\n")
    parts.append(b"--%s--\r\n" % boundary.encode())
    return b"".join(parts), "multipart/form-data; boundary=" + boundary


def upload(client, content, filename, content_type, **fields):
    """Upload one file through the client's raw request (independent of any upload helper)."""
    body, header = multipart_body(fields, filename, content, content_type)
    return client.request("POST", "/files", data=body, headers={"Content-Type": header})


def wait_for(probe, timeout=5.0, interval=0.05):
    """Call `probe` until it returns something truthy; that value, or None after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
