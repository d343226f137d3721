"""Hybrid retrieval and filters on real SQLite/PostgreSQL and Chroma (embedded and server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core import workspaces
from core.embeddings import MiniLMEmbedder
from core.indexing import IncomingDocument, ingest_all
from core.models import SearchFilters
from core.retrieval import Access, RetrievalConfig
from core.tables import Workspace
from hub.container import Services, open_services
from hub.migrate import upgrade
from hub.settings import Settings

OLD = datetime(2024, 1, 1, tzinfo=UTC)
NEW = datetime(2026, 6, 1, tzinfo=UTC)

CORPUS = [
    IncomingDocument(
        "db.md",
        b"# Database failover\n\nPromote the replica with pgctl promote.",
        "db.md",
        collection="runbooks",
        updated_at=NEW,
    ),
    IncomingDocument(
        "pto.md",
        b"# Vacation\n\nEmployees get 25 days of paid vacation.",
        "pto.md",
        collection="hr",
        updated_at=OLD,
    ),
    IncomingDocument(
        "hotel.csv",
        b"city,limit\nLondon,240 GBP\nParis,210 EUR\n",
        "hotel.csv",
        collection="travel",
        updated_at=NEW,
    ),
    IncomingDocument(
        "secret.md",
        b"# Salaries\n\nSalary bands are confidential.",
        "secret.md",
        collection="hr",
        acl=["group:finance"],
        updated_at=NEW,
    ),
]


async def seed(services: Services) -> Workspace:
    async with services.sessions.begin() as session:
        workspace = await workspaces.create(session, "acme")
    await ingest_all(services.indexer, workspace, CORPUS)
    async with services.sessions() as session:
        return await workspaces.get(session, "acme")


async def ids(services: Services, workspace: Workspace, query: str, **kwargs: object) -> list[str]:
    hits = await services.retriever.search(workspace, query, limit=10, **kwargs)  # type: ignore[arg-type]
    return [h.document_id for h in hits]


async def test_hybrid_finds_by_meaning_and_by_keyword(any_services: Services) -> None:
    workspace = await seed(any_services)
    assert (await ids(any_services, workspace, "how do I promote a replica"))[0] == "db.md"
    assert (await ids(any_services, workspace, "how much holiday do I get"))[0] == "pto.md"
    assert (await ids(any_services, workspace, "London"))[0] == "hotel.csv"


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (SearchFilters(collections=["hr"]), {"pto.md"}),
        (SearchFilters(doc_types=["csv"]), {"hotel.csv"}),
        (SearchFilters(sources=["upload"]), {"db.md", "pto.md", "hotel.csv"}),
        (SearchFilters(sources=["confluence"]), set()),
        (SearchFilters(updated_after=OLD + timedelta(days=1)), {"db.md", "hotel.csv"}),
        (SearchFilters(updated_before=OLD + timedelta(days=1)), {"pto.md"}),
    ],
)
async def test_filters_narrow_both_keyword_and_vector_results(
    any_services: Services, filters: SearchFilters, expected: set[str]
) -> None:
    workspace = await seed(any_services)
    found = set(
        await ids(
            any_services,
            workspace,
            "vacation replica London salary",
            filters=filters,
            access=Access(public_only=True),
        )
    )
    assert found == expected


async def test_acl_documents_only_reach_admitted_askers(any_services: Services) -> None:
    workspace = await seed(any_services)
    assert "secret.md" not in await ids(
        any_services, workspace, "salary bands", access=Access(public_only=True)
    )
    assert "secret.md" not in await ids(
        any_services, workspace, "salary bands", access=Access(principals=("group:eng",))
    )
    assert "secret.md" in await ids(
        any_services, workspace, "salary bands", access=Access(principals=("group:finance",))
    )


@pytest.mark.parametrize("mode", ["keyword", "vector"])
async def test_single_modes_work(services: Services, mode: str) -> None:
    workspace = await seed(services)
    services.retriever.config = type(services.retriever.config)(mode=mode)
    assert (await ids(services, workspace, "promote the replica"))[0] == "db.md"


async def test_chroma_server_mode(chroma_server: str, settings: Settings, embedder: MiniLMEmbedder) -> None:
    configured = settings.model_copy(update={"chroma_url": chroma_server})
    async with open_services(configured, embedder=embedder, with_redis=False) as services:
        await upgrade(services.engine)
        workspace = await seed(services)
        assert (await ids(services, workspace, "promote the replica"))[0] == "db.md"
        await services.vectors.drop(workspace.uid)


async def test_keyword_scores_are_identical_on_sqlite_and_postgresql(
    postgres_url: str, settings: Settings, embedder: MiniLMEmbedder
) -> None:
    scores = []
    for url in (settings.resolved_database_url(), postgres_url):
        configured = settings.model_copy(
            update={"database_url": url, "data_dir": settings.data_dir / url[:6]}
        )
        async with open_services(configured, embedder=embedder, with_redis=False) as services:
            await upgrade(services.engine)
            workspace = await seed(services)
            services.retriever.config = type(services.retriever.config)(mode="keyword")
            hits = await services.retriever.search(workspace, "vacation replica London", limit=10)
            scores.append([(h.document_id, round(h.keyword_score or 0, 6)) for h in hits])
    assert scores[0] == scores[1] and scores[0]


async def test_acl_principals_match_literally_not_as_like_patterns(any_services: Services) -> None:
    async with any_services.sessions.begin() as session:
        workspace = await workspaces.create(session, "acl-like")
    doc = IncomingDocument(
        "mine.md", b"# Bonus\n\nThe bonus pool is private.", "mine.md", acl=["user:aXb@x.com"]
    )
    await ingest_all(any_services.indexer, workspace, [doc])
    async with any_services.sessions() as session:
        workspace = await workspaces.get(session, "acl-like")
    for wildcard in ("user:a_b@x.com", "user:%"):
        found = await ids(any_services, workspace, "bonus pool", access=Access(principals=(wildcard,)))
        assert "mine.md" not in found, wildcard
    assert "mine.md" in await ids(
        any_services, workspace, "bonus pool", access=Access(principals=("user:aXb@x.com",))
    )


async def seed_mostly_private(services: Services) -> Workspace:
    """Six confidential pages that match "salary bands" best, and three public ones that match less."""
    async with services.sessions.begin() as session:
        workspace = await workspaces.create(session, "deep")
    private = [
        IncomingDocument(
            f"band-{n}.md",
            f"# Salary bands {n}\n\nLevel {n} salary bands are confidential salary bands.".encode(),
            f"band-{n}.md",
            acl=["group:finance"],
        )
        for n in range(6)
    ]
    public = [
        IncomingDocument(f"pub-{n}.md", text.encode(), f"pub-{n}.md")
        for n, text in enumerate(
            [
                "# Reviews\n\nThe yearly salary review happens each spring.",
                "# Pay day\n\nSalary is paid on the last working day of the month.",
                "# Expenses\n\nClaim travel expenses within thirty days.",
            ]
        )
    ]
    await ingest_all(services.indexer, workspace, private + public)
    async with services.sessions() as session:
        return await workspaces.get(session, "deep")


@pytest.mark.parametrize("mode", ["keyword", "vector"])
async def test_a_restricted_asker_gets_full_results_when_private_pages_rank_first(
    services: Services, mode: str
) -> None:
    """Ranked wide, all four candidates are private: the side is ranked again with the ACL applied."""
    workspace = await seed_mostly_private(services)
    public_only = Access(public_only=True)
    services.retriever.config = RetrievalConfig(mode=mode, keyword_k=2, vector_k=2, overfetch=2)
    assert set(await ids(services, workspace, "salary bands", access=Access())) <= {
        f"band-{n}.md" for n in range(6)
    }
    reranked = await ids(services, workspace, "salary bands", access=public_only)
    services.retriever.config = RetrievalConfig(mode=mode, keyword_k=2, vector_k=2, overfetch=50)
    checked_after = await ids(services, workspace, "salary bands", access=public_only)
    assert len(reranked) == 2
    assert all(doc.startswith("pub-") for doc in reranked)
    assert reranked == checked_after


async def test_private_pages_added_after_the_last_search_do_not_shorten_public_results(
    services: Services,
) -> None:
    """The process last saw no private chunk and skips the vector over-fetch; pages made confidential
    since then rank first, so the short list is ranked again with the ACL as a pre-filter."""
    public_only = Access(public_only=True)
    services.retriever.config = RetrievalConfig(mode="vector", vector_k=2, overfetch=2)
    async with services.sessions.begin() as session:
        fresh = await workspaces.create(session, "fresh")
    await ingest_all(
        services.indexer,
        fresh,
        [
            IncomingDocument(f"pub-{n}.md", f"# Pay {n}\n\nSalary is paid monthly, note {n}.".encode())
            for n in range(3)
        ],
    )
    await ids(services, fresh, "salary bands", access=public_only)  # held now: nothing private
    held = services.retriever._memory.held(fresh)
    assert held is not None and held.private == 0
    await ingest_all(
        services.indexer,
        fresh,
        [
            IncomingDocument(
                f"band-{n}.md", f"# Salary bands {n}\n\nSalary bands.".encode(), acl=["group:finance"]
            )
            for n in range(4)
        ],
    )
    found = await ids(services, fresh, "salary bands", access=public_only)
    assert len(found) == 2 and all(doc.startswith("pub-") for doc in found)
    assert held.private == 4  # replayed during that search


async def test_a_filtered_public_search_ranks_within_the_filter(any_services: Services) -> None:
    """With one candidate per side, a filter must narrow the candidates themselves, not only the rows:
    the page that matches best is outside the filter and must not crowd out the one inside it."""
    async with any_services.sessions.begin() as session:
        workspace = await workspaces.create(session, "narrow")
    await ingest_all(
        any_services.indexer,
        workspace,
        [
            IncomingDocument(
                "eng.md",
                b"# Replica\n\nPromote the replica: promote replica, replica promotion.",
                collection="eng",
            ),
            IncomingDocument("hr.md", b"# Leave\n\nAsk HR before you promote anyone.", collection="hr"),
        ],
    )
    any_services.retriever.config = RetrievalConfig(keyword_k=1, vector_k=1, overfetch=1)
    hr_only = SearchFilters(collections=["hr"])
    found = await ids(
        any_services, workspace, "promote replica", filters=hr_only, access=Access(public_only=True)
    )
    assert found == ["hr.md"]
