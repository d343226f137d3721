"""Sources over REST on the real app under uvicorn with a real worker: add (validated, secret never shown),
list, sync as a job that indexes a Confluence space from the loopback fake, role checks, another
workspace's source is a 404, and remove deletes the documents too."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from core import apikeys, workspaces
from core.embeddings import MiniLMEmbedder
from hub.app import create_app
from hub.settings import ConnectorSettings, Settings
from tests.fakes.confluence import FakeConfluence, fake_confluence
from tests.support.live import serve
from tests.support.workers import flush, running_worker, wait_job


@dataclass
class Hub:
    http: httpx.AsyncClient
    admin: str
    editor: str
    viewer: str
    other: str
    wiki: FakeConfluence


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def hub(
    tmp_path: Path, redis_url: str, chroma_server: str, embedder: MiniLMEmbedder
) -> AsyncIterator[Hub]:
    await flush(redis_url)
    settings = Settings(
        data_dir=tmp_path / "var",
        redis_url=redis_url,
        chroma_url=chroma_server,
        connectors=ConnectorSettings(allow_private_urls=True),
    )
    async with fake_confluence() as wiki, serve(create_app(settings, embedder=embedder)) as live:
        wiki.add("7", "Deploys", "<h2>Freeze</h2><p>Deploys are frozen on Fridays after noon.</p>", minute=0)
        async with live.services.sessions.begin() as session:
            alpha = await workspaces.create(session, "alpha")
            beta = await workspaces.create(session, "beta")
            keys = [(await apikeys.create(session, alpha, role))[1] for role in ("admin", "editor", "viewer")]
            other = (await apikeys.create(session, beta, "admin"))[1]
        async with (
            running_worker(settings, embedder),
            httpx.AsyncClient(base_url=live.base_url, timeout=60) as http,
        ):
            yield Hub(http, keys[0], keys[1], keys[2], other, wiki)


async def test_sources_lifecycle_over_rest(hub: Hub) -> None:
    base = "/api/v1/workspaces/alpha/sources"
    body = {
        "type": "confluence",
        "name": "eng wiki",
        "collection": "eng",
        "config": {"url": hub.wiki.base_url, "space": "ENG"},
        "secret": {"username": "bot@example.com", "password": "tok-SECRET-42"},
        "refresh_interval_s": 3600,
    }
    assert (await hub.http.post(base, json=body, headers=auth(hub.editor))).status_code == 403
    created = await hub.http.post(base, json=body, headers=auth(hub.admin))
    assert created.status_code == 201, created.text
    source = created.json()
    assert source["has_secret"] is True and "tok-SECRET-42" not in created.text and source["status"] == "idle"
    bad = await hub.http.post(
        base, json={**body, "name": "x", "config": {"url": "ftp://x"}}, headers=auth(hub.admin)
    )
    assert bad.status_code == 422 and "space" in bad.text and "tok-SECRET-42" not in bad.text
    dup = await hub.http.post(base, json=body, headers=auth(hub.admin))
    assert dup.status_code == 409

    one = f"{base}/{source['id']}"
    assert (
        await hub.http.get(f"/api/v1/workspaces/beta/sources/{source['id']}", headers=auth(hub.other))
    ).status_code == 404
    assert (await hub.http.post(f"{one}/sync", headers=auth(hub.viewer))).status_code == 403
    queued = await hub.http.post(f"{one}/sync", headers=auth(hub.editor))
    assert queued.status_code == 202, queued.text
    job = await wait_job(hub.http, f"/api/v1/workspaces/alpha/jobs/{queued.json()['job_id']}", hub.editor)
    assert job["status"] == "done" and job["counts"] == {"created": 1}
    listed = (await hub.http.get(base, headers=auth(hub.viewer))).json()
    assert [s["name"] for s in listed] == ["eng wiki"] and listed[0]["cursor_saved"] is True
    assert listed[0]["last_synced_at"] and "tok-SECRET-42" not in str(listed)

    search = await hub.http.post(
        "/api/v1/workspaces/alpha/search", json={"query": "deploy freeze friday"}, headers=auth(hub.viewer)
    )
    assert search.json()["hits"][0]["title"] == "Deploys"
    assert (await hub.http.delete(one, headers=auth(hub.admin))).status_code == 204
    search = await hub.http.post(
        "/api/v1/workspaces/alpha/search", json={"query": "deploy freeze friday"}, headers=auth(hub.viewer)
    )
    assert search.json()["hits"] == []
    assert (await hub.http.get(one, headers=auth(hub.viewer))).status_code == 404
