"""Pin what each Directus version has: its own OpenAPI document and which of the spec's operations it routes.

    python3 spec/capture_versions.py 10.13.4 11.17.4 12.4.0

For each version (installed by ``pydirectus.testing`` when missing), starts a throwaway server
(``pydirectus.testing.DirectusServer``, SQLite, with TUS, metrics, MCP, MCP OAuth and AI switched on
so that their routes are registered), then writes beside this file:

- ``upstream/oas-<version>.json``: the server's ``GET /server/specs/oas`` (admin token), as it answers
  (an existing file is kept unless ``--refresh-oas`` is given: 12.4.0's was pinned from a server
  with a test collection, ``articles``, which the coverage tests read);
- ``upstream/routes-<version>.json``: for every operation of ``pydirectus/endpoints.json``, whether
  the server routes its method and path. Measured, not read: the operation's request is sent with
  bogus path values (a collection and ids that do not exist) and an empty body, first without
  credentials, then, when that answers 404 ROUTE_NOT_FOUND, with the admin token. Directus answers
  404 ROUTE_NOT_FOUND (its last handler) exactly when no route matched; any other answer means the
  route exists. A HEAD answer has no body: a 404 there is checked by a GET of the same path.
  The file also records what ``GET /server/info`` tells an admin about the version. One exception:
  a static last segment beside a parameter of the same method (``GET /roles/me`` beside
  ``GET /roles/{id}``) is answered by the parameter's route on a server that lacks it, so it is sent
  with the admin token and counts as routed only when it answers 200 (Directus 10 answers
  ``GET /permissions/me`` with 204, the permission "me" not found).

Then ``python3 spec/generate.py --versions`` writes each operation's ``versions`` field into
``pydirectus/endpoints.json`` from the routes files (``tests/unit/test_versions.py`` checks that they agree).
Standard library and ``pydirectus.testing`` only; the server is stopped at the end.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
UPSTREAM = os.path.join(HERE, "upstream")
SPEC = os.path.join(ROOT, "pydirectus", "endpoints.json")

# switched on so that the routes behind them are registered (each is off by default in some version)
PROBE_ENV = {
    "TUS_ENABLED": "true",
    "METRICS_ENABLED": "true",
    "MCP_ENABLED": "true",
    "MCP_OAUTH_ENABLED": "true",
    "AI_ENABLED": "true",
    "WEBSOCKETS_ENABLED": "true",
}

# the bogus value each path parameter gets: nothing the server has
PATH_VALUES = {
    "collection": "pydirectus_probe_missing",
    "field": "pydirectus_probe_missing",
    "provider": "pydirectus-probe-missing",
    "revision": "987654321",
    "chunk": "index.js",  # a missing chunk answers ROUTE_NOT_FOUND from inside the route; the app's index exists
    "id": "00000000-0000-4000-8000-000000000000",
}
BODIES = {"none": None, "object": b"{}", "array": b"[]", "json": b"[]", "multipart": None}


def _request(url: str, method: str, path: str, body: bytes | None, token: str | None) -> tuple:
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = "Bearer " + token
    try:
        connection.request(method, path, body=body, headers=headers)
        answer = connection.getresponse()
        data = answer.read()
        return answer.status, data
    finally:
        connection.close()


def _code(data: bytes) -> str | None:
    try:
        document = json.loads(data)
        return document["errors"][0]["extensions"]["code"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def shadowing(operation: dict, operations: list) -> bool:
    """Whether a route of the same method with a parameter in place of ``operation``'s last path segment
    (``GET /roles/{id}`` for ``GET /roles/me``) would answer ``operation``'s request on a server that lacks
    it: Directus 10 answers ``GET /roles/me`` as the role whose id is "me" (403 FORBIDDEN, not found)."""
    head, _, last = operation["path"].rpartition("/")
    if last.startswith("{"):
        return False
    return any(other["method"] == operation["method"] and other["path_params"]
               and other["path"] == "%s/{%s}" % (head, other["path_params"][-1]) for other in operations)


def probe(url: str, token: str, operation: dict, shadowed: bool = False) -> dict:
    """Whether the server routes ``operation``: {"routed", "status", "code", "as"}. A ``shadowed``
    operation (see ``shadowing``) is sent with the admin token, and routed only when it answers 200."""
    path = operation["path"]
    for param in operation["path_params"]:
        path = path.replace("{%s}" % param, urllib.parse.quote(PATH_VALUES.get(param, PATH_VALUES["id"]), safe=""))
    method = operation["method"]
    body = BODIES[operation["payload"]] if method not in ("GET", "HEAD", "OPTIONS") else None
    if shadowed:
        status, data = _request(url, method, path, body, token)
        return {"routed": status == 200, "status": status, "code": _code(data),
                "as": "admin, shadowed by a {id} route: routed only when it answers 200"}
    result = {}
    for who, credentials in (("public", None), ("admin", token)):
        status, data = _request(url, method, path, body, credentials)
        code = _code(data)
        if method == "HEAD" and status == 404:
            status, data = _request(url, "GET", path, None, credentials)
            code = _code(data)
            who += ", GET for HEAD"
        result = {"routed": not (status == 404 and code == "ROUTE_NOT_FOUND"), "status": status, "code": code,
                  "as": who}
        if result["routed"]:
            break
    return result


def _version_facts(url: str, token: str) -> dict:
    """What GET /server/info tells an admin and the public about the version."""
    facts = {}
    for who, credentials in (("admin", token), ("public", None)):
        status, data = _request(url, "GET", "/server/info", None, credentials)
        try:
            info = json.loads(data).get("data") or {}
        except ValueError:
            info = {}
        where = {}
        if isinstance(info.get("version"), str):
            where["data.version"] = info["version"]
        directus = info.get("directus")
        if isinstance(directus, dict) and isinstance(directus.get("version"), str):
            where["data.directus.version"] = directus["version"]
        facts[who] = {"status": status, "keys": sorted(info), "version_at": where}
    return facts


def capture(version: str, refresh_oas: bool = False) -> None:
    from pydirectus.testing import DirectusServer
    with open(SPEC, encoding="utf-8") as handle:
        spec = json.load(handle)
    with DirectusServer(dict(PROBE_ENV), version=version) as server:
        status, oas = _request(server.url, "GET", "/server/specs/oas", None, server.token)
        if status != 200:
            raise SystemExit("GET /server/specs/oas answered %d on %s" % (status, version))
        oas_path = os.path.join(UPSTREAM, "oas-%s.json" % version)
        if refresh_oas or not os.path.exists(oas_path):  # 12.4.0's was pinned from a seeded server: kept
            with open(oas_path, "w", encoding="utf-8") as handle:
                json.dump(json.loads(oas), handle, indent=1, sort_keys=False)
                handle.write("\n")
        operations = {}
        for operation in spec["operations"]:
            shadowed = shadowing(operation, spec["operations"])
            operations[operation["name"]] = dict({"method": operation["method"], "path": operation["path"]},
                                                 **probe(server.url, server.token, operation, shadowed))
        facts = _version_facts(server.url, server.token)
        status, _ = _request(server.url, "GET", "/server/ping", None, None)
        if status != 200:
            raise SystemExit("the %s server stopped answering during the probe:\n%s" % (version, server.log_tail()))
    document = {
        "directus": version,
        "how": "spec/capture_versions.py: each operation's method and path sent to a throwaway server with bogus "
               "path values and an empty body (public, then admin token when the public answer was 404 "
               "ROUTE_NOT_FOUND); routed is false exactly when the answer was 404 ROUTE_NOT_FOUND, but for an "
               "operation shadowed by a {id} route of the same method (GET /roles/me): sent as admin, routed "
               "when it answers 200",
        "env": PROBE_ENV,
        "server_info": facts,
        "operations": operations,
    }
    with open(os.path.join(UPSTREAM, "routes-%s.json" % version), "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=1)
        handle.write("\n")
    missing = sorted(name for name, row in operations.items() if not row["routed"])
    print("%s: %d operations routed, %d not: %s" % (version, len(operations) - len(missing), len(missing),
                                                    ", ".join(missing)))


def main(argv: list) -> int:
    if not argv:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    sys.path.insert(0, ROOT)
    refresh_oas = "--refresh-oas" in argv
    for version in argv:
        if version != "--refresh-oas":
            capture(version, refresh_oas)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
