"""Uploads over real HTTP into a real arq worker on real Redis: hostile files, progress events, isolation."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from core import apikeys, workspaces
from core.embeddings import MiniLMEmbedder
from hub.app import create_app
from hub.settings import IngestSettings, Settings
from tests.support import hostile
from tests.support.live import LiveApp, serve
from tests.support.workers import flush, running_worker, wait_job


@dataclass
class Hub:
    live: LiveApp
    http: httpx.AsyncClient
    editor: str
    viewer: str
    other: str
    settings: Settings


def spool_is_empty(folder: Path) -> bool:
    return not any(folder.iterdir())


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
        ingest=IngestSettings(max_file_mb=2, max_request_mb=16, parse_timeout_s=20),
    )
    async with serve(create_app(settings, embedder=embedder)) as live:
        async with live.services.sessions.begin() as session:
            alpha = await workspaces.create(session, "alpha")
            beta = await workspaces.create(session, "beta")
            _, editor = await apikeys.create(session, alpha, "editor")
            _, viewer = await apikeys.create(session, alpha, "viewer")
            _, other = await apikeys.create(session, beta, "editor")
        async with (
            running_worker(settings, embedder),
            httpx.AsyncClient(base_url=live.base_url, timeout=60) as http,
        ):
            yield Hub(live, http, editor, viewer, other, settings)


async def upload(
    hub: Hub, files: list[tuple[str, bytes]], key: str | None = None, **data: str
) -> httpx.Response:
    parts = [("files", (name, body, "application/octet-stream")) for name, body in files]
    return await hub.http.post(
        "/api/v1/workspaces/alpha/documents", files=parts, data=data, headers=auth(key or hub.editor)
    )


async def search_ids(hub: Hub, query: str) -> list[str]:
    response = await hub.http.post(
        "/api/v1/workspaces/alpha/search", json={"query": query}, headers=auth(hub.viewer)
    )
    assert response.status_code == 200, response.text
    return [hit["document_id"] for hit in response.json()["hits"]]


async def test_hostile_files_fail_one_by_one_while_good_files_are_indexed(hub: Hub) -> None:
    files = [
        ("vpn.md", b"# VPN\n\nRequest VPN access in the IT portal on day one."),
        ("bomb.zip", hostile.zip_bomb()),
        ("slip.zip", hostile.zip_slip()),
        ("huge.pdf", hostile.many_page_pdf(10_000)),
        ("holiday.txt", hostile.PNG),  # the extension lies: a PNG
        ("report.pdf", b"Quarterly report: revenue grew by nine percent."),  # lies the other way: text
        ("empty.txt", b""),
        ("empty.zip", b""),
        ("latin1.txt", "Caf\u00e9 cr\u00e8me for the team offsite.\n".encode("latin-1") * 20),
        ("big.txt", b"lorem ipsum " * 200_000),  # 2.4 MB, over the 2 MB per-file cap
    ]
    response = await upload(hub, files)
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["files"] == len(files)
    job = await wait_job(hub.http, f"/api/v1/workspaces/alpha/jobs/{accepted['job_id']}", hub.editor)
    assert job["status"] == "done"
    errors = {e["item"]: e["error"] for e in job["errors"]}
    assert "compression ratio" in errors["bomb.zip/zeros.txt"]
    assert "'..'" in errors["slip.zip/../../etc/evil.txt"]
    assert "absolute" in errors["slip.zip//abs/evil.txt"]
    assert "symbolic link" in errors["slip.zip/link.txt"]
    assert "10000 pages" in errors["huge.pdf"]
    assert "binary" in errors["holiday.txt"]
    assert errors["empty.txt"] == "empty file" and errors["empty.zip"] == "empty file"
    assert "UTF-8" in errors["latin1.txt"]
    assert "larger than the limit of 2 MB" in errors["big.txt"]
    assert len(errors) == 10
    assert job["counts"] == {"created": 3, "failed": 10}
    assert job["progress"] == job["total"] == 13
    assert (await search_ids(hub, "VPN access portal"))[0] == "vpn.md"
    assert (await search_ids(hub, "frobnicator restart"))[0] == "slip.zip/good/ok.md"
    assert (await search_ids(hub, "quarterly revenue"))[0] == "report.pdf"
    assert (await hub.http.get("/healthz")).status_code == 200
    assert spool_is_empty(hub.settings.spool_path), "the spool is cleaned after the job"


async def test_upload_needs_editor_and_stays_in_its_workspace(hub: Hub) -> None:
    viewer = await upload(hub, [("a.md", b"# A\n\ntext")], key=hub.viewer)
    assert viewer.status_code == 403
    elsewhere = await upload(hub, [("a.md", b"# A\n\ntext")], key=hub.other)
    assert elsewhere.status_code == 404
    accepted = await upload(hub, [("a.md", b"# A\n\nalpha text")])
    job_id = accepted.json()["job_id"]
    for path in (f"/jobs/{job_id}", f"/jobs/{job_id}/events"):
        response = await hub.http.get(f"/api/v1/workspaces/beta{path}", headers=auth(hub.other))
        assert response.status_code == 404, path
    listed = await hub.http.get("/api/v1/workspaces/beta/jobs", headers=auth(hub.other))
    assert listed.json() == []
    mine = await hub.http.get("/api/v1/workspaces/alpha/jobs", headers=auth(hub.viewer))
    assert [j["id"] for j in mine.json()] == [job_id]


async def test_bad_requests_get_clear_4xx(hub: Hub) -> None:
    url = "/api/v1/workspaces/alpha/documents"
    not_multipart = await hub.http.post(url, json={"x": 1}, headers=auth(hub.editor))
    assert not_multipart.status_code == 422 and "multipart" in not_multipart.text
    no_files = await hub.http.post(url, data={"collection": "x"}, files=[], headers=auth(hub.editor))
    assert no_files.status_code == 422
    bad_collection = await upload(hub, [("a.md", b"text")], collection="Not A Slug")
    assert bad_collection.status_code == 422 and "collection" in bad_collection.text
    assert spool_is_empty(hub.settings.spool_path), "refused uploads leave nothing behind"


async def test_an_upload_over_the_request_cap_is_refused_with_413(hub: Hub, embedder: MiniLMEmbedder) -> None:
    strict = hub.settings.model_copy(update={"ingest": IngestSettings(max_file_mb=1, max_request_mb=1)})
    async with (
        serve(create_app(strict, embedder=embedder)) as live,
        httpx.AsyncClient(base_url=live.base_url) as http,
    ):
        files = [("files", (f"f{i}.txt", b"x" * 400_000, "text/plain")) for i in range(3)]
        declared = await http.post(
            "/api/v1/workspaces/alpha/documents", files=files, headers=auth(hub.editor)
        )
        assert declared.status_code == 413 and "1 MB per request" in declared.text

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the cap is enforced while streaming
            yield b"--b\r\nContent-Disposition: form-data; name=files; filename=a.txt\r\n\r\n"
            for _ in range(30):
                yield b"y" * 50_000

        streamed = await http.post(
            "/api/v1/workspaces/alpha/documents",
            content=chunks(),
            headers={**auth(hub.editor), "Content-Type": "multipart/form-data; boundary=b"},
        )
        assert streamed.status_code == 413
    assert spool_is_empty(strict.spool_path), "refused uploads leave nothing behind"


async def test_sse_follows_a_200_file_upload_from_queued_to_done(hub: Hub) -> None:
    files = [
        (f"note-{i:03d}.md", f"# Note {i}\n\nTopic number {i} about widget {i * 7}.".encode())
        for i in range(200)
    ]
    accepted = (await upload(hub, files)).json()
    url = f"/api/v1/workspaces/alpha/jobs/{accepted['job_id']}/events"
    events = []
    async with hub.http.stream("GET", url, headers=auth(hub.viewer)) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        async for line in stream.aiter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
    statuses = [e["status"] for e in events]
    assert statuses[0] in ("queued", "running") and statuses[-1] == "done"
    progress = [e["progress"] for e in events]
    assert progress == sorted(progress) and progress[-1] == 200
    assert len(set(progress)) >= 3, f"expected intermediate progress, got {progress}"
    assert events[-1]["counts"] == {"created": 200}
