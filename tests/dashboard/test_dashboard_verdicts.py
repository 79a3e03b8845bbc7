"""Verdict conflicts (issue #14, point 17): a moderator on a stale page must not silently overwrite a
colleague's verdict (and retire the exemplar it taught). The page says who resolved it and when, and replaces
it only when asked."""

from __future__ import annotations

import html as htmllib
import json
import re

from bot.core.models import IncidentStatus

from dashboard_helpers import csrf_of, login


def versions(page: str) -> dict[str, str]:
    """The verdict versions a page's forms carry: ``version`` (incident page) or ``version-<id>`` (queue)."""
    return {k: htmllib.unescape(v) for k, v in re.findall(r'name="(version(?:-\d+)?)" value="([^"]*)"', page)}


async def page(client, path: str) -> str:
    resp = await client.get(path)
    assert resp.status == 200, path
    return await resp.text()


async def as_user(client, user: str) -> None:
    client.session.cookie_jar.clear()
    await login(client, user)


async def active_exemplars(db, incident_id: int) -> list[tuple[int, str]]:
    async with db.execute("SELECT positive, created_by FROM server_exemplars WHERE incident_id = ? AND active = 1",
                          (incident_id,)) as cur:
        return [tuple(r) for r in await cur.fetchall()]


async def test_a_stale_page_does_not_overwrite_a_colleagues_verdict(client, seeded, bot_app):
    iid = seeded.ids["nato"]
    await as_user(client, "carol")
    stale = await page(client, f"/incidents/{iid}")  # carol opens the incident while it is open ...
    carol_csrf, carol_version = csrf_of(stale), versions(stale)["version"]
    cookies = client.session.cookie_jar.filter_cookies(client.make_url("/"))

    await as_user(client, "alice")  # ... alice confirms it meanwhile
    fresh = await page(client, f"/incidents/{iid}")
    resp = await client.post(f"/incidents/{iid}/resolve", data={
        "csrf": csrf_of(fresh), "version": versions(fresh)["version"], "verdict": "confirmed", "note": "clear case"},
        allow_redirects=False)
    assert resp.status == 303
    assert await active_exemplars(bot_app.db, iid) == [(1, "alice")]
    alice_at = (await bot_app.service.incidents.get_incident(iid)).resolved_at

    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({k: v.value for k, v in cookies.items()})
    resp = await client.post(f"/incidents/{iid}/resolve", data={
        "csrf": carol_csrf, "version": carol_version, "verdict": "false_positive", "note": "sarcasm"},
        allow_redirects=False)
    assert resp.status == 409
    conflict = await resp.text()
    assert "Your verdict was not saved." in conflict
    assert "<strong>alice</strong> marked it as" in conflict and alice_at.strftime("%Y-%m-%d %H:%M UTC") in conflict
    assert "clear case" in conflict and "sarcasm" in conflict  # both notes, so nothing typed is lost
    inc = await bot_app.service.incidents.get_incident(iid)
    assert (inc.status, inc.reviewer, inc.note) == (IncidentStatus.CONFIRMED, "alice", "clear case")
    assert await active_exemplars(bot_app.db, iid) == [(1, "alice")]  # what alice taught stays

    # carol asks to replace it: the conflict page's form carries the version she has now seen
    overwrite = re.search(r'<form method="post" action="/incidents/\d+/resolve" class="overwrite">(.*?)</form>',
                          conflict, re.S).group(1)
    fields = {k: htmllib.unescape(v) for k, v in re.findall(r'name="(\w+)" value="([^"]*)"', overwrite)}
    assert fields["verdict"] == "false_positive" and fields["note"] == "sarcasm"
    resp = await client.post(f"/incidents/{iid}/resolve", data=fields, allow_redirects=False)
    assert resp.status == 303
    inc = await bot_app.service.incidents.get_incident(iid)
    assert (inc.status, inc.reviewer) == (IncidentStatus.FALSE_POSITIVE, "carol")
    assert await active_exemplars(bot_app.db, iid) == [(0, "carol")]
    async with bot_app.db.execute("SELECT detail FROM dashboard_audit WHERE action = 'resolve' ORDER BY id") as cur:
        details = [json.loads(r[0]) for r in await cur.fetchall()]
    assert "replaced" not in details[0]
    assert details[1]["replaced"]["reviewer"] == "alice" and details[1]["replaced"]["status"] == "confirmed"
    assert "replaced alice's confirmed" in await page(client, f"/incidents/{iid}")


async def test_a_form_without_a_version_counts_as_filled_in_for_an_open_incident(client, seeded, bot_app):
    iid = seeded.ids["bucha"]
    await bot_app.service.resolve(iid, IncidentStatus.CONFIRMED, "discord:mod-7")  # a verdict from Discord
    await as_user(client, "alice")
    token = csrf_of(await page(client, "/incidents"))
    resp = await client.post(f"/incidents/{iid}/resolve", data={"csrf": token, "verdict": "dismissed"})
    assert resp.status == 409 and "discord:mod-7" in await resp.text()
    assert (await bot_app.service.incidents.get_incident(iid)).status is IncidentStatus.CONFIRMED


async def test_changing_ones_own_verdict_from_an_older_tab_is_not_a_conflict(client, seeded, bot_app):
    iid = seeded.ids["biolabs"]
    await as_user(client, "carol")
    first = await page(client, f"/incidents/{iid}")
    for verdict in ("confirmed", "dismissed"):  # the second post comes from the same, now stale, page
        resp = await client.post(f"/incidents/{iid}/resolve", data={
            "csrf": csrf_of(first), "version": versions(first)["version"], "verdict": verdict},
            allow_redirects=False)
        assert resp.status == 303
    assert (await bot_app.service.incidents.get_incident(iid)).status is IncidentStatus.DISMISSED


async def test_bulk_verdict_skips_incidents_judged_meanwhile_and_says_by_whom(client, seeded, bot_app):
    bucha, biolabs = seeded.ids["bucha"], seeded.ids["biolabs"]
    await as_user(client, "carol")
    queue = await page(client, "/incidents")
    v = versions(queue)
    assert {f"version-{bucha}", f"version-{biolabs}"} <= set(v)
    await bot_app.service.resolve(bucha, IncidentStatus.CONFIRMED, "alice")  # meanwhile
    resp = await client.post("/incidents/bulk", data={
        "csrf": csrf_of(queue), "verdict": "dismissed", "ids": [str(bucha), str(biolabs)],
        f"version-{bucha}": v[f"version-{bucha}"], f"version-{biolabs}": v[f"version-{biolabs}"]})
    assert resp.status == 200
    text = await resp.text()
    assert "Marked 1 incident as dismissed." in text
    assert "Not changed:" in text and f'href="/incidents/{bucha}">#{bucha}</a>' in text
    assert "by <strong>alice</strong>" in text
    assert (await bot_app.service.incidents.get_incident(bucha)).status is IncidentStatus.CONFIRMED
    assert (await bot_app.service.incidents.get_incident(biolabs)).status is IncidentStatus.DISMISSED
