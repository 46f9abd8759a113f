# The live checks of both Pyodide lanes (tests/pyodide/lanes.py), run inside Pyodide against a real
# Directus with CORS enabled: the async client everywhere, the sync client where the runtime can
# block on a promise (JSPI). Each check is recorded as {"client", "name", "ok", "detail"}.
#
#     report = Report(); await check_async(settings, report); check_sync(settings, report)
#
# settings: url, token, email, password, ttl (the server's ACCESS_TOKEN_TTL in seconds), dead_url
# (a URL nothing answers), tag (a unique suffix for the collections made here).
import asyncio
import io
import time
import traceback

import pydirectus
from pydirectus import errors
from pydirectus.async_client import AsyncDirectusClient

FIELDS = [
    {"field": "id", "type": "integer", "meta": {"hidden": True, "readonly": True},
     "schema": {"is_primary_key": True, "has_auto_increment": True}},
    {"field": "title", "type": "string", "meta": {}, "schema": {}},
    {"field": "views", "type": "integer", "meta": {}, "schema": {}},
]
CONTENT = bytes(range(256)) * 1200 + b"tail"  # 300 KiB and a bit: several reads of the body's reader


class Report:
    def __init__(self, say=print):
        self.checks = []
        self.say = say

    def record(self, client, name, ok, detail=""):
        self.checks.append({"client": client, "name": name, "ok": bool(ok), "detail": detail})
        self.say("%s %s %s%s" % ("PASS" if ok else "FAIL", client, name, (": " + detail) if detail else ""))

    def counts(self):
        passed = sum(1 for check in self.checks if check["ok"])
        return passed, len(self.checks) - passed


class Check:
    """``with Check(report, client, name):`` records the block as passed, or failed with its error."""

    def __init__(self, report, client, name):
        self.report, self.client, self.name = report, client, name
        self.detail = ""

    def __enter__(self):
        return self

    def __exit__(self, kind, error, tb):
        if error is None:
            self.report.record(self.client, self.name, True, self.detail)
        else:
            text = "%s: %s" % (kind.__name__, error)
            self.report.record(self.client, self.name, False, text + "\n" + "".join(traceback.format_tb(tb))[-1500:])
        return kind is not None and issubclass(kind, Exception)


def collection_document(name):
    return {"collection": name, "meta": {}, "schema": {}, "fields": FIELDS}


async def check_async(settings, report):
    client = "async"
    name = "pyodide_async_" + settings["tag"]
    directus = AsyncDirectusClient(hostname=settings["url"], static_token=settings["token"])
    with Check(report, client, "the transport is fetch") as check:
        assert type(directus.transport).__name__ == "FetchTransport", directus.transport
        check.detail = repr(directus.transport)
    with Check(report, client, "create a collection"):
        await directus.request("POST", "/collections", json=collection_document(name))
    try:
        with Check(report, client, "CRUD"):
            created = await directus.create_item(name, {"title": "first", "views": 1})
            assert created.title == "first", created
            read = await directus.read_item(name, created.id)
            assert read.views == 1, read
            await directus.update_item(name, created.id, {"views": 2})
            assert (await directus.read_item(name, created.id)).views == 2
            found = await directus.read_items(name, filter={"title": {"_eq": "first"}})
            assert [item.id for item in found] == [created.id], found
            await directus.delete_item(name, created.id)
            assert len(await directus.read_items(name)) == 0
        with Check(report, client, "bulk create and iter_items") as check:
            await directus.create_items(name, [{"title": "t%03d" % i, "views": i} for i in range(230)])
            titles = [item.title async for item in directus.iter_items(name, fields=["id", "title"], page_size=100)]
            assert titles == ["t%03d" % i for i in range(230)], titles[:5]
            assert await directus.count_items(name) == 230
            check.detail = "230 items in 3 pages"
        with Check(report, client, "errors by class") as check:
            try:
                await directus.read_item(name, 999999)
                raise AssertionError("no error for a missing item")
            except errors.ForbiddenError as error:
                assert error.status == 403, error
            try:
                await directus.read_items(name, limit=-5)
                raise AssertionError("no error for a bad query")
            except errors.BadRequestError as error:
                assert error.status == 400, error
            stranger = AsyncDirectusClient(hostname=settings["url"], static_token="not-a-token")
            try:
                await stranger.read_items(name)
                raise AssertionError("no error for a bad token")
            except errors.AuthenticationError as error:
                assert error.status == 401, error
            nowhere = AsyncDirectusClient(hostname=settings["dead_url"], static_token="t", retries=0)
            try:
                await nowhere.read_items(name)
                raise AssertionError("no error for a dead server")
            except errors.TransportError as error:
                assert "CORS_ENABLED" in str(error), error
                check.detail = "dead server: %s" % str(error)[:90]
        with Check(report, client, "a server that never answers: the fetch is aborted") as check:
            silent = AsyncDirectusClient(hostname=settings["silent_url"], static_token="t", retries=0,
                                         connect_timeout=0.5, read_timeout=1)
            started = time.monotonic()
            try:
                await silent.read_items(name)
                raise AssertionError("no error from a silent server")
            except errors.TimeoutError as error:
                assert "within 1.5 s" in str(error), error
                check.detail = "%s after %.1f s" % (str(error)[:70], time.monotonic() - started)
        if settings.get("browser"):
            with Check(report, client, "a server without CORS: the error says so") as check:
                plain = AsyncDirectusClient(hostname=settings["plain_url"], static_token="t", retries=0)
                try:
                    await plain.read_items(name)
                    raise AssertionError("the page read an answer without CORS headers")
                except errors.TransportError as error:
                    assert "CORS_ORIGIN" in str(error) and "Failed to fetch" in str(error), error
                    check.detail = str(error)[:100]
    finally:
        with Check(report, client, "delete the collection"):
            await directus.request("DELETE", "/collections/" + name)
    with Check(report, client, "upload_file from bytes, download_file and iter_file") as check:
        uploaded = await directus.upload_file(CONTENT, filename="pyodide-async.bin", title="from Pyodide")
        try:
            assert uploaded.filesize == len(CONTENT), uploaded
            sink = io.BytesIO()
            await directus.download_file(uploaded.id, sink)
            assert sink.getvalue() == CONTENT, len(sink.getvalue())
            chunks = [chunk async for chunk in directus.iter_file(uploaded.id, chunk_size=50000)]
            assert b"".join(chunks) == CONTENT and max(map(len, chunks)) <= 50000, len(chunks)

            async def parts():  # an async iterable body: gathered (a browser cannot stream a request body)
                yield b"one "
                yield b"two"
            second = await directus.upload_file(parts(), filename="parts.txt")
            assert b"".join([chunk async for chunk in directus.iter_file(second.id)]) == b"one two"
            await directus.delete_files([uploaded.id, second.id])
            check.detail = "%d bytes both ways, %d chunks" % (len(CONTENT), len(chunks))
        except BaseException:
            await directus.delete_file(uploaded.id)
            raise
    with Check(report, client, "password login and a refresh") as check:
        session = AsyncDirectusClient(hostname=settings["url"], email=settings["email"],
                                      password=settings["password"])
        me = await session.read_me()
        assert me["email"] == settings["email"], me
        assert session.tokens.logins == 1, session.tokens.logins
        await asyncio.sleep(settings["ttl"] + 1)
        me = await session.read_me()
        assert session.tokens.refreshes >= 1 and session.tokens.logins == 1, (session.tokens.logins,
                                                                              session.tokens.refreshes)
        await session.logout()
        check.detail = "logins %d, refreshes %d" % (session.tokens.logins, session.tokens.refreshes)
    with Check(report, client, "realtime() says why not"):
        try:
            directus.realtime()
            raise AssertionError("realtime() did not refuse")
        except NotImplementedError as error:
            assert "Pyodide" in str(error)


def check_sync(settings, report):
    client = "sync"
    from pyodide.ffi import can_run_sync
    name = "pyodide_sync_" + settings["tag"]
    directus = pydirectus.DirectusClient(hostname=settings["url"], static_token=settings["token"])
    with Check(report, client, "can_run_sync (JSPI)"):
        assert can_run_sync(), "pyodide.ffi.can_run_sync() is False: no JSPI here"
    with Check(report, client, "the transport is fetch, blocking"):
        assert type(directus.transport).__name__ == "SyncFetchTransport", directus.transport
    with Check(report, client, "create a collection"):
        directus.request("POST", "/collections", json=collection_document(name))
    try:
        with Check(report, client, "CRUD"):
            created = directus.create_item(name, {"title": "first", "views": 1})
            assert directus.read_item(name, created.id).views == 1
            directus.update_item(name, created.id, {"views": 2})
            assert directus.read_item(name, created.id).views == 2
            directus.delete_item(name, created.id)
            assert len(directus.read_items(name)) == 0
        with Check(report, client, "bulk create and iter_items"):
            directus.create_items(name, [{"title": "t%03d" % i} for i in range(150)])
            titles = [item.title for item in directus.iter_items(name, fields=["title"], page_size=60)]
            assert titles == ["t%03d" % i for i in range(150)], titles[:5]
        with Check(report, client, "errors by class"):
            try:
                directus.read_item(name, 999999)
                raise AssertionError("no error for a missing item")
            except errors.ForbiddenError:
                pass
            try:
                pydirectus.DirectusClient(hostname=settings["url"], static_token="nope").read_items(name)
                raise AssertionError("no error for a bad token")
            except errors.AuthenticationError:
                pass
    finally:
        with Check(report, client, "delete the collection"):
            directus.request("DELETE", "/collections/" + name)
    with Check(report, client, "upload_file from bytes, download_file and iter_file"):
        uploaded = directus.upload_file(CONTENT, filename="pyodide-sync.bin")
        try:
            sink = io.BytesIO()
            directus.download_file(uploaded.id, sink)
            assert sink.getvalue() == CONTENT
            assert b"".join(directus.iter_file(uploaded.id, chunk_size=70000)) == CONTENT
            directus.download_file(uploaded.id, "/tmp/pyodide-sync.bin", overwrite=True)  # Pyodide's own file system
            with open("/tmp/pyodide-sync.bin", "rb") as handle:
                assert handle.read() == CONTENT
        finally:
            directus.delete_file(uploaded.id)
    with Check(report, client, "password login and a refresh") as check:
        session = pydirectus.DirectusClient(hostname=settings["url"], email=settings["email"],
                                            password=settings["password"])
        assert session.read_me()["email"] == settings["email"]
        started = time.monotonic()
        session._runner.sleep(settings["ttl"] + 1)  # the runner's sleep: suspended on a timer (JSPI)
        assert time.monotonic() - started >= settings["ttl"]
        session.read_me()
        assert session.tokens.refreshes >= 1 and session.tokens.logins == 1, (session.tokens.logins,
                                                                              session.tokens.refreshes)
        check.detail = "logins %d, refreshes %d" % (session.tokens.logins, session.tokens.refreshes)


async def check_readme(settings, report):
    """The README's "In the browser" snippet (settings["readme_snippet"]), run as a notebook cell runs
    it (top-level await), against this server: an articles collection with one published article."""
    import ast
    admin = AsyncDirectusClient(hostname=settings["url"], static_token=settings["token"])
    with Check(report, "readme", "the In the browser snippet of README.md") as check:
        fields = FIELDS + [{"field": "status", "type": "string", "meta": {}, "schema": {}}]
        await admin.request("POST", "/collections", json={"collection": "articles", "meta": {}, "schema": {},
                                                          "fields": fields})
        try:
            await admin.create_items("articles", [{"title": "Hello", "status": "published"},
                                                  {"title": "Draft", "status": "draft"}])
            code = settings["readme_snippet"].replace("https://directus.example.com", settings["url"])
            code = code.replace("me@example.com", settings["email"]).replace('password="..."',
                                                                             "password=%r" % settings["password"])
            namespace = {"__name__": "__main__"}
            result = eval(compile(code, "README.md", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT), namespace)
            if result is not None:
                await result
            assert [article.title for article in namespace["articles"]] == ["Hello"], namespace["articles"]
            await admin.delete_file(namespace["notes"].id)
            check.detail = "%d lines, as a notebook cell" % len(code.splitlines())
        finally:
            await admin.request("DELETE", "/collections/articles")
