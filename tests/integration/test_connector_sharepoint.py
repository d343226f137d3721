"""SharePoint/OneDrive through msal (client credentials) and Graph delta, against an https loopback fake
with a self-signed certificate: full then incremental sync by deltaLink, the ``deleted`` facet, item
permissions as ACLs, a refused secret pausing with a readable reason, and 429 with Retry-After."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from core import workspaces
from core.embeddings import MiniLMEmbedder
from core.errors import AuthError, TransientError
from core.jobs import ItemResult
from core.retrieval import Access
from core.tables import Document, Source, Workspace
from hub import sources
from hub.container import Services, open_services
from hub.migrate import upgrade
from hub.settings import ConnectorSettings, Settings
from tests.fakes.graph import FakeGraph, fake_graph, granted_group, granted_user, org_link
from tests.support.tls import SelfSigned, self_signed


@pytest.fixture
def tls(tmp_path: Path) -> SelfSigned:
    return self_signed(tmp_path / "tls")


@pytest.fixture
async def sp_services(
    database_url: str, settings: Settings, embedder: MiniLMEmbedder, tls: SelfSigned
) -> AsyncIterator[Services]:
    connectors = ConnectorSettings(allow_private_urls=True, ca_bundle=tls.cert)
    configured = settings.model_copy(update={"database_url": database_url, "connectors": connectors})
    async with open_services(configured, embedder=embedder, with_redis=False) as opened:
        await upgrade(opened.engine)
        yield opened


@pytest.fixture
async def drive(tls: SelfSigned) -> AsyncIterator[FakeGraph]:
    async with fake_graph(tls) as fake:
        fake.folder("f1", "Policies")
        fake.put(
            "i1",
            "holidays.txt",
            b"Holiday policy: every employee gets 25 days of paid leave.",
            [granted_user("hr@contoso.com"), org_link()],
        )
        fake.put(
            "i2",
            "payroll.txt",
            b"Payroll runs on the 25th; the payroll bank is Northwind.",
            [granted_group("Finance")],
        )
        fake.put(
            "i3",
            "roadmap.txt",
            b"The roadmap for the mobile app ships offline mode in Q3.",
            [granted_user("Dana@Contoso.com")],
        )
        yield fake


def config(fake: FakeGraph) -> dict[str, object]:
    return {
        "tenant_id": fake.tenant,
        "client_id": "app-1",
        "drive_id": fake.drive,
        "graph_url": fake.graph_url,
        "authority_host": fake.base_url,
    }


async def add(services: Services, fake: FakeGraph, secret: str = "s3cret") -> tuple[Workspace, Source]:
    async with services.sessions.begin() as session:
        workspace = await workspaces.create(session, "drive")
    source = await sources.add(
        services,
        workspace,
        source_type="sharepoint",
        name="docs",
        config=config(fake),
        secret={"client_secret": secret},
    )
    return workspace, source


async def sync_once(services: Services, workspace: Workspace, source_id: int) -> dict[str, int]:
    seen: list[ItemResult] = []

    async def report(results: list[ItemResult]) -> None:
        seen.extend(results)

    await services.ports.syncers["sharepoint"](await sources.get(services, workspace, source_id), report)
    counts: dict[str, int] = {}
    for result in seen:
        counts[result.status] = counts.get(result.status, 0) + 1
    return counts


async def test_delta_sync_deletes_and_permissions(sp_services: Services, drive: FakeGraph) -> None:
    services = sp_services
    workspace, source = await add(services, drive)
    assert await sync_once(services, workspace, source.id) == {"created": 3}
    assert drive.tokens_issued == 1  # msal cached the client-credentials token for the whole sync
    saved = await sources.get(services, workspace, source.id)
    assert saved.cursor is not None and "token=d:" in saved.cursor  # the deltaLink is the cursor
    async with services.sessions() as session:
        acl = {d.title: d.acl for d in (await session.scalars(select(Document))).all()}
    assert acl == {
        "holidays.txt": None,
        "payroll.txt": ["group:Finance"],
        "roadmap.txt": ["dana@contoso.com"],
    }

    outsider = Access(principals=("eve@contoso.com",))
    hits = await services.retriever.search(workspace, "payroll bank", limit=5, access=outsider)
    assert all(h.title != "payroll.txt" for h in hits)
    hits = await services.retriever.search(
        workspace, "payroll bank", limit=5, access=Access(principals=("group:Finance",))
    )
    assert hits and hits[0].title == "payroll.txt"

    before = len(drive.requests)
    drive.put(
        "i1", "holidays.txt", b"Holiday policy: every employee now gets 27 days of paid leave.", [org_link()]
    )
    drive.delete("i2")
    assert await sync_once(services, workspace, source.id) == {"updated": 1, "deleted": 1}
    delta_calls = [r for r in drive.requests[before:] if "/root/delta" in r]
    assert delta_calls and all("token=d:" in r for r in delta_calls)
    assert await sync_once(services, workspace, source.id) == {}  # nothing changed: nothing fetched
    async with services.sessions() as session:
        titles = set((await session.scalars(select(Document.title))).all())
    assert titles == {"holidays.txt", "roadmap.txt"}

    # An expired delta token (410): a full round again, which sweeps what vanished meanwhile.
    del drive.files["i3"]
    drive.expire_before = drive.seq + 1
    assert await sync_once(services, workspace, source.id) == {"unchanged": 1, "deleted": 1}


async def test_refused_secret_and_throttling(sp_services: Services, drive: FakeGraph) -> None:
    services = sp_services
    workspace, source = await add(services, drive, secret="wrong")
    with pytest.raises(AuthError, match="AADSTS7000215"):
        await sync_once(services, workspace, source.id)
    _, good = await add_second(services, workspace, drive)
    drive.throttle = 1
    drive.retry_after = "7"
    with pytest.raises(TransientError) as raised:
        await sync_once(services, workspace, good.id)
    assert raised.value.retry_after_s == 7.0


async def add_second(services: Services, workspace: Workspace, fake: FakeGraph) -> tuple[Workspace, Source]:
    source = await sources.add(
        services,
        workspace,
        source_type="sharepoint",
        name="docs2",
        config=config(fake),
        secret={"client_secret": "s3cret"},
    )
    return workspace, source
