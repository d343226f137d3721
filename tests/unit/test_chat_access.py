"""Which documents a chat answer may use: public ones in channels and group chats (everyone there reads
the answer); a direct message adds those whose ACL names the asker's email."""

from __future__ import annotations

from bots.identity import ChatOrigin
from core.retrieval import Access


def origin(kind: str, email: str | None) -> ChatOrigin:
    return ChatOrigin(platform="slack", team_id="T1", channel_id="C1", user_id="U1", kind=kind, email=email)


def test_channels_and_groups_use_public_documents_only_even_when_the_email_is_known() -> None:
    assert origin("channel", "alice@example.com").access() == Access(public_only=True)
    assert origin("group", "alice@example.com").access() == Access(public_only=True)


def test_a_direct_message_uses_the_askers_own_permissions() -> None:
    assert origin("direct", "Alice@Example.com").access() == Access(principals=("alice@example.com",))
    assert origin("direct", None).access() == Access(public_only=True)
