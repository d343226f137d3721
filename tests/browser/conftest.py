"""Browser tests: the real app under uvicorn with a real arq worker, driven by Playwright's Python package
through Debian's Chromium (never a downloaded browser). Screenshots go to ``test-artifacts/browser/``."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from core.embeddings import MiniLMEmbedder
from hub.settings import IngestSettings, Settings
from tests.support.admin import PASSWORD, AdminHub, admin_hub
from tests.support.workers import flush, running_worker

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"


@dataclass
class Stack:
    hub: AdminHub
    settings: Settings


@pytest.fixture
async def stack(
    tmp_path: Path, redis_url: str, chroma_server: str, embedder: MiniLMEmbedder
) -> AsyncIterator[Stack]:
    await flush(redis_url)
    settings = Settings(
        data_dir=tmp_path / "var",
        redis_url=redis_url,
        chroma_url=chroma_server,
        ingest=IngestSettings(parse_timeout_s=30),
    )
    async with admin_hub(settings, embedder) as hub, running_worker(settings, embedder):
        yield Stack(hub, settings)


@pytest.fixture
def chromium() -> Path:
    """Debian's Chromium; missing, the tests skip (or fail in CI, which installs it)."""
    if not CHROMIUM.exists():
        if os.environ.get("SWITCHBOARD_REQUIRE_SERVICES") == "1":
            pytest.fail("/usr/bin/chromium is missing (apt-get install -y chromium)")
        pytest.skip("/usr/bin/chromium is missing (apt-get install -y chromium)")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(chromium), args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Browser, stack: Stack, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    context = await browser.new_context(base_url=stack.hub.base_url)
    opened = await context.new_page()
    opened.set_default_timeout(30_000)
    try:
        yield opened
    finally:
        await screenshot(opened, f"{request.node.name}-final")
        await context.close()


async def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name.replace('/', '_')}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    await page.goto("/admin")
    await page.fill('input[name="email"]', email)
    await page.fill('input[name="password"]', password)
    await page.click('button:has-text("Sign in")')
    await page.wait_for_url("**/admin")
