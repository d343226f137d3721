"""Issue 10's admin pages in real headless Chromium: analytics charts render, a webhook is subscribed
through the form (secret shown once), and a saved query reruns with its diff."""

from __future__ import annotations

from playwright.async_api import Page, expect

from core import workspaces
from core.indexing import IncomingDocument, ingest_all
from core.tables import AnswerLog
from tests.browser.conftest import Stack, screenshot, sign_in


async def test_analytics_charts_render_and_link_csv(page: Page, stack: Stack) -> None:
    services = stack.hub.live.services
    async with services.sessions.begin() as session:
        alpha = await workspaces.get(session, "alpha")
        for n in range(4):
            row = AnswerLog(
                workspace_id=alpha.id,
                platform="api",
                question=f"printer setup {n}",
                answer="a",
                abstained=n == 3,
                confidence=1,
                mode="extractive",
                latency_ms=50.0 * (n + 1),
            )
            session.add(row)
    await sign_in(page, "owner@example.com")
    await page.click('nav >> text="Analytics"')
    await page.select_option('#analytics-filter select[name="workspace"]', "alpha")
    await page.click("#analytics-filter button")
    await expect(page.locator('#summary dd[data-key="questions"]')).to_have_text("4")
    charts = page.locator("img.chart")
    await expect(charts).to_have_count(3)
    widths = await page.eval_on_selector_all(
        "img.chart", "imgs => imgs.map(i => i.complete && i.naturalWidth)"
    )
    assert all(w and w > 100 for w in widths), widths  # the SVGs loaded and drew
    await expect(page.locator("#table-top_topics")).to_contain_text("printer")
    await expect(page.locator("#table-gaps a.csv")).to_have_attribute(
        "href", "/admin/w/alpha/analytics/gaps.csv?days=30"
    )
    await screenshot(page, "analytics")


async def test_subscribe_a_webhook_and_rerun_a_saved_query(page: Page, stack: Stack) -> None:
    services = stack.hub.live.services
    async with services.sessions() as session:
        alpha = await workspaces.get(session, "alpha")
    doc = IncomingDocument("wifi.md", b"# Wifi\n\nThe office wifi password rotates monthly.", "wifi.md")
    await ingest_all(services.indexer, alpha, [doc])
    await sign_in(page, "owner@example.com")
    await page.click('nav >> text="Webhooks"')
    form = page.locator("#create-webhook")
    await form.locator('select[name="workspace"]').select_option("alpha")
    await form.locator('input[name="url"]').fill("https://hooks.example.com/switchboard")
    await form.locator('input[value="sync.failed"]').check()
    await form.locator('input[value="answer.flagged"]').check()
    await form.locator("button").click()
    await expect(page.locator("#secret-secret")).to_contain_text("whsec_")
    await page.goto("/admin/webhooks")
    await expect(page.locator("#webhooks")).to_contain_text("answer.flagged, sync.failed")
    await page.click("#webhooks a.delivery-log")
    await expect(page.locator("#deliveries")).to_contain_text("No deliveries yet.")

    await page.click('nav >> text="Saved queries"')
    save = page.locator("#save-query")
    await save.locator('select[name="workspace"]').select_option("alpha")
    await save.locator('input[name="name"]').fill("wifi")
    await save.locator('input[name="query"]').fill("office wifi password")
    await save.locator("button").click()
    await page.click('#saved tr[data-name="wifi"] button')
    await expect(page.locator("#diff")).to_contain_text("First run")
    await expect(page.locator("#documents")).to_contain_text("wifi.md")
    await page.go_back()
    await page.reload()
    await page.click('#saved tr[data-name="wifi"] button')
    await expect(page.locator("#diff-added")).to_have_text("none")
    await screenshot(page, "saved-query-diff")
