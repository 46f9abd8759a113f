"""Compression through nginx (gzip on for application/json and text/*, gzip_proxied any), seen at the wire
in nginx's access log ($bytes_sent, $sent_http_content_encoding, $gzip_ratio, $http_range): JSON answers
arrive compressed, a downloaded file is byte-identical whether or not nginx compressed it and never sits
whole in memory, and a download cut midway resumes with a Range request answered uncompressed."""

import gzip
import hashlib
import http.client
import random
import socket
import threading
import tracemalloc

from pydirectus import DirectusClient

WORDS = ("directus nginx gzip postgres redis article title body status published draft archive author "
         "review summary content release version deploy proxy upstream session token").split()


def prose(rng, words):
    return " ".join(rng.choice(WORDS) for _ in range(words))


def _gzip_ratio(entries):
    ratios = [float(entry["gzip_ratio"]) for entry in entries if entry["gzip_ratio"] not in ("-", "")]
    return sum(ratios) / len(ratios) if ratios else None


def test_json_answers_arrive_compressed(stack, admin, collection, figures):
    rng = random.Random(17)
    admin.create_items(collection, [{"title": prose(rng, 4), "marker": "json-%d" % i, "views": i,
                                     "body": prose(rng, 60)} for i in range(200)])
    since = stack.access_log_size()
    items = admin.read_items(collection, limit=200)
    assert len(items) == 200
    admin.read_items(collection, limit=50, sort=["-views"])
    admin.request("GET", "/fields/" + collection)
    entries = [entry for entry in stack.access_entries(since) if entry["method"] == "GET"]
    assert entries, "nginx logged no GET"
    json_entries = [entry for entry in entries if entry["content_type"].startswith("application/json")]
    asked = sorted(set(entry["accept_encoding"] for entry in json_entries))
    sent = sorted(set(entry["content_encoding"] for entry in json_entries))
    wire = sum(int(entry["bytes_sent"]) for entry in json_entries)
    ratio = _gzip_ratio(json_entries)

    # What nginx does with the same answer for a client that asks for gzip (http.client, the CA):
    # the ratio a compressing client gets on these JSON answers.
    connection = http.client.HTTPSConnection("127.0.0.1", stack.nginx_port, context=stack.ssl_context(), timeout=30)
    connection.request("GET", "/cms/items/%s?limit=200" % collection,
                       headers={"Authorization": "Bearer " + stack.token, "Accept-Encoding": "gzip"})
    response = connection.getresponse()
    compressed = response.read()
    connection.close()
    assert response.getheader("Content-Encoding") == "gzip"
    plain = gzip.decompress(compressed)
    figures["JSON ratio nginx achieves (200 items, GET ?limit=200)"] = "%.2f (%d -> %d bytes)" % (
        len(plain) / len(compressed), len(plain), len(compressed))
    figures["JSON answers to pydirectus"] = "Accept-Encoding %s, Content-Encoding %s, %d bytes on the wire for %d " \
        "answers, mean gzip ratio %s" % (asked, sent, wire, len(json_entries), "%.2f" % ratio if ratio else "-")
    assert asked == ["gzip, deflate"], "pydirectus asked for %s, not gzip, deflate" % asked
    assert sent == ["gzip"], "nginx sent %s to pydirectus" % sent
    assert ratio and ratio > 2, ratio


class CuttingRelay:
    """A loopback TCP relay in front of nginx that cuts the first connection carrying more than
    `cut_after` bytes towards the client (once), as a dropped network would."""

    def __init__(self, target_port, cut_after):
        self.target_port = target_port
        self.cut_after = cut_after
        self.cuts = 0
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, source, sink, downstream):
        count = 0
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
                count += len(data)
                if downstream and count > self.cut_after:
                    with self.lock:
                        cut = self.cuts == 0
                        self.cuts += cut
                    if cut:
                        break
        except OSError:
            pass
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self):
        self.listener.close()


def _csv_text(size):
    rng = random.Random(5)
    lines, total, i = [], 0, 0
    while total < size:
        line = "%d,%s,%d,%s\n" % (i, rng.choice(WORDS), rng.randrange(10 ** 6), prose(rng, 8))
        lines.append(line)
        total += len(line)
        i += 1
    return "".join(lines).encode()


def test_large_text_download_identical_streamed_and_resumed(stack, admin, tmp_path, figures):
    content = _csv_text(5 * 1024 * 1024)
    digest = hashlib.sha256(content).hexdigest()
    uploaded = admin.upload_file(content, filename="table.txt", mime_type="text/plain")
    try:
        # 1. straight through nginx: identical, and never whole in memory
        since = stack.access_log_size()
        target = str(tmp_path / "table.txt")
        tracemalloc.start()
        try:
            admin.download_file(uploaded.id, target)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        with open(target, "rb") as handle:
            assert hashlib.sha256(handle.read()).hexdigest() == digest
        downloads = [entry for entry in stack.access_entries(since) if "/assets/" in entry["uri"]]
        assert downloads, "nginx logged no asset download"
        first = downloads[-1]
        figures["5 MB text download"] = "Content-Encoding %s, %s bytes on the wire for %d, gzip ratio %s, peak " \
            "Python memory %.1f MB" % (first["content_encoding"], first["bytes_sent"], len(content),
                                        first["gzip_ratio"], peak / 1e6)
        assert peak < 2.5 * 1024 * 1024, "the download held %d bytes at once" % peak

        # 2. cut after 512 KiB on the wire (gzip makes the whole ~1.2 MB) by a relay between client and nginx: resumes with Range, identical
        relay = CuttingRelay(stack.nginx_port, 512 * 1024)
        try:
            hostname = "https://127.0.0.1:%d/cms" % relay.port
            with DirectusClient(hostname=hostname, static_token=stack.token, ssl_verify=stack.ca_file) as client:
                since = stack.access_log_size()
                resumed_target = str(tmp_path / "resumed.txt")
                client.download_file(uploaded.id, resumed_target)
            with open(resumed_target, "rb") as handle:
                assert hashlib.sha256(handle.read()).hexdigest() == digest
        finally:
            relay.close()
        assert relay.cuts == 1
        tries = [entry for entry in stack.access_entries(since) if "/assets/" in entry["uri"]]
        ranged = [entry for entry in tries if entry["range"] not in ("-", "")]
        figures["cut download"] = "; ".join("%s range=%s -> %s %s, %s bytes" % (
            entry["method"], entry["range"], entry["status"], entry["content_encoding"], entry["bytes_sent"])
            for entry in tries)
        assert ranged, "no Range request after the cut: %s" % tries
        assert all(entry["status"] == "206" and entry["content_encoding"] == "-" for entry in ranged), ranged
    finally:
        admin.delete_file(uploaded.id)
