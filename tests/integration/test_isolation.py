"""The isolation rule, attacked: canary tokens in random workspaces never reach another workspace."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import channels, workspaces
from core.channels import Conversation
from core.errors import AccessDenied
from core.indexing import IncomingDocument, ingest_all
from core.models import Asker, Question
from hub.container import Services

PHRASES = ["incident escalation policy", "travel hotel limit", "vpn onboarding steps", "database failover"]


def canary() -> str:
    return f"canary{uuid.uuid4().hex[:10]}"


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    n_workspaces=st.integers(min_value=2, max_value=4),
    placements=st.lists(st.tuples(st.integers(0, 3), st.sampled_from(PHRASES)), min_size=2, max_size=8),
)
async def test_no_channel_sees_another_workspaces_canary(
    services: Services, n_workspaces: int, placements: list[tuple[int, str]]
) -> None:
    run = uuid.uuid4().hex[:6]
    names = [f"iso-{run}-{i}" for i in range(n_workspaces)]
    owner: dict[str, str] = {}
    async with services.sessions.begin() as session:
        spaces = [await workspaces.create(session, name) for name in names]
        for i, workspace in enumerate(spaces):
            await channels.map_channel(
                session, platform="slack", team_id=f"T{run}", channel_id=f"C{i}", workspace=workspace
            )
    for n, (index, phrase) in enumerate(placements):
        workspace = spaces[index % n_workspaces]
        token = canary()
        owner[token] = workspace.name
        doc = IncomingDocument(
            f"doc-{n}.md", f"# {phrase}\n\nThe secret code is {token}.".encode(), f"doc-{n}.md"
        )
        await ingest_all(services.indexer, workspace, [doc])
    for i in range(n_workspaces):
        async with services.sessions() as session:
            scope = await channels.resolve(session, Conversation("slack", f"T{run}", f"C{i}"))
        for token, phrase in [(t, "secret code") for t in owner]:
            hits = await services.retriever.search(scope.workspace, f"{phrase} {token}", limit=20)
            assert all(
                owner.get(token_in(h.text), scope.workspace.name) == scope.workspace.name for h in hits
            )
            answer = await services.asker.ask(scope.workspace, Question(text=f"what is {token}?"), Asker())
            leaked = [t for t, ws in owner.items() if ws != scope.workspace.name and t in answer.answer]
            assert not leaked
            assert all(
                owner.get(token_in(c.quote), scope.workspace.name) == scope.workspace.name
                for c in answer.citations
            )


def token_in(text: str) -> str:
    return next((word.strip(".") for word in text.split() if word.startswith("canary")), "")


async def test_unmapped_shared_and_foreign_tenant_channels_are_refused(services: Services) -> None:
    async with services.sessions.begin() as session:
        workspace = await workspaces.create(session, "iso-tenant")
        await channels.map_channel(
            session,
            platform="teams",
            team_id="19:team",
            channel_id="19:chan",
            tenant_id="tenant-a",
            workspace=workspace,
        )
        await channels.map_channel(
            session, platform="slack", team_id="T1", channel_id="C1", workspace=workspace
        )
    async with services.sessions() as session:
        refused = [
            Conversation("slack", "T1", "C-unmapped"),
            Conversation("slack", "T-other", "C1"),
            Conversation("slack", "T1", "C1", externally_shared=True),
            Conversation("teams", "19:team", "19:chan", tenant_id="tenant-b"),
            Conversation("teams", "19:team", "19:chan", tenant_id=None),
            Conversation("slack", None, "C1"),
            Conversation("slack", "T1", "D1", kind="direct"),
        ]
        for conversation in refused:
            with pytest.raises(AccessDenied) as denied:
                await channels.resolve(session, conversation)
            assert denied.value.how_to
        scope = await channels.resolve(
            session, Conversation("teams", "19:team", "19:chan", tenant_id="tenant-a")
        )
        assert scope.workspace.name == "iso-tenant"
        assert (
            await channels.resolve(session, Conversation("slack", "T1", "C1"))
        ).workspace.name == "iso-tenant"


async def test_direct_messages_use_the_team_default_only(services: Services) -> None:
    async with services.sessions.begin() as session:
        workspace = await workspaces.create(session, "iso-dm")
        await workspaces.set_team_default(session, "slack", "T9", workspace)
    async with services.sessions() as session:
        scope = await channels.resolve(session, Conversation("slack", "T9", "D123", kind="direct"))
        assert scope.workspace.name == "iso-dm"
        with pytest.raises(AccessDenied):
            await channels.resolve(session, Conversation("slack", "T8", "D123", kind="direct"))
        with pytest.raises(AccessDenied):
            await channels.resolve(session, Conversation("teams", "T9", "D123", kind="direct"))


async def test_mapping_to_unknown_collection_is_rejected(services: Services) -> None:
    from core.errors import InvalidInput

    async with services.sessions.begin() as session:
        workspace = await workspaces.create(session, "iso-coll")
        with pytest.raises(InvalidInput):
            await channels.map_channel(
                session,
                platform="slack",
                team_id="T",
                channel_id="C",
                workspace=workspace,
                collections=["nope"],
            )
