"""Multi-team mode: slack-bolt's installation store on our SQLAlchemy DB, installs encrypted at rest,
and an OAuth state store in Redis (shared by every process, one use per state).
"""

from __future__ import annotations

import json
import logging
import secrets
from datetime import datetime
from typing import Any

from cryptography.fernet import MultiFernet
from redis.asyncio import Redis
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from sqlalchemy import ColumnElement, delete, select

from core.db import Sessions
from core.tables import ChatInstallation

PLATFORM = "slack"
log = logging.getLogger(__name__)


def plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.timestamp() if isinstance(v, datetime) else v for k, v in values.items()}


class SqlInstallationStore(AsyncInstallationStore):
    """Each install is one row; its JSON (tokens included) is a Fernet token, never plaintext."""

    def __init__(self, sessions: Sessions, fernet: MultiFernet) -> None:
        self._sessions = sessions
        self._fernet = fernet

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_save(self, installation: Installation) -> None:
        data = json.dumps(plain(installation.to_dict_for_copying())).encode()
        async with self._sessions.begin() as session:
            session.add(
                ChatInstallation(
                    platform=PLATFORM,
                    enterprise_id=installation.enterprise_id,
                    team_id=installation.team_id,
                    is_enterprise_install=bool(installation.is_enterprise_install),
                    user_id=installation.user_id,
                    secret=self._fernet.encrypt(data).decode(),
                )
            )

    async def async_save_bot(self, bot: Bot) -> None:
        values = plain(bot.to_dict())
        values.pop("custom_values", None)
        await self.async_save(Installation(user_id="", **values))

    async def async_find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        installation = await self.async_find_installation(
            enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=is_enterprise_install
        )
        return installation.to_bot() if installation is not None and installation.bot_token else None

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        query = select(ChatInstallation).where(
            *self._where(enterprise_id, None if is_enterprise_install else team_id, user_id)
        )
        async with self._sessions() as session:
            row = await session.scalar(query.order_by(ChatInstallation.id.desc()).limit(1))
        if row is None:
            return None
        return Installation(**json.loads(self._fernet.decrypt(row.secret.encode())))

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.async_delete_installation(enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        statement = delete(ChatInstallation).where(*self._where(enterprise_id, team_id, user_id))
        async with self._sessions.begin() as session:
            await session.execute(statement)

    @staticmethod
    def _where(
        enterprise_id: str | None, team_id: str | None, user_id: str | None
    ) -> list[ColumnElement[bool]]:
        column_is = [
            (ChatInstallation.enterprise_id, enterprise_id),
            (ChatInstallation.team_id, team_id),
        ]
        conditions = [ChatInstallation.platform == PLATFORM]
        conditions += [col.is_(None) if value is None else col == value for col, value in column_is]
        if user_id is not None:
            conditions.append(ChatInstallation.user_id == user_id)
        return conditions


class RedisStateStore(AsyncOAuthStateStore):
    """OAuth ``state`` values: issued with an expiry, consumed once (GETDEL), valid across processes."""

    def __init__(
        self, redis: Redis, *, expiration_s: int = 600, prefix: str = "switchboard:slack-state"
    ) -> None:
        self._redis = redis
        self._expiration_s = expiration_s
        self._prefix = prefix

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        state = secrets.token_urlsafe(24)
        await self._redis.set(f"{self._prefix}:{state}", "1", ex=self._expiration_s)
        return state

    async def async_consume(self, state: str) -> bool:
        return await self._redis.getdel(f"{self._prefix}:{state}") is not None
