"""Users, tokens and sessions in the journal: hashed, expiring, revocable, shared by servers."""

from __future__ import annotations

import asyncio
import stat

import msgspec
import pytest

from dataflow.security import AccessDenied, AccessStore, UserExists
from dataflow.security.access import AccessError, TokenNotFound
from dataflow.security.access_events import ACCESS_STREAM
from dataflow.security.bootstrap import PASSWORD_FILE, ensure_admin
from dataflow.security.passwords import Passwords

DAY = 86_400.0
#: Cheap hashes for the many stores these tests make; the defaults are checked once below.
FAST = Passwords(time_cost=1, memory_kib=8, parallelism=1)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_a_password_checks_only_for_its_user_and_is_never_stored_in_clear(journal):
    access = AccessStore(journal, passwords=FAST)
    await access.create_user("alice", "correct horse", "editor")
    assert (await access.check_password("alice", "correct horse")).role == "editor"
    assert await access.check_password("alice", "wrong horse!") is None
    assert await access.check_password("bob", "correct horse") is None
    stored = b"".join(r.data for r in await journal.read(ACCESS_STREAM))
    assert b"correct horse" not in stored and b"$argon2id$" in stored


async def test_the_default_hash_is_argon2id_at_rfc_9106_low_memory_cost(journal):
    access = AccessStore(journal)
    await access.create_user("alice", "correct horse", "viewer")
    stored = b"".join(r.data for r in await journal.read(ACCESS_STREAM))
    assert b"$argon2id$v=19$m=65536,t=3,p=4$" in stored
    assert await access.check_password("alice", "correct horse") is not None


async def test_a_token_is_shown_once_stored_as_a_hash_and_identifies_its_owner(journal):
    access = AccessStore(journal, passwords=FAST)
    await access.create_user("ci", "long enough", "operator")
    issued = await access.issue_token("ci", "github", expires_in=DAY)
    assert issued.token.startswith("dft_") and issued.role == "operator"
    stored = b"".join(r.data for r in await journal.read(ACCESS_STREAM))
    assert issued.token.encode() not in stored
    assert "token" not in msgspec.to_builtins(access.tokens("ci")[0])
    who = await access.identify(issued.token)
    assert who is not None
    assert (who.user, who.role, who.token_name, who.actor) == (
        "ci",
        "operator",
        "github",
        "ci (token github)",
    )
    tampered = issued.token[:-1] + ("A" if issued.token[-1] != "A" else "B")
    assert await access.identify(tampered) is None
    assert await access.identify("Bearer nonsense") is None


async def test_a_token_has_at_most_its_owners_role_now_and_later(journal):
    access = AccessStore(journal, passwords=FAST)
    await access.create_user("root", "long enough", "admin")
    await access.create_user("eve", "long enough", "editor")
    with pytest.raises(AccessDenied, match="cannot be admin"):
        await access.issue_token("eve", "escalate", role="admin", expires_in=DAY)
    viewer_token = await access.issue_token("eve", "dash", role="viewer", expires_in=DAY)
    editor_token = await access.issue_token("eve", "deploy", expires_in=DAY)
    assert (await access.identify(viewer_token.token)).role == "viewer"
    await access.set_role("eve", "operator")
    assert (await access.identify(editor_token.token)).role == "operator"  # capped by the owner


async def test_revoked_expired_and_orphaned_tokens_stop_working(journal):
    clock = Clock()
    access = AccessStore(journal, passwords=FAST, clock=clock)
    await access.create_user("root", "long enough", "admin")
    await access.create_user("bob", "long enough", "viewer")
    revoked = await access.issue_token("bob", "a", expires_in=DAY)
    expiring = await access.issue_token("bob", "b", expires_in=60)
    orphaned = await access.issue_token("bob", "c", expires_in=DAY)
    await access.revoke(revoked.id)
    assert await access.identify(revoked.token) is None
    with pytest.raises(TokenNotFound):
        await access.revoke(revoked.id)
    assert await access.identify(expiring.token) is not None
    clock.now += 61
    assert await access.identify(expiring.token) is None
    assert [t.name for t in access.tokens("bob")] == ["c"]
    await access.delete_user("bob")
    assert await access.identify(orphaned.token) is None
    assert access.tokens() == []


async def test_bad_names_roles_passwords_and_expiries_are_refused_naming_the_field(journal):
    access = AccessStore(journal, passwords=FAST)
    cases = [
        (access.create_user("../x", "long enough", "viewer"), "name"),
        (access.create_user("x", "long enough", "root"), "role"),
        (access.create_user("x", "short", "viewer"), "password"),
    ]
    for call, field in cases:
        with pytest.raises(AccessError) as info:
            await call
        assert info.value.field == field
    await access.create_user("x", "long enough", "admin")
    with pytest.raises(UserExists):
        await access.create_user("x", "other password", "viewer")
    with pytest.raises(AccessError) as info:
        await access.issue_token("x", "t", expires_in=0)
    assert info.value.field == "expires_in"
    assert await journal.stream_version(ACCESS_STREAM) == 1  # nothing refused was written


async def test_the_last_admin_cannot_be_demoted_or_deleted(journal):
    access = AccessStore(journal, passwords=FAST)
    await access.create_user("root", "long enough", "admin")
    with pytest.raises(AccessDenied, match="last admin"):
        await access.set_role("root", "editor")
    with pytest.raises(AccessDenied, match="last admin"):
        await access.delete_user("root")
    await access.create_user("second", "long enough", "admin")
    await access.set_role("root", "editor")
    assert access.user("root").role == "editor"


async def test_servers_on_one_journal_see_each_others_users_and_revocations(durable_store):
    one = AccessStore(durable_store.open(), passwords=FAST, refresh_seconds=0)
    two = AccessStore(durable_store.open(), passwords=FAST, refresh_seconds=0)
    await one.create_user("alice", "long enough", "editor")
    issued = await one.issue_token("alice", "ci", expires_in=DAY)
    assert (await two.identify(issued.token)).user == "alice"  # unknown id: read again
    await two.revoke(issued.id)
    assert await one.identify(issued.token) is None
    # Racing writers: both users land, neither write is lost.
    await asyncio.gather(
        one.create_user("bob", "long enough", "viewer"),
        two.create_user("carol", "long enough", "viewer"),
    )
    await one.load()
    assert [u.name for u in one.users()] == ["alice", "bob", "carol"]


async def test_first_start_creates_admin_with_a_password_only_the_owner_can_read(
    journal, tmp_path, capsys
):
    access = AccessStore(journal, passwords=FAST)
    path = await ensure_admin(access, tmp_path, None)
    assert path == tmp_path / PASSWORD_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    password = path.read_text().strip()
    assert password in capsys.readouterr().out
    assert (await access.check_password("admin", password)).role == "admin"
    assert await ensure_admin(access, tmp_path, None) is None  # never again


async def test_the_admin_password_can_come_from_the_environment(journal, tmp_path):
    access = AccessStore(journal, passwords=FAST)
    assert await ensure_admin(access, tmp_path, "from the env") is None
    assert not (tmp_path / PASSWORD_FILE).exists()
    assert await access.check_password("admin", "from the env") is not None
