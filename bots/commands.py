"""Chat-ops commands shared by every chat bot (Slack, Teams): a neutral request in, a neutral reply out.

A platform adapter builds a ``CommandRequest`` (the text after its command or mention, and a
``ChatOrigin``), calls ``Commands.run`` (or ``share``/``feedback`` for button clicks) and renders the
``Reply``. Rendering is the only per-platform code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import ValidationError

from bots.identity import ChatOrigin
from core import channels, chat_answers, watches, workspaces
from core.ask import AskService
from core.channels import Scope
from core.db import Sessions
from core.errors import AccessDenied, InvalidInput, NotFound, PermanentError, RateLimited, SwitchboardError
from core.events import AnswerFlagged, EventBus
from core.models import SLUG, Answer, Question, SearchFilters
from core.ratelimit import Rate, RateLimiter
from core.tables import Workspace

ReplyKind = Literal["answer", "info", "refusal"]


@dataclass(frozen=True, slots=True)
class CommandRequest:
    origin: ChatOrigin
    text: str


@dataclass(frozen=True, slots=True)
class Reply:
    """What to show. ``answer`` and ``answer_token`` are set for answers (the token is what buttons carry)."""

    kind: ReplyKind
    text: str
    how_to: str = ""
    answer: Answer | None = None
    answer_token: str | None = None


@dataclass(frozen=True, slots=True)
class ChatLimits:
    per_user: Rate = field(default_factory=lambda: Rate(10, 60))
    per_channel: Rate = field(default_factory=lambda: Rate(30, 60))


def refusal(error: SwitchboardError) -> Reply:
    return Reply("refusal", str(error), how_to=getattr(error, "how_to", ""))


class Commands:
    def __init__(
        self,
        sessions: Sessions,
        asker: AskService,
        *,
        limiter: RateLimiter | None = None,
        limits: ChatLimits | None = None,
        command: str = "/ask",
        events: EventBus | None = None,
    ) -> None:
        self._events = events
        self._sessions = sessions
        self._asker = asker
        self._limiter = limiter
        self._limits = limits or ChatLimits()
        self.command = command

    async def run(self, request: CommandRequest) -> Reply:
        """A subcommand (help, scope, connect, disconnect, watch, unwatch, watching), or else a question."""
        words = request.text.split()
        verb = words[0].lower() if words else "help"
        reply = await self._admin_command(request.origin, verb, words)
        if reply is None:
            reply = await self._watch_command(request.origin, verb, words)
        return reply or await self.ask(request.origin, request.text)

    async def _admin_command(self, origin: ChatOrigin, verb: str, words: list[str]) -> Reply | None:
        if verb == "help" and len(words) <= 1:
            return self.help()
        if verb == "scope" and len(words) == 1:
            return await self.scope(origin)
        if verb == "connect" and len(words) == 2:
            return await self.connect(origin, words[1].lower())
        if verb == "disconnect" and len(words) == 1:
            return await self.disconnect(origin)
        return None

    async def _watch_command(self, origin: ChatOrigin, verb: str, words: list[str]) -> Reply | None:
        if verb in ("watch", "unwatch") and len(words) >= 2:
            return await self.watch(origin, " ".join(words[1:]), stop=verb == "unwatch")
        if verb == "watching" and len(words) == 1:
            return await self.watching(origin)
        return None

    def help(self) -> Reply:
        c = self.command
        return Reply(
            "info",
            "I answer questions from your company's documents, with sources.\n"
            f"• `{c} <question>`: an answer only you see, with a button to share it\n"
            "• mention me in a channel: I answer in a thread; mention me again there for a follow-up\n"
            "• message me directly: I answer from your team's default workspace\n"
            f"• `{c} scope`: which workspace and collections this channel sees\n"
            f"• `{c} connect <workspace>` / `{c} disconnect`: connect this channel (workspace chat admins)\n"
            f"• `{c} watch <collection or document>`: I post here when it changes; "
            f"`{c} unwatch <name>`, `{c} watching`",
        )

    async def scope(self, origin: ChatOrigin) -> Reply:
        try:
            scope = await self._resolve(origin)
        except AccessDenied as denied:
            return refusal(denied)
        collections = ", ".join(scope.collections) if scope.collections else "all collections"
        return Reply("info", f"This conversation sees workspace *{scope.workspace.name}* ({collections}).")

    async def connect(self, origin: ChatOrigin, name: str) -> Reply:
        if origin.kind == "direct" or origin.externally_shared or not origin.team_id:
            return Reply(
                "refusal",
                "Only an internal channel can be connected to a workspace.",
                how_to="Run this in the channel you want to connect (not a DM or a shared channel).",
            )
        denied = Reply(
            "refusal",
            f"You can't connect this channel to {name!r}: you are not one of its chat admins.",
            how_to=f"Ask an admin to run `switchboard workspace admins add {name} {origin.platform} "
            f"{origin.user_id}`.",
        )
        if not SLUG.fullmatch(name):
            return denied
        async with self._sessions.begin() as session:
            try:
                workspace = await workspaces.get(session, name)
            except NotFound:
                return denied  # the same answer as "not an admin": no probing for workspace names
            if not await workspaces.is_chat_admin(session, workspace, origin.platform, origin.user_id):
                return denied
            await channels.map_channel(
                session,
                platform=origin.platform,
                team_id=origin.team_id,
                channel_id=origin.channel_id,
                tenant_id=origin.tenant_id,
                workspace=workspace,
            )
        return Reply("info", f"Connected: this channel now answers from workspace *{name}*.")

    async def disconnect(self, origin: ChatOrigin) -> Reply:
        if not origin.team_id or origin.kind == "direct":
            return Reply("refusal", "Only a connected channel can be disconnected.")
        async with self._sessions.begin() as session:
            mapping = await channels.find(session, origin.platform, origin.team_id, origin.channel_id)
            if mapping is None:
                return Reply("info", "This channel is not connected to any workspace.")
            workspace = await session.get(Workspace, mapping.workspace_id)
            if workspace is None or not await workspaces.is_chat_admin(
                session, workspace, origin.platform, origin.user_id
            ):
                return Reply(
                    "refusal",
                    "You can't disconnect this channel: you are not a chat admin of its workspace.",
                    how_to="Ask one of the workspace's chat admins, or an admin with the `switchboard` CLI.",
                )
            await channels.unmap_channel(session, origin.platform, origin.team_id, origin.channel_id)
        return Reply(
            "info", f"Disconnected: this channel no longer answers from workspace *{workspace.name}*."
        )

    async def watch(self, origin: ChatOrigin, name: str, *, stop: bool = False) -> Reply:
        """Watch (or stop watching) a collection or document of this channel's own workspace."""
        if origin.kind == "direct" or not origin.team_id:
            return Reply("refusal", "Only a connected channel can watch for changes.")
        watcher = watches.Watcher(
            origin.platform,
            origin.team_id,
            origin.channel_id,
            origin.tenant_id,
            origin.service_url,
            origin.user_id,
        )
        try:
            scope = await self._resolve(origin)
            async with self._sessions.begin() as session:
                if stop:
                    label = await watches.remove(session, scope, watcher, name)
                    return Reply("info", f"Stopped watching *{label}* here.")
                watch, created = await watches.add(session, scope, watcher, name)
        except PermanentError as error:
            return refusal(error)
        what = "collection" if watch.collection_id else "document"
        if not created:
            return Reply("info", f"This channel already watches {what} *{watch.label}*.")
        return Reply("info", f"Watching {what} *{watch.label}*: I'll post here when it changes.")

    async def watching(self, origin: ChatOrigin) -> Reply:
        if origin.kind == "direct" or not origin.team_id:
            return Reply("info", "Only a connected channel can watch for changes.")
        watcher = watches.Watcher(origin.platform, origin.team_id, origin.channel_id)
        try:
            scope = await self._resolve(origin)
            async with self._sessions() as session:
                found = await watches.of_channel(session, scope, watcher)
        except PermanentError as error:
            return refusal(error)
        if not found:
            return Reply(
                "info", f"This channel watches nothing yet. Try `{self.command} watch <collection>`."
            )
        lines = [f"• {'collection' if w.collection_id else 'document'} *{w.label}*" for w in found]
        return Reply("info", "This channel watches:\n" + "\n".join(lines))

    async def ask(self, origin: ChatOrigin, text: str) -> Reply:
        try:
            await self._check_rate(origin)
            scope = await self._resolve(origin)
            question = self._question(origin, text, scope)
            answer = await self._asker.ask(scope.workspace, question, origin.asker(), origin.access())
            async with self._sessions.begin() as session:
                row = await chat_answers.record(session, scope.workspace, origin.asker(), answer)
        except (PermanentError, RateLimited) as error:
            return refusal(error)
        return Reply("answer", answer.answer, answer=answer, answer_token=row.token)

    async def share(self, origin: ChatOrigin, token: str) -> Reply:
        """The delivered answer behind ``token``, if this conversation may see its workspace."""
        try:
            scope = await self._resolve(origin)
            async with self._sessions() as session:
                row = await chat_answers.find(session, token, scope.workspace)
        except PermanentError as error:
            return refusal(error)
        return Reply("answer", row.answer, answer=chat_answers.answer_of(row), answer_token=row.token)

    async def feedback(self, origin: ChatOrigin, token: str, rating: int) -> Reply:
        try:
            scope = await self._resolve(origin)
            async with self._sessions.begin() as session:
                row = await chat_answers.find(session, token, scope.workspace)
                await chat_answers.rate(session, row, origin.platform, origin.user_id, rating)
        except PermanentError as error:
            return refusal(error)
        if rating < 0 and self._events is not None:
            flagged = AnswerFlagged(scope.workspace.name, token, origin.platform, tuple(row.document_ids))
            await self._events.publish(flagged)
        return Reply(
            "info", "Thanks for the feedback!" if rating > 0 else "Thanks, noted: I'll learn from it."
        )

    async def _resolve(self, origin: ChatOrigin) -> Scope:
        async with self._sessions() as session:
            return await channels.resolve(session, origin.conversation())

    async def _check_rate(self, origin: ChatOrigin) -> None:
        if self._limiter is None:
            return
        user_key, channel_key = origin.rate_keys()
        await self._limiter.check(
            [(user_key, self._limits.per_user), (channel_key, self._limits.per_channel)],
            "You're asking faster than I can keep up with, so I'm taking a short break.",
        )

    @staticmethod
    def _question(origin: ChatOrigin, text: str, scope: Scope) -> Question:
        try:
            return Question(
                text=text,
                filters=SearchFilters(collections=list(scope.collections)),
                conversation_id=origin.conversation_key(),
            )
        except ValidationError as exc:
            raise InvalidInput(
                "I need a question of 1 to 2,000 characters. Try `help` to see what I can do."
            ) from exc
