"""Who asked and from where, for any chat platform: a platform adapter fills a ``ChatOrigin`` from its
event, and this module turns it into core's ``Conversation`` (isolation), ``Asker`` (audit) and ``Access``
(document ACLs). No platform logic here: ids are opaque strings.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from core.channels import Conversation
from core.models import Asker
from core.retrieval import Access

KINDS = ("channel", "group", "direct")


@dataclass(frozen=True, slots=True)
class ChatOrigin:
    """One chat message's origin. ``thread_id`` is set when the message belongs to a thread."""

    platform: str
    team_id: str | None
    channel_id: str
    user_id: str
    kind: str = "channel"
    tenant_id: str | None = None
    externally_shared: bool = False
    thread_id: str | None = None
    email: str | None = None
    service_url: str | None = None  # where the platform takes proactive messages (Teams)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {self.kind!r}")

    def conversation(self) -> Conversation:
        return Conversation(
            platform=self.platform,
            team_id=self.team_id,
            channel_id=self.channel_id,
            kind=self.kind,
            tenant_id=self.tenant_id,
            externally_shared=self.externally_shared,
        )

    def asker(self) -> Asker:
        return Asker(
            platform=self.platform,
            team_id=self.team_id,
            channel_id=self.channel_id,
            user_id=self.user_id,
            email=self.email,
        )

    def access(self) -> Access:
        """What an answer here may use. Everyone in a channel or group chat sees the answer, so only
        documents public within the workspace; a direct message may also use documents whose ACL names
        the asker's email (when the platform gave one)."""
        if self.kind == "direct" and self.email:
            return Access(principals=(self.email.lower(),))
        return Access(public_only=True)

    def conversation_key(self) -> str | None:
        """The id of this thread's conversation (for follow-up memory); None outside a thread."""
        if self.thread_id is None:
            return None
        return f"{self.platform}:{self.team_id or '-'}:{self.channel_id}:{self.thread_id}"

    def in_thread(self, thread_id: str | None) -> ChatOrigin:
        return replace(self, thread_id=thread_id)

    def with_email(self, email: str | None) -> ChatOrigin:
        return replace(self, email=email)

    def shared_externally(self, shared: bool) -> ChatOrigin:
        return replace(self, externally_shared=self.externally_shared or shared)

    def rate_keys(self) -> tuple[str, str]:
        """Keys for the per-user and per-channel rate limits."""
        base = f"{self.platform}:{self.team_id or '-'}"
        return f"{base}:user:{self.user_id}", f"{base}:channel:{self.channel_id}"
