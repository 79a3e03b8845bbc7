"""The dashboard in a real browser: Playwright (async API) driving Debian's Chromium (/usr/bin/chromium; never a
downloaded browser), against the dashboard served on 127.0.0.1 with a database filled through the real
IncidentService and the real Detector."""

from __future__ import annotations

import pytest

from bot.core.models import Action, IncidentStatus
from bot.core.sanitize import safe_snippet

from dashboard_helpers import ARTIFACTS, log_in, message, seed_history

pytestmark = pytest.mark.browser


class Watch:
    """Console errors (CSP violations show up here) and JavaScript dialogs (an alert() would be an XSS)."""

    def __init__(self, page):
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

        async def on_dialog(d):
            self.dialogs.append(d.message)
            await d.dismiss()

        page.on("dialog", on_dialog)

    def assert_clean(self):
        assert not self.dialogs, f"a dialog opened: {self.dialogs}"
        assert not self.errors, f"console errors: {self.errors}"


async def new_page(browser):
    ctx = await browser.new_context(viewport={"width": 1400, "height": 900})
    page = await ctx.new_page()
    return page, Watch(page)


async def test_moderator_marks_false_positive_and_the_bot_learns(browser, live_server, seeded, bot_app):
    base = live_server
    page, watch = await new_page(browser)
    nato_id = seeded.ids["nato"]
    NATO = seeded.text["nato"]
    assert seeded.outcomes["nato"].decision.action is Action.REPLY

    # the login keeps the page the moderator asked for
    await log_in(page, base, "alice", "/incidents")
    assert page.url.endswith("/incidents")

    # overview with the server-side SVG charts (screenshot for humans), with two weeks of history behind it
    assert len(await seed_history(bot_app)) >= 10
    await page.goto(base + "/overview")
    assert await page.locator("figure.chart svg").count() >= 4
    assert await page.locator("figure.chart rect").count() > 5
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "dashboard-overview.png"), full_page=True)

    # filter the queue by talking point
    await page.goto(base + "/incidents")
    await page.select_option("select[name=tp]", "nato-expansion-provoked")
    async with page.expect_navigation():
        await page.click("form.filters button[type=submit]")
    assert "tp=nato-expansion-provoked" in page.url
    links = page.locator("table.queue tbody td:nth-child(5) a")
    assert await links.count() == 2  # the reply-decided message and the sentence
    assert set(await links.all_inner_texts()) == {"nato-expansion-provoked"}

    # open the incident
    async with page.expect_navigation():
        await page.click(f"table.queue a[href='/incidents/{nato_id}']:not(.msg a)")
    assert page.url.endswith(f"/incidents/{nato_id}")
    assert await page.inner_text("#snapshot") == NATO
    assert "Did NATO expansion force Russia to invade Ukraine?" in await page.inner_text("article.ctxcard")
    assert seeded.outcomes["nato"].decision.explanation.reason in await page.inner_text("body")

    # mark it a false positive
    await page.check("input[name=verdict][value=false_positive]")
    await page.fill("textarea[name=note]", "sarcasm, mocking the claim")
    async with page.expect_navigation():
        await page.click("form.resolve button[type=submit]")
    assert "false positive" in await page.inner_text("h1 .badge")
    assert "The bot learned from it" in await page.inner_text("p.notice")
    assert "negative exemplar" in await page.inner_text("#learned")

    # persisted in SQLite
    inc = await bot_app.service.incidents.get_incident(nato_id)
    assert inc.status is IncidentStatus.FALSE_POSITIVE and inc.reviewer == "alice"
    async with bot_app.db.execute(
            "SELECT platform, server_id, talking_point_id, text, positive, incident_id, created_by, promoted"
            " FROM server_exemplars WHERE created_by = 'alice'") as cur:  # the seed's own verdicts teach too
        stored = [tuple(r) for r in await cur.fetchall()]
    assert stored == [("discord", "guild-1", "nato-expansion-provoked", NATO, 0, nato_id, "alice", 0)]

    # the next identical message (new id, same server, reply-mode channel) is no longer replied to
    again = await bot_app.service.handle_message(message("guild-1", "debate", NATO, "m-nato-next", "user-new"))
    assert again.card is None and again.incident is None and again.decision.action is Action.NONE
    assert "false positive" in again.decision.explanation.reason

    # and the queue shows the verdict
    await page.goto(base + "/incidents?status=false_positive&tp=nato-expansion-provoked")
    assert await page.locator("table.queue tbody tr").count() == 1
    watch.assert_clean()


async def test_chat_content_is_shown_escaped(browser, live_server, seeded):
    page, watch = await new_page(browser)
    await log_in(page, live_server, "alice")
    await page.goto(live_server + "/incidents")
    row = page.locator(f"table.queue tr:has(a[href='/incidents/{seeded.ids['bucha']}'])")
    # the queue shows a one-line snippet as text (mentions broken with a zero-width space)
    assert safe_snippet(seeded.text["bucha"], 140) in await row.inner_text()
    await page.goto(live_server + f"/incidents/{seeded.ids['bucha']}")
    text = await page.inner_text("#snapshot")
    assert "<script>alert(1)</script>" in text and "@everyone" in text
    assert await page.locator("#snapshot script").count() == 0
    assert await page.locator("script").count() == 1  # only /static/app.js
    watch.assert_clean()  # no alert() dialog, no CSP violation


async def test_unauthenticated_and_forged_posts_are_refused(browser, live_server, seeded, bot_app):
    page, watch = await new_page(browser)
    iid = seeded.ids["nato"]
    resp = await page.request.get(live_server + f"/incidents/{iid}", max_redirects=0)
    assert resp.status == 302 and resp.headers["location"].startswith("/login")
    await page.goto(live_server + f"/incidents/{iid}")
    assert "/login?next=" in page.url and await page.locator("input[name=password]").count() == 1

    await log_in(page, live_server, "alice", f"/incidents/{iid}")
    # a same-origin script posting without the CSRF token (session cookie is sent) is refused
    status = await page.evaluate(
        """async (url) => (await fetch(url, {method: 'POST', body: new URLSearchParams({verdict: 'dismissed'})})).status""",
        f"/incidents/{iid}/resolve")
    assert status == 403
    assert (await bot_app.service.incidents.get_incident(iid)).status is IncidentStatus.OPEN
    watch.errors = [e for e in watch.errors if "403" not in e]  # the refused fetch logs a console error
    watch.assert_clean()


async def test_moderator_of_one_server_cannot_see_another(browser, live_server, seeded):
    page, watch = await new_page(browser)
    await log_in(page, live_server, "bob")  # discord:guild-2 only
    await page.goto(live_server + "/incidents")
    body = await page.inner_text("table.queue")
    assert safe_snippet(seeded.text["zelensky"], 140) in body
    assert all(safe_snippet(seeded.text[k], 140) not in body
               for k in ("nato", "nato_issue", "bucha", "biolabs", "nazi", "formula"))
    assert await page.locator("table.queue tbody tr").count() == 1
    resp = await page.goto(live_server + f"/incidents/{seeded.ids['nato']}")
    assert resp.status == 404
    assert "No such incident" in await page.inner_text("main")
    watch.errors = [e for e in watch.errors if "404" not in e]
    watch.assert_clean()


async def test_bulk_resolve_with_select_all(browser, live_server, seeded, bot_app):
    page, watch = await new_page(browser)
    await log_in(page, live_server, "carol")  # discord:guild-1
    await page.goto(live_server + "/incidents?channel=news")
    n = await page.locator("table.queue tbody tr").count()
    assert n == 3  # nato_issue, bucha, formula
    assert await page.is_disabled("#bulk-submit")  # the script runs (CSP allows 'self')
    await page.check("#select-all")
    assert await page.inner_text("#selected-count") == f"Selected incidents: {n}"
    await page.select_option("select[name=verdict]", "dismissed")
    async with page.expect_navigation():
        await page.click("#bulk-submit")
    assert f"Marked {n} incidents as dismissed." in await page.inner_text("p.notice")
    assert "channel=news" in page.url
    for name in ("nato_issue", "bucha", "formula"):
        assert (await bot_app.service.incidents.get_incident(seeded.ids[name])).status is IncidentStatus.DISMISSED
    watch.assert_clean()


async def test_stale_verdict_page_shows_the_colleagues_verdict_and_replaces_it_only_when_asked(
        browser, live_server, seeded, bot_app):
    iid = seeded.ids["nato_issue"]
    # carol opens the incident on her phone; alice confirms it meanwhile on her desktop
    phone = await (await browser.new_context(viewport={"width": 390, "height": 844})).new_page()
    watch = Watch(phone)
    await log_in(phone, live_server, "carol", f"/incidents/{iid}")
    desk, _ = await new_page(browser)
    await log_in(desk, live_server, "alice", f"/incidents/{iid}")
    await desk.check("input[name=verdict][value=confirmed]")
    async with desk.expect_navigation():
        await desk.click("form.resolve button[type=submit]")

    await phone.check("input[name=verdict][value=false_positive]")
    await phone.fill("textarea[name=note]", "quoting it to mock it")
    async with phone.expect_navigation():
        await phone.click("form.resolve button[type=submit]")
    box = await phone.inner_text("#conflict")
    assert "Your verdict was not saved." in box and "alice" in box and "confirmed" in box
    assert "quoting it to mock it" in box
    await phone.screenshot(path=str(ARTIFACTS / "dashboard-phone-conflict-screen.png"))
    assert (await bot_app.service.incidents.get_incident(iid)).reviewer == "alice"

    async with phone.expect_navigation():
        await phone.click("form.overwrite button[type=submit]")
    inc = await bot_app.service.incidents.get_incident(iid)
    assert (inc.status, inc.reviewer, inc.note) == (IncidentStatus.FALSE_POSITIVE, "carol", "quoting it to mock it")
    assert "replaced alice's confirmed" in await phone.inner_text("body")
    watch.errors = [e for e in watch.errors if "409" not in e]  # the conflict page's status
    watch.assert_clean()
