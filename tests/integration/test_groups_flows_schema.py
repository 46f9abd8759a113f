"""Round trips through flows and operations, and schema snapshot, diff and apply between two servers."""

import pytest

import pydirectus
from tests.conftest import remove_collection
from tests.integration.groups_support import groups_client, groups_server  # noqa: F401  (fixtures)
from tests.rest import call

# An operation of type "exec" runs this in Directus's sandbox; a flow returns its last operation's result.
ECHO_SCRIPT = """
module.exports = async function (data) {
    const trigger = data["$trigger"];
    return {method: trigger.method, body: trigger.body, query: trigger.query,
            doubled: ((trigger.body || {}).numbers || []).map((n) => n * 2)};
};
"""


def test_flow_with_a_webhook_trigger_runs(client, directus):
    # an unlicensed server allows 5 flows: this one is always deleted (its operations go with it)
    flow = client.create_flow({"name": "echo", "status": "active", "trigger": "webhook", "accountability": "all",
                               "options": {"method": "POST", "async": False, "return": "$last"}})
    try:
        operation = client.create_operation({"flow": flow.id, "key": "echo", "type": "exec", "position_x": 19,
                                             "position_y": 1, "options": {"code": ECHO_SCRIPT}})
        client.update_flow(flow.id, {"operation": operation.id})
        assert client.read_flow(flow.id, fields=["operation", {"operations": ["key"]}]).to_dict() \
            == {"operation": operation.id, "operations": [{"key": "echo"}]}
        assert [o.id for o in client.read_operations(filter={"flow": {"_eq": flow.id}})] == [operation.id]

        result = client.trigger_flow(flow.id, {"numbers": [1, 2, 3]})
        assert result["method"] == "POST" and result["body"] == {"numbers": [1, 2, 3]}
        assert result["doubled"] == [2, 4, 6]

        client.update_flow(flow.id, {"options": {"method": "GET", "async": False, "return": "$last"}})
        result = client.trigger_flow_get(flow.id)
        assert (result["method"], result["query"], result["doubled"]) == ("GET", {}, [])
        with pytest.raises(pydirectus.DirectusError):  # a GET flow has no POST trigger any more
            client.trigger_flow(flow.id, {"numbers": [1]})

        client.update_operation(operation.id, {"options": {"code": "module.exports = () => ({changed: true});"}})
        assert client.trigger_flow_get(flow.id) == {"changed": True}
    finally:
        client.delete_flow(flow.id)
    assert call(directus.url, "GET", "/flows/" + flow.id, token=directus.token).status == 403
    assert client.read_operations(filter={"flow": {"_eq": flow.id}}) == []


def test_schema_snapshot_diff_and_apply_between_two_servers(client, collection, groups_client, groups_server):
    client.update_collection(collection, {"meta": {"note": "copied by schema apply"}})
    client.create_field(collection, {"field": "rating", "type": "float", "meta": {"note": "stars"}, "schema": {}})
    snapshot = client.schema_snapshot(include_collections=[collection])
    assert [c["collection"] for c in snapshot["collections"]] == [collection]
    assert (snapshot["directus"], snapshot["vendor"]) == (client.server_info()["version"], "sqlite")

    target = groups_client
    with pytest.raises(pydirectus.ForbiddenError):
        target.read_collection(collection)
    try:
        # merge: add what the snapshot has, never drop what only the target has
        diff = target.schema_diff(snapshot, mode="merge")
        assert diff["hash"] and [c["collection"] for c in diff["diff"]["collections"]] == [collection]
        target.schema_apply(diff)

        assert target.read_collection(collection)["meta"]["note"] == "copied by schema apply"
        fields = {f["field"]: f for f in target.read_fields_by_collection(collection)}
        assert {"id", "title", "body", "views", "published", "rating"} <= set(fields)
        assert (fields["rating"]["type"], fields["rating"]["meta"]["note"]) == ("float", "stars")
        created = target.create_item(collection, {"title": "on the target", "rating": 4.5})
        assert target.read_item(collection, created.id).rating == 4.5
        assert target.schema_diff(snapshot, mode="merge") is None  # 204: nothing left to apply
    finally:
        remove_collection(groups_server, collection)
