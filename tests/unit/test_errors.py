"""Error mapping: captured Directus 12.4.0 bodies map to the class their meaning says."""

import email.utils
import time

import pytest

import pydirectus
from pydirectus.errors import error_from_response, parse_retry_after


class Headers(dict):
    def get(self, key, default=None):
        for name, value in self.items():
            if name.lower() == key.lower():
                return value
        return default


JSON = Headers({"Content-Type": "application/json; charset=utf-8"})

# (status, body captured from Directus 12.4.0, expected class, code)
CAPTURED = [
    (401, b'{"errors":[{"message":"Invalid user credentials.","extensions":{"code":"INVALID_CREDENTIALS"}}]}',
     pydirectus.AuthenticationError, "INVALID_CREDENTIALS"),
    (401, b'{"errors":[{"message":"Token expired.","extensions":{"code":"TOKEN_EXPIRED"}}]}',
     pydirectus.AuthenticationError, "TOKEN_EXPIRED"),
    (403, b'{"errors":[{"message":"You don\'t have permission to access this.","extensions":{"code":"FORBIDDEN"}}]}',
     pydirectus.ForbiddenError, "FORBIDDEN"),
    (404, b'{"errors":[{"message":"Route /x doesn\'t exist.","extensions":{"path":"/x","code":"ROUTE_NOT_FOUND"}}]}',
     pydirectus.NotFoundError, "ROUTE_NOT_FOUND"),
    (400, b'{"errors":[{"message":"Invalid payload. \\"password\\" is required.","extensions":{"reason":"x","code":"INVALID_PAYLOAD"}}]}',
     pydirectus.InvalidPayloadError, "INVALID_PAYLOAD"),
    (400, b'{"errors":[{"message":"Validation failed for field \\"title\\". Value is required.","extensions":{"field":"title","path":[],"type":"required","code":"FAILED_VALIDATION"}}]}',
     pydirectus.InvalidPayloadError, "FAILED_VALIDATION"),
    (400, b'{"errors":[{"message":"Invalid query. \\"limit\\" must be a number.","extensions":{"reason":"x","code":"INVALID_QUERY"}}]}',
     pydirectus.InvalidQueryError, "INVALID_QUERY"),
    (400, b'{"errors":[{"message":"Value \\"T2\\" for field \\"title\\" in collection \\"articles\\" has to be unique.","extensions":{"collection":"articles","field":"title","value":"T2","code":"RECORD_NOT_UNIQUE"}}]}',
     pydirectus.UniqueConflictError, "RECORD_NOT_UNIQUE"),
    (429, b'{"errors":[{"message":"Too many requests, retry after 2s.","extensions":{"limit":5,"reset":"2026-11-30T04:37:07.359Z","code":"REQUESTS_EXCEEDED"}}]}',
     pydirectus.RateLimitedError, "REQUESTS_EXCEEDED"),
    (403, b'{"errors":[{"message":"collections limit exceeded.","extensions":{"category":"collections","code":"LIMIT_EXCEEDED"}}]}',
     pydirectus.ForbiddenError, "LIMIT_EXCEEDED"),
    (500, b'{"errors":[{"message":"An unexpected error occurred.","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}',
     pydirectus.ServerError, "INTERNAL_SERVER_ERROR"),
]


@pytest.mark.parametrize("status, body, cls, code", CAPTURED)
def test_captured_bodies_map_to_their_class(status, body, cls, code):
    error = error_from_response(status, JSON, body, "GET", "http://h/x")
    assert type(error) is cls and error.status == status and error.code == code
    assert error.errors and error.errors[0]["extensions"]["code"] == code
    assert error.method == "GET" and error.url == "http://h/x" and error.message in str(error)
    assert isinstance(error, pydirectus.APIError) and isinstance(error, pydirectus.DirectusError)


def test_rate_limit_carries_retry_after():
    error = error_from_response(429, Headers({"Retry-After": "2"}), CAPTURED[8][1], "GET", "u")
    assert error.retry_after == 2.0


def test_html_502_from_a_proxy_gives_a_snippet():
    body = b"<html><body><h1>502 Bad Gateway</h1></body></html>" + b"x" * 1000
    error = error_from_response(502, Headers({"Content-Type": "text/html"}), body, "GET", "http://h/items/a")
    assert type(error) is pydirectus.ServerError and error.code is None and error.status == 502
    assert "502 Bad Gateway" in str(error) and "text/html" in str(error) and len(str(error)) < 400


def test_empty_and_broken_json_bodies():
    assert "empty body" in str(error_from_response(500, Headers(), b"", "GET", "u"))
    error = error_from_response(400, JSON, b'{"errors": [1, 2', "GET", "u")
    assert type(error) is pydirectus.BadRequestError and "not a Directus error" in str(error)


def test_retry_after_as_seconds_or_http_date():
    assert parse_retry_after("7") == 7.0
    now = time.time()
    later = email.utils.formatdate(now + 30, usegmt=True)
    assert 28 <= parse_retry_after(later, now_epoch=now) <= 31
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_one_reading_of_directus_error_codes():
    """errors.error_code / answer_error_code: the one place a Directus error code is read (the
    error table, the retry policy, the token-expiry replay, realtime's GraphQL errors)."""
    from pydirectus.errors import answer_error_code, error_code
    body = b'{"errors": [{"message": "x", "extensions": {"code": "TOKEN_EXPIRED"}}, {"extensions": {"code": "B"}}]}'
    assert answer_error_code(body) == "TOKEN_EXPIRED"
    for not_directus in (b"", None, b"<html>502</html>", b"[]", b'{"errors": []}', b'{"errors": [1]}',
                         b'{"errors": [{"extensions": "no"}]}', b'{"data": {}}'):
        assert answer_error_code(not_directus) is None, not_directus
    assert error_code([{"extensions": {"code": 7}}]) == 7  # as the server sent it
    assert error_code("errors") is None


@pytest.mark.parametrize("status, body, method, processed, said", [
    (502, b"<html>502 Bad Gateway</html>", "POST", True, True),     # nginx: the upstream stopped midway
    (504, b"<html>504 Gateway Time-out</html>", "PATCH", True, True),
    (500, b'{"errors":[{"message":"x","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}', "POST", True, True),
    (502, b"<html>502 Bad Gateway</html>", "GET", True, False),     # a read: no news
    (503, b'{"errors":[{"message":"busy","extensions":{"code":"SERVICE_UNAVAILABLE"}}]}', "POST", False, False),
    (429, b'{"errors":[{"message":"slow","extensions":{"code":"REQUESTS_EXCEEDED"}}]}', "POST", False, False),
    (400, b'{"errors":[{"message":"bad","extensions":{"code":"INVALID_PAYLOAD"}}]}', "POST", False, False),
])
def test_an_error_answer_says_whether_the_server_may_have_processed_the_request(status, body, method, processed,
                                                                                said):
    from pydirectus._core.http11 import Headers
    error = error_from_response(status, Headers([("Content-Type", "text/html")]), body, method, "http://h/items/a")
    assert error.may_have_been_processed is processed
    assert ("may have processed" in str(error)) is said
