"""Round trips through access rules, the current user's roles, policies and permissions, and the
user flows that normally go through e-mail: invitation, registration, two-factor, password reset.

Tokens that Directus only sends by e-mail are signed here with the test server's known SECRET (see
groups_support.directus_jwt): the client's calls are then checked against the real server.
"""

import os
import sqlite3
import uuid

import pytest

import pydirectus
from pydirectus import DirectusClient
from tests.integration.groups_support import (  # noqa: F401  (fixtures)
    directus_jwt, directus_simple_hash, fresh_totp, groups_client, groups_server, totp)
from tests.rest import call


def _email(prefix):
    return "%s-%s@example.com" % (prefix, uuid.uuid4().hex[:8])


def test_access_rules_attach_a_policy_to_a_user_and_to_a_role(client, collection, directus):
    item = client.create_item(collection, {"title": "readable"})
    # no app access: such users take no seat (an unlicensed server has 3)
    policy = client.create_policy({"name": "Read " + collection, "app_access": False, "admin_access": False})
    role = client.create_role({"name": "Plain " + uuid.uuid4().hex[:6]})
    email = _email("access")
    user = client.create_user({"email": email, "password": "access-password", "role": role.id})
    try:
        client.create_permission({"policy": policy.id, "collection": collection, "action": "read", "fields": ["*"]})
        with DirectusClient(hostname=directus.url, email=email, password="access-password") as member:
            with pytest.raises(pydirectus.ForbiddenError):
                member.read_items(collection)

            rule = client.create_access_rule({"policy": policy.id, "user": user.id})
            assert [(r.user, r.role) for r in client.read_access_rules(filter={"policy": {"_eq": policy.id}})] \
                == [(user.id, None)]
            assert client.read_access_rule(rule.id)["policy"] == policy.id
            assert [i.title for i in member.read_items(collection)] == ["readable"]

            assert member.read_my_policy_globals() == {"app_access": False, "admin_access": False,
                                                       "enforce_tfa": False}
            mine = member.read_my_permissions()
            assert mine[collection]["read"] == {"access": "full", "fields": ["*"]}
            assert mine[collection]["update"] == {"access": "none"}
            assert member.read_item_permissions(collection, item.id) == {
                "update": {"access": False}, "delete": {"access": False}, "share": {"access": False}}
            assert client.read_item_permissions(collection, item.id)["update"]["access"] is True
            assert [r.id for r in member.read_my_roles()] == [role.id]

            client.delete_access_rule(rule.id)
            with pytest.raises(pydirectus.ForbiddenError):
                member.read_items(collection)

            by_role = client.create_access_rule({"policy": policy.id, "role": role.id})
            assert client.read_role(role.id, fields=["policies"])["policies"] == [by_role.id]
            assert [i.title for i in member.read_items(collection)] == ["readable"]
    finally:
        client.delete_user(user.id)
        client.delete_role(role.id)
        client.delete_policy(policy.id)  # its permissions and access rules go with it
    assert call(directus.url, "GET", "/access?filter[policy][_eq]=" + policy.id,
                token=directus.token).body["data"] == []


def test_my_roles_and_policy_globals_of_the_admin(client):
    me = client.read_me(fields=["role"])
    roles = client.read_my_roles()
    assert me["role"] in [r.id for r in roles]
    assert client.read_my_policy_globals()["admin_access"] is True


def test_invited_user_accepts_and_logs_in(groups_client, groups_server):
    role = groups_client.create_role({"name": "Invited " + uuid.uuid4().hex[:6]})
    email = _email("invited")
    try:
        # the mail goes out in the background (and fails without a mail system): the call succeeds
        groups_client.invite_users(email, role.id)
        invited = groups_client.read_users(filter={"email": {"_eq": email}}, fields=["id", "status", "role"])
        assert [(u.status, u.role) for u in invited] == [("invited", role.id)]

        with DirectusClient(hostname=groups_server.url) as anonymous:
            anonymous.accept_user_invite(directus_jwt({"email": email, "scope": "invite"}), "accepted-password")
        assert groups_client.read_user(invited[0].id, fields=["status"])["status"] == "active"
        with DirectusClient(hostname=groups_server.url, email=email, password="accepted-password") as newcomer:
            newcomer.login()
            assert newcomer.tokens.logins == 1
    finally:
        for user in groups_client.read_users(filter={"email": {"_eq": email}}, fields=["id"]):
            groups_client.delete_user(user.id)
        groups_client.delete_role(role.id)


def test_public_registration(groups_client, groups_server):
    role = groups_client.create_role({"name": "Registered " + uuid.uuid4().hex[:6]})
    before = groups_client.read_settings(fields=["public_registration", "public_registration_verify_email",
                                                 "public_registration_role"]).to_dict()
    email, verified_email = _email("registered"), _email("verified")
    try:
        with DirectusClient(hostname=groups_server.url) as anonymous:
            with pytest.raises(pydirectus.ForbiddenError):  # registration is off by default
                anonymous.register_user(_email("refused"), "registered-password")
            groups_client.update_settings({"public_registration": True, "public_registration_verify_email": False,
                                           "public_registration_role": role.id})
            anonymous.register_user(email, "registered-password", first_name="Reg", last_name="Istered")
            user = groups_client.read_users(filter={"email": {"_eq": email}},
                                            fields=["status", "role", "first_name", "last_name"])
            assert [(u.status, u.role, u.first_name, u.last_name) for u in user] \
                == [("active", role.id, "Reg", "Istered")]
            with DirectusClient(hostname=groups_server.url, email=email, password="registered-password") as member:
                member.login()
                assert member.tokens.logins == 1

            # with verification, the account waits for the e-mailed link (a redirect into the app)
            groups_client.update_settings({"public_registration_verify_email": True})
            anonymous.register_user(verified_email, "registered-password")
            status = groups_client.read_users(filter={"email": {"_eq": verified_email}}, fields=["status"])
            assert [u.status for u in status] == ["unverified"]
            link_token = directus_jwt({"email": verified_email, "scope": "pending-registration"})
            assert anonymous.verify_user_email(token=link_token) is None
            status = groups_client.read_users(filter={"email": {"_eq": verified_email}}, fields=["status"])
            assert [u.status for u in status] == ["active"]
            with pytest.raises(pydirectus.InvalidPayloadError):  # a link works once
                anonymous.verify_user_email(token=link_token)
    finally:
        groups_client.update_settings(before)
        for user in groups_client.read_users(filter={"email": {"_in": [email, verified_email]}}, fields=["id"]):
            groups_client.delete_user(user.id)
        groups_client.delete_role(role.id)
    assert groups_client.read_settings(fields=["public_registration"])["public_registration"] is False


def test_two_factor_enable_login_with_otp_and_disable(groups_client, groups_server):
    # enabling two-factor updates the user's own record: the user needs read and update on it
    policy = groups_client.create_policy({"name": "Self service " + uuid.uuid4().hex[:6], "app_access": False,
                                          "admin_access": False})
    groups_client.create_permissions([{"policy": policy.id, "collection": "directus_users", "action": action,
                                       "fields": ["*"]} for action in ("read", "update")])
    role = groups_client.create_role({"name": "Two factor " + uuid.uuid4().hex[:6],
                                      "policies": {"create": [{"policy": policy.id}]}})
    email = _email("tfa")
    user = groups_client.create_user({"email": email, "password": "tfa-password", "role": role.id})
    url = groups_server.url
    try:
        with DirectusClient(hostname=url, email=email, password="tfa-password") as member:
            with pytest.raises(pydirectus.AuthenticationError):
                member.generate_two_factor_secret("not the password")
            generated = member.generate_two_factor_secret("tfa-password")
            secret = generated["secret"]
            assert generated["otpauth_url"].startswith("otpauth://totp/") and "secret=" + secret in \
                generated["otpauth_url"]
            with pytest.raises(pydirectus.InvalidPayloadError):
                member.enable_two_factor(secret, "%06d" % ((int(totp(secret)) + 1) % 10 ** 6))
            member.enable_two_factor(secret, fresh_totp(secret))
        assert groups_client.read_user(user.id, fields=["tfa_secret"])["tfa_secret"] is not None

        with DirectusClient(hostname=url, email=email, password="tfa-password") as without_code:
            with pytest.raises(pydirectus.AuthenticationError) as refused:
                without_code.login()
            assert refused.value.code == "INVALID_OTP"
        with DirectusClient(hostname=url, email=email, password="tfa-password",
                            otp=lambda: fresh_totp(secret)) as with_code:
            assert with_code.read_me(fields=["id"]).id == user.id
            with_code.disable_two_factor(fresh_totp(secret))
        assert groups_client.read_user(user.id, fields=["tfa_secret"])["tfa_secret"] is None
        with DirectusClient(hostname=url, email=email, password="tfa-password") as plain:
            assert plain.read_me(fields=["id"]).id == user.id
    finally:
        groups_client.delete_user(user.id)
        groups_client.delete_role(role.id)
        groups_client.delete_policy(policy.id)


def test_password_reset_request_and_reset(groups_client, groups_server):
    role = groups_client.create_role({"name": "Forgetful " + uuid.uuid4().hex[:6]})
    email = _email("reset")
    user = groups_client.create_user({"email": email, "password": "old-password", "role": role.id})
    try:
        with DirectusClient(hostname=groups_server.url) as anonymous:
            # 204 whether or not the address belongs to someone: nothing is revealed
            assert anonymous.request_password_reset(email) is None
            assert anonymous.request_password_reset(_email("nobody")) is None
            # the e-mailed token carries a hash of the stored password hash, so a used link dies
            # with the password it reset; read the stored hash from the server's database
            with sqlite3.connect("file:%s?mode=ro" % os.path.join(groups_server.data_dir, "data.db"),
                                 uri=True) as database:
                stored = database.execute("select password from directus_users where id = ?",
                                          (user.id,)).fetchone()[0]
            token = directus_jwt({"email": email, "scope": "password-reset", "hash": directus_simple_hash(stored)})
            with pytest.raises(pydirectus.ForbiddenError):
                anonymous.reset_password(directus_jwt({"email": email, "scope": "password-reset",
                                                       "hash": "0"}), "new-password")
            anonymous.reset_password(token, "new-password")
            with pytest.raises(pydirectus.ForbiddenError):  # single use: the stored hash changed
                anonymous.reset_password(token, "third-password")
        with DirectusClient(hostname=groups_server.url, email=email, password="new-password") as member:
            assert member.read_me(fields=["id"]).id == user.id
        with DirectusClient(hostname=groups_server.url, email=email, password="old-password") as stale:
            with pytest.raises(pydirectus.AuthenticationError):
                stale.login()
    finally:
        groups_client.delete_user(user.id)
        groups_client.delete_role(role.id)


def test_auth_providers(client):
    # only the built-in e-mail and password login is configured on a test server
    assert client.read_auth_providers() == []
