"""Query encoding for every Directus global query parameter."""

import copy
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest

from pydirectus import DirectusClient
from pydirectus._core.interpreter import bind
from pydirectus._core.records import build_request
from pydirectus._core.query import flatten_fields

OPS = DirectusClient.operations


def url_for(name, *args, **kwargs):
    operation = OPS[name]
    path, data, query, model = bind(operation, args, kwargs)
    return build_request("http://h/base", operation, path, data, query, {}).url


def query_of(url):
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def test_fields_nested_object_syntax():
    assert flatten_fields(["id", {"author": ["name", {"avatar": ["id", "type"]}]}, "title"]) == [
        "id", "author.name", "author.avatar.id", "author.avatar.type", "title"]
    assert flatten_fields({"translations": "*"}) == ["translations.*"]
    assert query_of(url_for("read_items", "a", fields=["id", {"author": ["*"]}]))["fields"] == "id,author.*"
    assert query_of(url_for("read_items", "a", fields="id,title"))["fields"] == "id,title"


@pytest.mark.parametrize("kwargs, expected", [
    ({"filter": {"author": {"_eq": "Beff Jezos"}}}, {"filter": '{"author":{"_eq":"Beff Jezos"}}'}),
    ({"search": "a&b=c"}, {"search": "a&b=c"}),
    ({"sort": ["-date", "title"]}, {"sort": "-date,title"}),
    ({"limit": 10, "offset": 5, "page": 2}, {"limit": "10", "offset": "5", "page": "2"}),
    ({"limit": -1}, {"limit": "-1"}),
    ({"aggregate": {"count": "*", "sum": ["views"]}}, {"aggregate": '{"count":"*","sum":["views"]}'}),
    ({"group_by": ["author", "year(date)"]}, {"groupBy": "author,year(date)"}),
    ({"deep": {"translations": {"_limit": 1}}}, {"deep": '{"translations":{"_limit":1}}'}),
    ({"alias": {"all": "translations"}}, {"alias": '{"all":"translations"}'}),
    ({"meta": "*"}, {"meta": "*"}),
    ({"meta": ["total_count", "filter_count"]}, {"meta": "total_count,filter_count"}),
    ({"export": "csv"}, {"export": "csv"}),
    ({"version": "draft", "version_raw": True}, {"version": "draft", "versionRaw": "true"}),
    ({"backlink": False}, {"backlink": "false"}),
])
def test_global_parameters(kwargs, expected):
    assert query_of(url_for("read_items", "articles", **kwargs)) == expected


def test_query_dict_accepts_wire_and_python_names_and_is_not_mutated():
    query = {"limit": 10, "groupBy": ["a"], "filter": {"x": {"_eq": 1}}}
    before = copy.deepcopy(query)
    url = url_for("read_items", "articles", query=query, sort="-id")
    assert query == before
    assert query_of(url) == {"limit": "10", "groupBy": "a", "filter": '{"x":{"_eq":1}}', "sort": "-id"}
    assert query_of(url_for("read_items", "articles", query={"group_by": "a"})) == {"groupBy": "a"}


def test_values_are_percent_encoded_into_one_parameter():
    url = url_for("read_items", "articles", search="x&limit=1#frag")
    assert "#" not in url and query_of(url) == {"search": "x&limit=1#frag"}


@pytest.mark.parametrize("kwargs, message", [
    ({"limit": "10"}, "expected an integer"),
    ({"limit": True}, "expected an integer"),
    ({"backlink": "yes"}, "expected True or False"),
    ({"sort": ["a", 1]}, "list of strings"),
    ({"fields": ["a", 3]}, "fields"),
    ({"filter": {"a": object()}}, "filter"),
])
def test_bad_values_raise_type_error(kwargs, message):
    with pytest.raises(TypeError, match=message):
        url_for("read_items", "articles", **kwargs)


def test_path_parameters_are_one_quoted_segment():
    assert urlsplit(url_for("read_item", "my coll", "a/b?c")).path == "/base/items/my%20coll/a%2Fb%3Fc"
    assert unquote(urlsplit(url_for("read_item", "c", "ü/..")).path).endswith("/items/c/ü/..")
    assert urlsplit(url_for("read_item", "c", 42)).path == "/base/items/c/42"


def test_a_long_query_moves_to_the_body_of_a_search():
    from pydirectus._core.records import MAX_URL_LENGTH
    operation = OPS["read_items"]
    keys = list(range(2000))
    filter_ = {"id": {"_in": keys}}
    path, data, query, model = bind(operation, ("articles",),
                                              {"filter": filter_, "fields": ["id", {"author": ["name"]}],
                                               "limit": 5, "sort": "-id,title"})
    request = build_request("http://h", operation, path, data, query, {"Accept": "application/json"})
    assert request.method == "SEARCH" and request.url == "http://h/items/articles"
    assert request.headers["Content-Type"] == "application/json"
    import json
    assert json.loads(request.body) == {"query": {"filter": filter_, "fields": "id,author.name", "limit": 5,
                                                  "sort": "-id,title"}}
    short = build_request("http://h", operation, path, data, {"limit": 5}, {})
    assert short.method == "GET" and len(short.url) < MAX_URL_LENGTH
    # an operation without a SEARCH twin keeps its GET, however long
    single = OPS["read_item"]
    long_get = build_request("http://h", single, {"collection": "a", "id": 1}, None, query, {})
    assert long_get.method == "GET" and len(long_get.url) > MAX_URL_LENGTH


def test_free_query_parameters_go_as_they_are():
    url = url_for("trigger_flow_get", "4f1e6c1c-0000-4000-8000-000000000000", params={"n": 3, "tags": ["a"],
                                                                                       "dry": True})
    assert query_of(url) == {"n": "3", "tags": '["a"]', "dry": "true"}


def test_dates_in_filters_are_sent_in_iso_form():
    import datetime
    url = url_for("read_items", "a", filter={"date_created": {"_gte": datetime.date(2026, 11, 30)}})
    assert query_of(url)["filter"] == '{"date_created":{"_gte":"2026-11-30"}}'
