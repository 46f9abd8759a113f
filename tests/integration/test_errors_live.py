"""Each error class, triggered by a real Directus answer, on both clients (the conformance suite)."""

import socket

import pytest

import pydirectus

# The conformance core: runs against every supported Directus version (tests/conftest.py).
pytestmark = pytest.mark.conformance


@pytest.fixture
def client(each_client):
    return each_client


def test_missing_item_is_forbidden_or_not_found(client, collection):
    with pytest.raises(pydirectus.NotFoundError) as caught:
        client.read_item(collection, 999999)
    error = caught.value
    assert type(error) is pydirectus.ForbiddenError and error.status == 403 and error.code == "FORBIDDEN"
    assert error.method == "GET" and error.url.endswith("/items/%s/999999" % collection)
    assert error.errors[0]["message"] == error.message


def test_unknown_route_is_not_found(client):
    with pytest.raises(pydirectus.NotFoundError) as caught:
        client.request("GET", "/definitely/not/a/route")
    assert caught.value.status == 404 and caught.value.code == "ROUTE_NOT_FOUND"


def test_authentication_error(directus, make_client):
    with make_client(hostname=directus.url, static_token="garbage") as client:
        with pytest.raises(pydirectus.AuthenticationError) as caught:
            client.read_users()
    assert caught.value.status == 401


def test_invalid_query(client, collection):
    with pytest.raises(pydirectus.InvalidQueryError) as caught:
        client.read_items(collection, filter={"title": {"_bogus": "x"}})
    assert caught.value.code == "INVALID_QUERY" and "_bogus" in caught.value.message


def test_invalid_payload(client, collection):
    with pytest.raises(pydirectus.InvalidPayloadError) as caught:
        client.create_collection({"collection": collection, "schema": {}, "meta": {}})
    assert caught.value.status == 400 and caught.value.code == "INVALID_PAYLOAD"


def test_failed_validation(client, collection):
    client.update_field(collection, "title", {"schema": {"is_nullable": False}, "meta": {"required": True}})
    with pytest.raises(pydirectus.InvalidPayloadError) as caught:
        client.create_item(collection, {"views": 1})
    assert caught.value.code == "FAILED_VALIDATION" and caught.value.errors[0]["extensions"]["field"] == "title"


def test_unique_conflict(client, collection):
    client.update_field(collection, "title", {"schema": {"is_unique": True}})
    client.create_item(collection, {"title": "once"})
    with pytest.raises(pydirectus.UniqueConflictError) as caught:
        client.create_item(collection, {"title": "once"})
    assert caught.value.code == "RECORD_NOT_UNIQUE" and isinstance(caught.value, pydirectus.BadRequestError)


def test_server_error(client, collection):
    # a multipart body that ends early makes Directus 12.4.0 fail with a 500
    with pytest.raises(pydirectus.ServerError) as caught:
        client.request("POST", "/utils/import/" + collection, data=b"--zz\r\n",
                       headers={"Content-Type": "multipart/form-data; boundary=zz"})
    assert caught.value.status == 500 and caught.value.code == "INTERNAL_SERVER_ERROR"


def test_rate_limited(directus_factory, make_client):
    server = directus_factory(RATE_LIMITER_ENABLED="true", RATE_LIMITER_POINTS="3", RATE_LIMITER_DURATION="5")
    with make_client(hostname=server.url, static_token=server.token, retries=0) as client:
        with pytest.raises(pydirectus.RateLimitedError) as caught:
            for _ in range(10):
                client.server_ping()
    assert caught.value.status == 429 and caught.value.code == "REQUESTS_EXCEEDED"
    assert 0 < caught.value.retry_after <= 5


def test_transport_error_when_nothing_listens(make_client):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with make_client(hostname="http://127.0.0.1:%d" % port, retries=1) as client:
        with pytest.raises(pydirectus.TransportError) as caught:
            client.read_items("articles")
    assert not caught.value.may_have_been_processed
