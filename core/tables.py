"""SQLAlchemy tables: the metadata DB shared by every process (SQLite or PostgreSQL).

Every row that holds company data carries ``workspace_id``; nothing here joins across workspaces.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """A stored time with its zone: every time is written as UTC, and SQLite hands them back naive."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map: dict[Any, Any] = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        dict[str, Any]: JSON,
        list[str]: JSON,
        datetime: DateTime(timezone=True),
    }


class Workspace(Base):
    __tablename__ = "workspaces"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    # Names this workspace's vector collection; random, so a reused id never meets old vectors.
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: uuid.uuid4().hex)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Bumped on every index change; caches key on it so a re-index invalidates them.
    index_version: Mapped[int] = mapped_column(BigInteger, default=0)
    # The embedding model that built this workspace's vector index ("" until the first chunk).
    embedding_model: Mapped[str] = mapped_column(String(200), default="")
    # Bumped by every write to the keyword index, in the writing transaction (see KeywordChange).
    keyword_generation: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class Collection(Base):
    __tablename__ = "collections"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(63))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChannelMapping(Base):
    """(platform, team, channel) -> workspace. Ids only, never names."""

    __tablename__ = "channel_mappings"
    __table_args__ = (UniqueConstraint("platform", "team_id", "channel_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    team_id: Mapped[str] = mapped_column(String(255))
    channel_id: Mapped[str] = mapped_column(String(512))
    tenant_id: Mapped[str | None] = mapped_column(String(255))
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    collections: Mapped[list[str]] = mapped_column(default=list)  # empty: the whole workspace
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TeamDefault(Base):
    """The workspace used for DMs / personal chats of one Slack team or Teams tenant."""

    __tablename__ = "team_defaults"
    __table_args__ = (UniqueConstraint("platform", "team_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    team_id: Mapped[str] = mapped_column(String(255))
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)


class ChatAdmin(Base):
    """A chat user allowed to run admin chat commands (connect/disconnect) for a workspace."""

    __tablename__ = "chat_admins"
    __table_args__ = (UniqueConstraint("workspace_id", "platform", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(255))


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class Source(Base):
    """A configured connector instance feeding one collection."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    secret: Mapped[str | None] = mapped_column(Text)  # Fernet token, never plaintext
    cursor: Mapped[str | None] = mapped_column(Text)
    refresh_interval_s: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32), default="idle")
    last_error: Mapped[str | None] = mapped_column(Text)
    last_synced_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("workspace_id", "source", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"), index=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(64))  # "upload", "cli", "confluence", ...
    external_id: Mapped[str] = mapped_column(String(1024))
    title: Mapped[str] = mapped_column(String(1024))
    url: Mapped[str | None] = mapped_column(String(2048))
    doc_type: Mapped[str] = mapped_column(String(16))
    content_hash: Mapped[str] = mapped_column(String(64))
    # False between the DB write and the vector write: a crash there is redone, never skipped as unchanged.
    indexed: Mapped[bool] = mapped_column(default=False)
    text: Mapped[str] = mapped_column(Text)  # the parsed text every citation quotes from
    # SQL NULL (not JSON null) means public within the workspace, so "acl IS NULL" finds public documents.
    acl: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Chunk(Base):
    """A span [start, end) of its document's text, embedded and indexed."""

    __tablename__ = "chunks"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    ord: Mapped[int] = mapped_column(Integer)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    section: Mapped[str] = mapped_column(Text, default="")
    length: Mapped[int] = mapped_column(Integer)  # keyword terms, for BM25 length normalisation


class Posting(Base):
    """Keyword index: one (term, chunk) pair with its frequency. Scored as BM25 in SQL or in memory."""

    __tablename__ = "postings"
    # Covering: term lookups and whole-workspace loads read the index alone, in term order.
    __table_args__ = (Index("ix_postings_covering", "workspace_id", "term", "chunk_id", "tf", "dl"),)

    chunk_id: Mapped[int] = mapped_column(ForeignKey("chunks.id", ondelete="CASCADE"), primary_key=True)
    term: Mapped[str] = mapped_column(String(64), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    tf: Mapped[int] = mapped_column(Integer)
    dl: Mapped[int] = mapped_column(Integer)  # the chunk's length, copied so scoring needs no join


class KeywordChange(Base):
    """A chunk added to (``length`` set) or removed from (``length`` None) a workspace's keyword index.

    Stamped with the workspace's ``keyword_generation`` as bumped by the writing transaction, which holds
    the workspace row until it commits, so generations become visible in order and without holes.
    Processes that keep the index in memory replay these rows to stay in step (core.keyword_memory).
    """

    __tablename__ = "keyword_changes"
    __table_args__ = (Index("ix_keyword_changes_replay", "workspace_id", "generation"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    generation: Mapped[int] = mapped_column(BigInteger)
    chunk_id: Mapped[int] = mapped_column(Integer)  # no foreign key: a removed chunk's row is gone
    length: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    progress: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # One {"item": name, "error": message} per failed item (or the job itself).
    errors: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    # How many times a worker started this job (>1 after a retry or a worker crash).
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    updated_at: Mapped[datetime | None] = mapped_column()


class AnswerLog(Base):
    """Audit of every answer: who asked what, where, and which documents were used."""

    __tablename__ = "answer_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(32))
    team_id: Mapped[str | None] = mapped_column(String(255))
    channel_id: Mapped[str | None] = mapped_column(String(512))
    user_id: Mapped[str | None] = mapped_column(String(255))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    abstained: Mapped[bool] = mapped_column()
    confidence: Mapped[float] = mapped_column(Float)
    mode: Mapped[str] = mapped_column(String(16))
    document_ids: Mapped[list[str]] = mapped_column(default=list)
    latency_ms: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConversationTurn(Base):
    """One question and answer of a conversation (a Slack thread, a Teams conversation, a REST id)."""

    __tablename__ = "conversation_turns"
    __table_args__ = (Index("ix_conversation_turns_lookup", "workspace_id", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    conversation_id: Mapped[str] = mapped_column(String(512))
    question: Mapped[str] = mapped_column(Text)  # as asked
    standalone: Mapped[str] = mapped_column(Text)  # rewritten with the history, what was searched
    answer: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LLMCall(Base):
    """Tokens and USD of one LLM call, attributed to workspace, channel, user and the provider that served."""

    __tablename__ = "llm_calls"
    __table_args__ = (Index("ix_llm_calls_month", "workspace_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str | None] = mapped_column(String(512))
    user_id: Mapped[str | None] = mapped_column(String(255))
    provider: Mapped[str] = mapped_column(String(100))
    model: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(String(32))  # "answer", "rewrite"
    input_tokens: Mapped[int] = mapped_column(Integer)
    output_tokens: Mapped[int] = mapped_column(Integer)
    cost_usd: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WorkspaceBudget(Base):
    """A workspace's monthly LLM budget in USD; beyond it answers are extractive."""

    __tablename__ = "workspace_budgets"

    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    monthly_usd: Mapped[float] = mapped_column(Float)
    notified_month: Mapped[str | None] = mapped_column(String(7))  # "2025-06": admins told this month


class ChatAnswer(Base):
    """An answer a chat bot delivered, kept so its share and feedback buttons can act on it later."""

    __tablename__ = "chat_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)  # random; what buttons carry
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(32))
    team_id: Mapped[str | None] = mapped_column(String(255))
    channel_id: Mapped[str | None] = mapped_column(String(512))
    user_id: Mapped[str | None] = mapped_column(String(255))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    document_ids: Mapped[list[str]] = mapped_column(default=list)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the full Answer, to render it again
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AnswerFeedback(Base):
    """A thumbs up (+1) or down (-1) on a delivered answer, with the question, answer and documents used."""

    __tablename__ = "answer_feedback"
    __table_args__ = (UniqueConstraint("chat_answer_id", "platform", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_answer_id: Mapped[int] = mapped_column(ForeignKey("chat_answers.id", ondelete="CASCADE"), index=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(255))
    rating: Mapped[int] = mapped_column(Integer)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    document_ids: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChatInstallation(Base):
    """A chat app installed into one team (multi-team mode). ``secret`` is the Fernet-encrypted install."""

    __tablename__ = "chat_installations"
    __table_args__ = (Index("ix_chat_installations_lookup", "platform", "enterprise_id", "team_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    enterprise_id: Mapped[str | None] = mapped_column(String(255))
    team_id: Mapped[str | None] = mapped_column(String(255))
    is_enterprise_install: Mapped[bool] = mapped_column(default=False)
    user_id: Mapped[str | None] = mapped_column(String(255))
    secret: Mapped[str] = mapped_column(Text)  # Fernet token, never plaintext
    installed_at: Mapped[datetime] = mapped_column(default=utcnow)


class SourcePush(Base):
    """How a source's system pushes changes to us: one secret (Fernet token) that signs Confluence and
    generic pushes and is the Graph ``clientState``, plus the Graph subscription that we keep renewed."""

    __tablename__ = "source_push"

    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    secret: Mapped[str] = mapped_column(Text)  # Fernet token, never plaintext
    graph_resource: Mapped[str | None] = mapped_column(String(1024))  # e.g. "drives/{id}/root"
    graph_subscription_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    graph_expires_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Watch(Base):
    """A chat channel watching a collection or one document of its workspace for changes.

    ``document_id`` has no foreign key on purpose: the removal alert must still find its watchers.
    """

    __tablename__ = "watches"
    __table_args__ = (
        UniqueConstraint("platform", "team_id", "channel_id", "target"),
        Index("ix_watches_workspace", "workspace_id", "collection_id", "document_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(32))
    team_id: Mapped[str] = mapped_column(String(255))
    channel_id: Mapped[str] = mapped_column(String(512))
    tenant_id: Mapped[str | None] = mapped_column(String(255))
    service_url: Mapped[str | None] = mapped_column(String(2048))  # where a Teams alert is sent
    target: Mapped[str] = mapped_column(String(64))  # "collection:<id>" or "document:<id>"
    collection_id: Mapped[int | None] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    document_id: Mapped[int | None] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(1024))  # what the channel asked for, as shown back
    created_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# Registers the tables other modules define on Base.metadata (accounts and audit; data protection).
from core import account_tables, protect_tables  # noqa: E402, F401
