"""Fakes for the realtime tests of both clients: a loopback WebSocket server speaking Directus's
protocol from a script, the scripts both clients' tests run, a TLS certificate for wss://, JWTs and an
auth transport."""

import base64
import json
import socket
import struct

from pydirectus._core.records import Response
from pydirectus._core.websocket import accept_key, encode_frame, mask
from tests.loopback import LoopbackServer, read_head


def jwt(lifetime, iat=1700000000):
    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")
    return "%s.%s.sig" % (part({"alg": "HS256"}), part({"iat": iat, "exp": iat + lifetime, "id": "u"}))


class FakeSocketPeer:
    """The server side of one WebSocket connection."""

    def __init__(self, sock, request):
        self.sock = sock
        self.request = request
        self.buffer = b""

    def send_json(self, message):
        self.sock.sendall(encode_frame(0x1, json.dumps(message).encode()))

    def send_raw(self, data):
        self.sock.sendall(data)

    def recv_frame(self, timeout=5.0):
        self.sock.settimeout(timeout)
        while True:
            if len(self.buffer) >= 2:
                length = self.buffer[1] & 0x7F
                offset = 2
                if length == 126:
                    length = struct.unpack("!H", self.buffer[2:4])[0]
                    offset = 4
                elif length == 127:
                    length = struct.unpack("!Q", self.buffer[2:10])[0]
                    offset = 10
                assert self.buffer[1] & 0x80, "a client frame must be masked"
                end = offset + 4 + length
                if len(self.buffer) >= end:
                    opcode = self.buffer[0] & 0x0F
                    payload = mask(self.buffer[offset:offset + 4], self.buffer[offset + 4:end])
                    self.buffer = self.buffer[end:]
                    return opcode, payload
            data = self.sock.recv(65536)
            if not data:
                return None, b""
            self.buffer += data

    def recv_json(self, timeout=5.0):
        while True:
            opcode, payload = self.recv_frame(timeout)
            if opcode is None or opcode == 0x8:
                return None
            if opcode == 0x1:
                return json.loads(payload)

    def drop(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class FakeDirectus(LoopbackServer):
    """A loopback WebSocket server; ``script(peer)`` runs in a thread per connection; TLS with
    ``tls_context``."""

    def __init__(self, script, status=101, tls_context=None):
        self.script = script
        self.status = status
        self.requests = []
        super().__init__(tls_context=tls_context)

    def handle(self, sock, number):
        data = read_head(sock)
        if not data:
            return
        head = data.split(b"\r\n\r\n")[0].decode()
        self.requests.append(head)
        if self.status != 101:
            sock.sendall(b"HTTP/1.1 %d Refused\r\n\r\n" % self.status)
            return
        fields = {line.split(":", 1)[0].strip().lower(): line.split(":", 1)[1].strip()
                  for line in head.split("\r\n")[1:] if ":" in line}
        protocol = fields.get("sec-websocket-protocol")  # graphql-transport-ws: chosen as offered
        sock.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Accept: %s\r\n%s\r\n" % (
                          accept_key(fields["sec-websocket-key"]),
                          "Sec-WebSocket-Protocol: %s\r\n" % protocol.split(",")[0].strip() if protocol else "")
                      ).encode())
        peer = FakeSocketPeer(sock, head)
        try:
            self.script(peer, len(self.requests))
        finally:
            peer.drop()


def handshake(peer):
    auth = peer.recv_json()
    if auth is None:  # the client closed before authenticating (a test ending while it reconnects)
        return
    assert auth["type"] == "auth" and auth["access_token"] == "static-token"
    peer.send_json({"type": "auth", "status": "ok", "uid": auth["uid"]})


# A self-signed certificate for 127.0.0.1, valid until 2126: the CA of its own wss:// test server.
TEST_CERTIFICATE = """\
-----BEGIN CERTIFICATE-----
MIIDJzCCAg+gAwIBAgIUAbcTNoYI8BKFL6p4GcLA7oZyYjMwDQYJKoZIhvcNAQEL
BQAwFDESMBAGA1UEAwwJMTI3LjAuMC4xMCAXDTI2MTEzMDA2MzgzN1oYDzIxMjYx
MTA2MDYzODM3WjAUMRIwEAYDVQQDDAkxMjcuMC4wLjEwggEiMA0GCSqGSIb3DQEB
AQUAA4IBDwAwggEKAoIBAQCboFlIqD8oF5XidKIZsmroDzZaBqvPU+mwSjImQH+v
c4+KBb3Q1AaVO+B+2nn7ICU0wn2AUICznW5fQD9jrne+i2MiFuJ7sVdHd58XNe0W
P0DC9WqgWgL4Tg02CQFlx9P/NUCYZWrsUR1XKNVV5314JQbLz/e5D7KvJM/ky3XG
Ufsy5X7OKjoOiKaHlYF/Xegrv/J642icaoSqy2+53OyI5dmEf9j/6OKlQ8Lz7Pfy
DeQUQ0wg3O/b1eDM8QUDBS9qMZMdHKHd4hUvWvxSCNTys4R7xeB0dM+bjkBYVQPO
p8GQDTYjH6ymPe/KOLu0KJNkY7VF24rDfJHZ+Y7lq2pBAgMBAAGjbzBtMB0GA1Ud
DgQWBBS9lxwwPXFksqaUsfYgPPrz2Pdt1TAfBgNVHSMEGDAWgBS9lxwwPXFksqaU
sfYgPPrz2Pdt1TAPBgNVHRMBAf8EBTADAQH/MBoGA1UdEQQTMBGHBH8AAAGCCWxv
Y2FsaG9zdDANBgkqhkiG9w0BAQsFAAOCAQEAQSKW1nKPSgCfFQnh/cE8/81mmAAp
9mXscaVjb8NwgNJbab8gp7KDCEs8EWo+6gHBR2e2ZBj8WQ+XMMqtybSzEoHa6wtR
CXf5OBUg3Pnm0/QbIO9i7s+zxRW1THzwWc28tjrJNPJDQKWSBXzrNZE/QTo6Z+A9
Lfrj0F5Mq2K3Oe9Fw/Kk5QZl7CbHwCJmGfA8Td9eOld7rsv6tpMDMM7f3EeP07eo
L964cgukFQd1oQBv1+vjtCx+zgtHG4VmIvNzwA+wtmZH4SK+AmVdGN824Ge/IQX7
d731c0j9KoWPrVHjMH1Ir99D9Bs4USNEyAzxnJDUxovAw5cWRIZdAYu0Rg==
-----END CERTIFICATE-----
"""
TEST_KEY = """\
-----BEGIN PRIVATE KEY-----
MIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQCboFlIqD8oF5Xi
dKIZsmroDzZaBqvPU+mwSjImQH+vc4+KBb3Q1AaVO+B+2nn7ICU0wn2AUICznW5f
QD9jrne+i2MiFuJ7sVdHd58XNe0WP0DC9WqgWgL4Tg02CQFlx9P/NUCYZWrsUR1X
KNVV5314JQbLz/e5D7KvJM/ky3XGUfsy5X7OKjoOiKaHlYF/Xegrv/J642icaoSq
y2+53OyI5dmEf9j/6OKlQ8Lz7PfyDeQUQ0wg3O/b1eDM8QUDBS9qMZMdHKHd4hUv
WvxSCNTys4R7xeB0dM+bjkBYVQPOp8GQDTYjH6ymPe/KOLu0KJNkY7VF24rDfJHZ
+Y7lq2pBAgMBAAECggEABfJZXwugyC8oiMv0or880wu7w7JkD8rQz+3x3yDRUDq9
9iP0hh2H991fHXHLPfOTQGIbKhNJa7OdE1Iw6eXxiOwqGFQgCOJ0p5Q0Vc53dgVq
O9jlX2W5HdRbsGAlN8asPOEDzB75+Dg8QweaKUtscbIWgaS7fkyRgxxIvmEg6bhK
bn5SiGqUyphdolKAz78+XJojH9tA2BOH6SWInHZVgxHNi2HgSeUdwUYalU9Cx3mH
qOtNawaKTZ6xoksCxQXLLFd4JURNxxWSaXT9/upsTmIdD0oGI3eafgaHOtEBaeaY
gVMoNjrAelWF7l0QdPB/f7ZXSfvQUabEqd3fMavQDQKBgQDZBL8FX7OXk8DhlVEB
hgzJpMt5CWhwsGArgIqtmErCn/MF7hBPKw+pJ+Etsbfxth4CAo+LGWbQA4nri2MC
pn6qmkvPRpPbbMRQ8diBmXFHS6R5AVzDTBjXydf6kBFnMTyhLO/8dOyYbUPpkPA9
Ztl0ore8RkqcjT/m/mZ5MOd4zQKBgQC3lJSe0mdHjpITvlkiy2/t6KhlGdV4IZGR
wTIWi3ugHm6IvTaOLIRpn79eMW6ySEZaStm43l7pNtSo3m592OcaQMQo0Dobh/Qi
pKpt2ZgEJw3gBDP2sik3hLvK0e0Nw2uLh0KV0szbbVeIwK6pSai6TDrvlftEFd+b
/t1SA+NHRQKBgQDI4qzUE5+RyxK7flVq3KRPr70twDiuP4X2HtnAEX36pMb4EUOF
lS28/o5hluXX2CX05Fvtfcj++pebsv4mwOn1kDhmmUVa01byOryYUupZ/bo0zL8K
hRFmBpBnfx6s8BXYeFl5zt4HxvUbarAHloHqhokfvc1pFxM1Bv7iZhOObQKBgQCS
MXKBYBD7PSA7NNSLDvMdxK+Fg6MpvaHNLssShRV4F4PyxKuTYQQ5kQu2mSsMMt5D
vWPRAtUWZ6HGsQvQkFDJ6VXNIrWDgyr6A6PtQuD6PZehE/fFt293VO6vv6lF0p/s
R1TRN0QIYfTZZIgzLAOACIDOluO3/qtJ8RaS36G4+QKBgQCZyspazgW1djqQ2i+g
j+hQ8ggEvfsmiTr0AZN94lNHaVKIfNQDd2r79bHIFEEuiE4Y1bB3juOG89CD4T09
6P7wJjflu97BuzQjZckYidisr/tYFXfjeGSu9yqyvjiaZd4bzZ93kgmCn4Rn1Z8S
450BeteOFT2IjR38vs0TSkAjEA==
-----END PRIVATE KEY-----
"""


class FakeAuthTransport:
    """Answers /auth/login and /auth/refresh with a new token each time."""

    def __init__(self):
        self.paths = []

    def send(self, request):
        path = request.url.split("//", 1)[1].split("/", 1)[1]
        self.paths.append(path)
        number = len(self.paths)
        body = json.dumps({"data": {"access_token": jwt(900, iat=number), "refresh_token": "r%d" % number,
                                    "expires": 900000}}).encode()
        return Response(200, {"Content-Type": "application/json"}, body, None, request.method, request.url)

    def close(self):
        pass


def tls_server_context(tmp_path):
    """(server SSL context, path of the CA file that trusts it) for a wss:// FakeDirectus."""
    import ssl
    (tmp_path / "cert.pem").write_text(TEST_CERTIFICATE)
    (tmp_path / "key.pem").write_text(TEST_KEY)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))
    return context, str(tmp_path / "cert.pem")


def tls_answering_server(context, answer):
    """A TLS server on loopback for one keep-alive connection: each request's head is recorded in
    ``seen`` and answered with the bytes ``answer``. Returns (its port, seen)."""
    import threading
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    seen = []

    def serve():
        conn, _ = listener.accept()
        listener.close()
        with context.wrap_socket(conn, server_side=True) as tls:
            data = b""
            while True:
                while b"\r\n\r\n" not in data:
                    part = tls.recv(65536)
                    if not part:
                        return
                    data += part
                head, _, data = data.partition(b"\r\n\r\n")
                seen.append(head.decode())
                tls.sendall(answer)
    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1], seen


# --- scripts both clients' tests run ---------------------------------------------------------------

def ping_then_drop(pongs, subscribes):
    """A script: init, a ping, then the first connection drops (1006); the second sends a create."""
    def script(peer, number):
        handshake(peer)
        subscribe = peer.recv_json()
        subscribes.append((number, subscribe))
        peer.send_json({"type": "subscription", "event": "init", "data": [{"id": number}], "uid": subscribe["uid"]})
        peer.send_json({"type": "ping"})
        pongs.append(peer.recv_json())
        if number == 1:
            return  # drop the connection without a close frame: 1006
        peer.send_json({"type": "subscription", "event": "create", "data": [{"id": 10}], "uid": subscribe["uid"]})
        assert peer.recv_json(timeout=10) is None  # until the client closes
    return script


def record_frames(frames):
    """A script: authenticate, then record the opcode of every frame until the client closes (echoed)."""
    def script(peer, number):
        handshake(peer)
        while True:
            opcode, payload = peer.recv_frame(timeout=10)
            frames.append(opcode)
            if opcode in (None, 0x8):
                if opcode == 0x8:
                    peer.send_raw(encode_frame(0x8, payload[:2]))
                return
    return script


def answer_subscribes(peer, number):
    """A script: authenticate, answer each subscribe with an init whose data is the connection's number."""
    handshake(peer)
    while True:
        message = peer.recv_json(timeout=10)
        if message is None:
            return
        if message["type"] == "subscribe":
            peer.send_json({"type": "subscription", "event": "init", "data": [{"id": number}], "uid": message["uid"]})


def never_pings(connections):
    """A script: authenticate and stay silent (a dead server), counting connections."""
    def script(peer, number):
        connections.append(number)
        handshake(peer)
        peer.recv_json(timeout=10)
    return script
