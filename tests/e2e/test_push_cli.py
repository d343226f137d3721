"""`switchboard push enable|disable` as users run it: a real subprocess on a real data dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import push, workspaces
from core.embeddings import MiniLMEmbedder
from core.indexing import ensure_collection
from core.tables import Source, SourcePush
from hub.container import open_services
from hub.migrate import upgrade
from hub.settings import Settings
from tests.e2e.test_cli import env, run  # noqa: F401 - the fixture and helper of the CLI tests


@pytest.mark.slow
async def test_push_enable_prints_the_secret_once_and_disable_forgets_it(
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
    embedder: MiniLMEmbedder,
) -> None:
    settings = Settings(data_dir=tmp_path / "var", database_url=None, redis_url=None, chroma_url=None)
    async with open_services(settings, embedder=embedder, with_redis=False) as services:
        await upgrade(services.engine)
        async with services.sessions.begin() as session:
            workspace = await workspaces.create(session, "acme")
            collection_id = await ensure_collection(session, workspace.id, "drive")
            source = Source(
                workspace_id=workspace.id, collection_id=collection_id, type="sharepoint", name="d"
            )
            session.add(source)
        source_id = source.id

    enabled = run(["push", "enable", str(source_id), "--graph-resource", "drives/b!x/root"], env)
    secret = enabled.stdout.split("secret (shown once): ", 1)[1].split()[0]
    assert secret.startswith("whsec_")
    assert f"/webhooks/confluence/{source_id}" in enabled.stdout and "/webhooks/graph" in enabled.stdout
    async with open_services(settings, embedder=embedder, with_redis=False) as services:
        async with services.sessions() as session:
            row = await session.get(SourcePush, source_id)
        assert row is not None and row.graph_resource == "drives/b!x/root"
        assert secret not in row.secret and push.reveal(services.fernet, row) == secret  # stored encrypted

    assert "push disabled" in run(["push", "disable", str(source_id)], env).stdout
    again = run(["push", "disable", str(source_id)], env, ok=False)
    assert again.returncode == 1 and "has no push set up" in again.stderr
