"""Round trips through the content groups: versions, comments, notifications, shares,
translations, presets, dashboards and panels, folders, relations, activity and revisions."""

import uuid

import pytest

import pydirectus
from pydirectus import DirectusClient
from tests.integration.groups_support import make_collection  # noqa: F401  (a fixture)
from tests.rest import call


def test_content_version_saved_compared_and_promoted(client, collection, directus):
    client.update_collection(collection, {"meta": {"versioning": True}})
    item = client.create_item(collection, {"title": "main", "views": 1})
    version = client.create_content_version({"key": "draft", "name": "Draft", "collection": collection,
                                             "item": str(item.id)})
    try:
        saved = client.save_to_content_version(version.id, {"title": "drafted", "views": 2})
        assert (saved["title"], saved["views"]) == ("drafted", 2)
        # the main item is untouched until the version is promoted; version= reads the draft
        assert call(directus.url, "GET", "/items/%s/%s" % (collection, item.id),
                    token=directus.token).body["data"]["title"] == "main"
        assert client.read_item(collection, item.id, version="draft").title == "drafted"
        assert [v.id for v in client.read_content_versions(filter={"item": {"_eq": str(item.id)},
                                                                    "collection": {"_eq": collection}})] == [version.id]
        assert client.read_content_version(version.id)["delta"]["title"] == "drafted"

        comparison = client.compare_content_version(version.id)
        assert comparison["outdated"] is False
        assert comparison["main"]["title"] == "main" and comparison["current"]["title"] == "drafted"

        # a changed main item makes the hash stale: promoting with it is refused
        client.update_item(collection, item.id, {"body": "edited meanwhile"})
        with pytest.raises(pydirectus.DirectusError) as refused:
            client.promote_content_version(version.id, main_hash=comparison["mainHash"])
        assert (refused.value.status, refused.value.code) == (422, "VERSION_HASH_MISMATCH")
        fresh = client.compare_content_version(version.id)
        assert fresh["outdated"] is True and fresh["mainHash"] != comparison["mainHash"]

        promoted = client.promote_content_version(version.id, main_hash=fresh["mainHash"], fields=["title"])
        assert str(promoted) == str(item.id)
        after = call(directus.url, "GET", "/items/%s/%s" % (collection, item.id), token=directus.token).body["data"]
        # only the promoted field changed
        assert (after["title"], after["views"], after["body"]) == ("drafted", 1, "edited meanwhile")
    finally:
        client.delete_content_versions([version.id])
    assert call(directus.url, "GET", "/versions/" + version.id, token=directus.token).status == 403


def test_comment_and_notification(client, collection, directus):
    item = client.create_item(collection, {"title": "discussed"})
    me = client.read_me(fields=["id"])
    comment = client.create_comment({"collection": collection, "item": str(item.id), "comment": "Looks good"})
    notification = None
    try:
        assert comment.user_created == me.id
        assert client.update_comment(comment.id, {"comment": "Looks great"}).comment == "Looks great"
        on_item = client.read_comments(filter={"collection": {"_eq": collection}, "item": {"_eq": str(item.id)}})
        assert [(c.id, c.comment) for c in on_item] == [(comment.id, "Looks great")]
        assert client.read_comment(comment.id, fields=["comment"])["comment"] == "Looks great"

        subject = "Review " + uuid.uuid4().hex[:8]
        notification = client.create_notification({"recipient": me.id, "subject": subject, "message": "Please look",
                                                   "collection": collection, "item": str(item.id)})
        inbox = client.read_notifications(filter={"recipient": {"_eq": me.id}, "subject": {"_eq": subject}})
        assert [n.id for n in inbox] == [notification.id] and inbox[0].status == "inbox"
        client.update_notification(notification.id, {"status": "archived"})
        assert call(directus.url, "GET", "/notifications/%s" % notification.id,
                    token=directus.token).body["data"]["status"] == "archived"
    finally:
        client.delete_comment(comment.id)
        if notification is not None:
            client.delete_notification(notification.id)
    assert client.read_comments(filter={"id": {"_eq": comment.id}}) == []
    assert client.read_notifications(filter={"id": {"_eq": notification.id}}) == []


def test_share_authenticates_and_reads_only_its_item(client, collection, directus):
    shared = client.create_item(collection, {"title": "shared"})
    other = client.create_item(collection, {"title": "private"})
    # a share reads with the permissions of its role (none: the public role's), capped by its
    # creator's: the admin role lets the share read its item, and only that item
    admin_role = client.read_me(fields=["role"])["role"]
    share = client.create_share({"collection": collection, "item": str(shared.id), "name": "review link",
                                 "role": admin_role, "password": "share-password"})
    try:
        info = client.read_share_info(share.id)
        assert (info["collection"], info["item"], info["times_used"]) == (collection, str(shared.id), 0)
        assert info["password"] and info["password"] != "share-password"  # masked, never revealed

        tokens = client.authenticate_share(share.id, password="share-password")
        assert tokens["access_token"] and tokens["expires"] > 0
        with DirectusClient(hostname=directus.url, static_token=tokens["access_token"]) as guest:
            assert guest.read_item(collection, shared.id).title == "shared"
            assert [i.id for i in guest.read_items(collection)] == [shared.id]
            with pytest.raises(pydirectus.ForbiddenError):
                guest.read_item(collection, other.id)
        with pytest.raises(pydirectus.AuthenticationError):
            client.authenticate_share(share.id, password="wrong password")
        assert client.read_share(share.id)["times_used"] == 1
    finally:
        client.delete_share(share.id)
    with pytest.raises(pydirectus.ForbiddenError):
        client.read_share(share.id)


def test_translation_preset_dashboard_and_panel(client, collection, directus):
    key = "greeting_" + uuid.uuid4().hex[:8]
    translation = client.create_translation({"key": key, "language": "de-DE", "value": "Hallo"})
    me = client.read_me(fields=["id"])
    preset = client.create_preset({"bookmark": "Popular", "collection": collection, "user": me.id,
                                   "layout": "tabular", "layout_query": {"tabular": {"sort": ["-views"]}},
                                   "filter": {"views": {"_gt": 10}}})
    dashboard = client.create_dashboard({"name": "Dash " + key, "icon": "space_dashboard"})
    try:
        assert [(t.language, t.value) for t in client.read_translations(filter={"key": {"_eq": key}})] \
            == [("de-DE", "Hallo")]
        client.update_translation(translation.id, {"value": "Guten Tag"})
        assert call(directus.url, "GET", "/translations/" + translation.id,
                    token=directus.token).body["data"]["value"] == "Guten Tag"

        bookmarks = client.read_presets(filter={"collection": {"_eq": collection}, "bookmark": {"_nnull": True}})
        assert [(p.id, p.bookmark, p.filter) for p in bookmarks] == [(preset.id, "Popular", {"views": {"_gt": 10}})]
        client.update_preset(preset.id, {"bookmark": "Very popular", "filter": {"views": {"_gt": 100}}})
        assert client.read_preset(preset.id)["filter"] == {"views": {"_gt": 100}}

        panel = client.create_panel({"dashboard": dashboard.id, "name": "Items", "type": "metric",
                                     "position_x": 1, "position_y": 1, "width": 8, "height": 6,
                                     "options": {"collection": collection, "field": "id", "function": "count"}})
        assert client.read_dashboard(dashboard.id, fields=["name", {"panels": ["id", "type"]}])["panels"] \
            == [{"id": panel.id, "type": "metric"}]
        client.update_panel(panel.id, {"name": "Item count"})
        assert client.read_panel(panel.id).name == "Item count"
    finally:
        client.delete_translation(translation.id)
        client.delete_preset(preset.id)
        client.delete_dashboard(dashboard.id)
    assert client.read_translations(filter={"key": {"_eq": key}}) == []
    assert client.read_presets(filter={"id": {"_eq": preset.id}}) == []
    assert client.read_panels(filter={"dashboard": {"_eq": dashboard.id}}) == []  # gone with their dashboard


def test_nested_folders(client):
    top = client.create_folder({"name": "top " + uuid.uuid4().hex[:6]})
    children = client.create_folders([{"name": "a", "parent": top.id}, {"name": "b", "parent": top.id}])
    a, b = sorted(children, key=lambda folder: folder.name)  # a batch comes back in no set order
    try:
        listed = client.read_folders(filter={"parent": {"_eq": top.id}}, sort=["name"])
        assert [(f.name, f.parent) for f in listed] == [("a", top.id), ("b", top.id)]
        client.update_folder(b.id, {"name": "renamed", "parent": a.id})
        assert client.read_folder(b.id, fields=["name", {"parent": ["name"]}]).to_dict() \
            == {"name": "renamed", "parent": {"name": "a"}}
    finally:
        # children first: on SQLite deleting a parent folder is a 500 (foreign key constraint)
        client.delete_folder(b.id)
        client.delete_folders([a.id])
        client.delete_folder(top.id)
    assert client.read_folders(filter={"id": {"_in": [top.id] + [c.id for c in children]}}) == []


def test_many_to_one_relation(client, collection, make_collection):
    authors = make_collection()
    client.create_field(collection, {"field": "author", "type": "integer", "schema": {},
                                     "meta": {"interface": "select-dropdown-m2o"}})
    try:
        created = client.create_relation({"collection": collection, "field": "author", "related_collection": authors,
                                          "schema": {"on_delete": "SET NULL"}})
        assert (created["related_collection"], created["schema"]["on_delete"]) == (authors, "SET NULL")
        author = client.create_item(authors, {"title": "Ann"})
        book = client.create_item(collection, {"title": "Book", "author": author.id})
        assert client.read_item(collection, book.id, fields=["title", {"author": ["title"]}])["author"] \
            == {"title": "Ann"}

        relation = client.read_relation(collection, "author")
        assert relation["meta"]["one_collection"] == authors
        assert [(r["field"], r["related_collection"]) for r in client.read_relations_by_collection(collection)] \
            == [("author", authors)]
        assert any(r["collection"] == collection for r in client.read_relations())

        updated = client.update_relation(collection, "author", {"meta": {"one_field": None},
                                                                "schema": {"on_delete": "CASCADE"}})
        assert updated["schema"]["on_delete"] == "CASCADE"
        assert client.read_relation(collection, "author")["schema"]["on_delete"] == "CASCADE"

        client.delete_relation(collection, "author")
        # SQLite cannot drop a foreign key in place, so the schema side stays; the relation's
        # Directus record (its meta) is what DELETE /relations removes
        assert client.read_relation(collection, "author")["meta"] is None
    finally:
        client.delete_field(collection, "author")


def test_activity_and_revisions_with_revert(client, collection):
    item = client.create_item(collection, {"title": "first", "views": 1})
    client.update_item(collection, item.id, {"title": "second", "views": 2})

    activity = client.read_activities(filter={"collection": {"_eq": collection}, "item": {"_eq": str(item.id)}},
                                      sort=["id"])
    assert [a.action for a in activity] == ["create", "update"]
    created = client.read_activity(activity[0].id)
    assert created.user == client.read_me(fields=["id"]).id
    assert created.user_agent.startswith("pydirectus/")  # the client's own User-Agent was recorded

    revisions = client.read_revisions(filter={"collection": {"_eq": collection}, "item": {"_eq": str(item.id)}},
                                      sort=["id"])
    assert [r.delta for r in revisions] == [{"title": "first", "views": 1}, {"title": "second", "views": 2}]
    assert client.read_revision(revisions[0].id, fields=[{"activity": ["action"]}])["activity"] \
        == {"action": "create"}

    client.revert_revision(revisions[0].id)
    reverted = client.read_item(collection, item.id)
    assert (reverted.title, reverted.views) == ("first", 1)
