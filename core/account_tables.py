"""Tables of the admin side: local and SSO users, their roles per workspace, login sessions, the audit log.

Imported by ``core.tables`` so one metadata holds every table (Alembic compares against it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.tables import Base, utcnow


class User(Base):
    """A person who signs in to the admin page: a local password (argon2), or SSO, or both."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str | None] = mapped_column(Text)
    is_owner: Mapped[bool] = mapped_column(default=False)
    sso_subject: Mapped[str | None] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column()


class UserRole(Base):
    """One user's role (viewer, editor, admin) in one workspace: the workspace's access list."""

    __tablename__ = "user_roles"
    __table_args__ = (UniqueConstraint("user_id", "workspace_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))


class LoginSession(Base):
    """A signed-in browser. Only the token's SHA-256 is stored; logout deletes the row."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class AuditEvent(Base):
    """Append-only: who did what, where. No foreign key, so removing a workspace keeps its history."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_workspace_time", "workspace", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(320), index=True)
    workspace: Mapped[str | None] = mapped_column(String(63))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[str | None] = mapped_column(String(512))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    document_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
