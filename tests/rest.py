"""A tiny urllib helper the tests use to set up and check Directus state without pydirectus.

Tests of the client must not depend on the client to prepare or verify what they test.
"""

import json
import urllib.error
import urllib.request
from typing import Any, NamedTuple, Optional

# Never send loopback requests through an HTTP proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Reply(NamedTuple):
    status: int
    body: Any  # the decoded JSON, or None for an empty or non-JSON body

    @property
    def error_code(self) -> Optional[str]:
        """``extensions.code`` of the first error in a Directus error body."""
        try:
            return self.body["errors"][0]["extensions"]["code"]
        except (TypeError, KeyError, IndexError):
            return None


def call(base_url: str, method: str, path: str, body: Any = None, token: Optional[str] = None,
         timeout: float = 30) -> Reply:
    """`method` `path` on the server at `base_url`, with a JSON `body` and a bearer `token` if given."""
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode("utf-8")
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = "Bearer " + token
    request = urllib.request.Request(base_url + path, data=data, headers=headers, method=method)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        decoded = json.loads(raw.decode("utf-8")) if raw else None
    except ValueError:
        decoded = None
    return Reply(status, decoded)
