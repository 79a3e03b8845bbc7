"""Every dashboard page on a phone (issue #14, point 16): at 390 px wide nothing overflows sideways, the nav
wraps, the queue's message column is readable and the per-day chart's labels keep a readable size. The same pages
at 1280 px for comparison. Screenshots go to artifacts/ (dashboard-phone-*.png, dashboard-desktop-*.png) for a
human to look at."""

from __future__ import annotations

import pytest

from dashboard_helpers import ARTIFACTS, log_in, seed_history

pytestmark = pytest.mark.browser

OVERFLOW = "() => [document.documentElement.scrollWidth, window.innerWidth]"


def pages(seeded) -> dict[str, str]:
    return {"overview": "/overview", "queue": "/incidents", "incident": f"/incidents/{seeded.ids['nato']}",
            "points": "/points", "point": "/points/nato-expansion-provoked", "exemplars": "/exemplars",
            "audit": "/audit", "empty-queue": "/incidents?until=2000-01-01"}


@pytest.mark.parametrize("width, name", [(390, "phone"), (1280, "desktop")])
async def test_every_page_fits_the_screen(browser, live_server, seeded, bot_app, width, name):
    await seed_history(bot_app)  # charts with two weeks of data
    ctx = await browser.new_context(viewport={"width": width, "height": 844 if width < 600 else 900})
    page = await ctx.new_page()
    ARTIFACTS.mkdir(exist_ok=True)
    await page.goto(live_server + "/login")
    await page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}-login.png"), full_page=True)
    scroll, inner = await page.evaluate(OVERFLOW)
    assert scroll <= inner, f"login: {scroll} px wide in a {inner} px window"
    await log_in(page, live_server, "alice")
    wide = {}
    for key, path in pages(seeded).items():
        await page.goto(live_server + path)
        await page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}-{key}.png"), full_page=True)
        await page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}-{key}-screen.png"))  # what one screen shows
        scroll, inner = await page.evaluate(OVERFLOW)
        if scroll > inner:
            wide[key] = scroll
        # the nav wraps inside the window: no link ends beyond its right edge
        right = await page.evaluate("() => Math.max(...[...document.querySelectorAll('header.top a, header.top "
                                    "button')].map(e => e.getBoundingClientRect().right))")
        assert right <= inner, f"{key}: the header reaches {right} px in a {inner} px window"
    assert not wide, f"pages wider than the {width} px window: {wide}"


async def test_phone_queue_and_chart_stay_readable(browser, live_server, seeded, bot_app):
    await seed_history(bot_app)
    ctx = await browser.new_context(viewport={"width": 390, "height": 844})
    page = await ctx.new_page()
    await log_in(page, live_server, "alice")
    await page.goto(live_server + "/incidents")
    widths = await page.evaluate("() => [...document.querySelectorAll('table.queue td.msg')]"
                                 ".map(e => e.getBoundingClientRect().width)")
    assert widths and min(widths) >= 250, f"message column {min(widths):.0f} px wide"  # was 76 px
    await page.goto(live_server + "/overview")
    # the per-day chart a phone shows: its day labels are drawn at a readable size (were 3 px)
    heights = await page.evaluate(
        "() => [...document.querySelectorAll('figure.chart.daily')].filter(f => f.offsetParent !== null)"
        ".flatMap(f => [...f.querySelectorAll('text')]).map(t => t.getBoundingClientRect().height)")
    assert heights and min(heights) >= 9, f"chart labels {min(heights):.1f} px high"
