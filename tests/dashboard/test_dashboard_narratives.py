"""``/narratives`` (issue 16.3): emerging narratives for pack authors - clusters growing across servers, a cluster's
messages, and a draft talking point downloaded as pack YAML (nothing goes live). Scoped like the other pages."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
import yaml

from bot.core.packs import PackError, load_pack
from bot.core.ports import NewNarrativeMember
from bot.narratives_cli import validate_draft
from bot.storage.narratives import SqliteNarrativeRepository

from dashboard_helpers import csrf_of, login

NOW = datetime.now(timezone.utc)
HOSTILE = "<script>alert(1)</script> **Kramatorsk** [click](javascript:alert(2)) @everyone"
SPREAD = [  # (server, text, lang): one claim in guild-1 and guild-2
    ("guild-1", "Ukrainian troops shelled the Kramatorsk station themselves to blame Russia.", "en"),
    ("guild-1", "Kramatorsk station was hit by the Ukrainian army itself. " + HOSTILE, "en"),
    ("guild-2", "Украинские войска сами обстреляли вокзал Краматорска, чтобы обвинить Россию.", "ru"),
    ("guild-2", "The Kramatorsk strike was staged by Kyiv to frame Moscow.", "en"),
]


def unit(*xs: float) -> np.ndarray:
    v = np.asarray(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


async def grow(repo, centre, rows, *, at=NOW, prefix="m") -> tuple[int, list[int]]:
    cid = await repo.create_cluster(centre)
    ids = []
    for i, (server, text, lang) in enumerate(rows):
        ids.append(await repo.add_member(NewNarrativeMember(
            cid, "discord", server, "general", f"{prefix}{cid}-{i}", f"user-{i}", lang, text, 0.95 - i / 100, 0.9,
            at - timedelta(minutes=len(rows) - i)), centre))
    return cid, ids


@pytest.fixture
async def seeded_narratives(bot_app):
    repo = SqliteNarrativeRepository(bot_app.db)
    spread, spread_ids = await grow(repo, unit(1, 0, 0), SPREAD)
    local, _ = await grow(repo, unit(0, 1, 0), [("guild-1", f"Local rumour number {i} about the mayor.", "en")
                                                for i in range(5)])
    theirs, theirs_ids = await grow(repo, unit(0, 0, 1), [("guild-2", "Only guild-2 says the dam was mined by NATO.",
                                                           "en")])
    old, _ = await grow(repo, unit(1, 1, 0), [("guild-1", "An old claim from ten days ago.", "en"),
                                              ("guild-2", "The same old claim, ten days ago.", "en")],
                        at=NOW - timedelta(days=10))
    return {"spread": spread, "spread_ids": spread_ids, "local": local, "theirs": theirs, "theirs_ids": theirs_ids,
            "old": old, "repo": repo}


def order_of(page: str, ids: list[int]) -> list[int]:
    found = [(page.find(f'id="narrative-{i}"'), i) for i in ids]
    return [i for pos, i in sorted(found) if pos >= 0]


async def test_clusters_growing_across_servers_come_first_with_escaped_representatives(client, seeded_narratives):
    n = seeded_narratives
    await login(client, "alice")  # every server
    resp = await client.get("/narratives")
    page = await resp.text()
    assert resp.status == 200
    assert 'href="/narratives" aria-current="page"' in page  # in the nav
    # a single message is not a narrative yet: "theirs" (one message) shows with min_members=1 only
    assert order_of(page, [n["spread"], n["local"], n["theirs"], n["old"]]) == [n["spread"], n["local"]]
    section = page[page.index(f'id="narrative-{n["spread"]}"'):page.index(f'id="narrative-{n["local"]}"')]
    assert "<strong>2</strong> servers" in section and "discord:guild-1 (2)" in section and "discord:guild-2 (2)" in section
    assert section.count("<li class=\"msg\">") == 3  # three representatives, nearest the centre first
    assert SPREAD[0][1] in section and SPREAD[2][1] in section
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in section and "<script>alert(1)" not in page
    assert "@\u200beveryone" in section and "@everyone" not in section  # mentions neutralised as everywhere
    assert "nothing goes live without a person" in page


@pytest.mark.parametrize("query, shown, hidden", [
    ("days=7", ["spread", "local"], ["old", "theirs"]),
    ("days=7&min_members=1", ["spread", "local", "theirs"], ["old"]),
    ("days=7&min_members=5", ["local"], ["spread", "theirs", "old"]),
    ("days=30", ["old", "spread"], []),
    ("days=1&min_servers=2", ["spread"], ["local", "theirs", "old"]),
    ("days=30&min_servers=2", ["spread", "old"], ["local", "theirs"]),
    ("days=999&min_servers=x", ["spread"], ["old"]),  # unknown values fall back to 7 days, 1 server
])
async def test_the_growth_window_and_server_count_are_selectable(client, seeded_narratives, query, shown, hidden):
    n = seeded_narratives
    await login(client, "alice")
    page = await (await client.get(f"/narratives?{query}")).text()
    for name in shown:
        assert f'id="narrative-{n[name]}"' in page, name
    for name in hidden:
        assert f'id="narrative-{n[name]}"' not in page, name


async def test_a_moderator_sees_texts_of_their_own_servers_only(client, seeded_narratives):
    n = seeded_narratives
    await login(client, "carol")  # discord:guild-1 only
    page = await (await client.get("/narratives")).text()
    assert f'id="narrative-{n["spread"]}"' in page and f'id="narrative-{n["theirs"]}"' not in page
    assert SPREAD[0][1] in page and SPREAD[2][1] not in page and SPREAD[3][1] not in page
    assert "guild-2" not in page and "+ 1 other server (2)" in page  # counted, not named
    detail = await (await client.get(f"/narratives/{n['spread']}")).text()
    assert SPREAD[0][1] in detail and SPREAD[2][1] not in detail and "guild-2" not in detail
    assert (await client.get(f"/narratives/{n['theirs']}")).status == 404
    denied = await client.post(f"/narratives/{n['theirs']}/draft", data={
        "csrf": csrf_of(detail), "claim": "x", "claim_id": "x", "exemplar": str(n["theirs_ids"][0])})
    assert denied.status == 404
    # a member of another server cannot be smuggled into a draft of a shared cluster
    resp = await client.post(f"/narratives/{n['spread']}/draft", data={
        "csrf": csrf_of(detail), "claim": "Kyiv staged Kramatorsk.", "claim_id": "kramatorsk",
        "exemplar": str(n["spread_ids"][2])})
    assert resp.status == 400 and "Pick at least one message" in await resp.text()


async def test_the_detail_page_lists_members_and_marks_purged_text(client, seeded_narratives, bot_app):
    n = seeded_narratives
    await bot_app.db.execute("UPDATE narrative_members SET content = NULL WHERE id = ?", (n["spread_ids"][3],))
    await bot_app.db.commit()
    await login(client, "alice")
    resp = await client.get(f"/narratives/{n['spread']}")
    page = await resp.text()
    assert resp.status == 200
    for server, text, lang in SPREAD[:3]:
        assert (text if "<" not in text else "&lt;script&gt;") in page
    assert "(text removed by retention)" in page
    ticked = page.count('name="exemplar"')
    assert ticked == 3 and page.count("checked>") == 3  # purged members cannot be picked; the representatives are
    assert "Nothing goes live from here." in page and (await client.get("/narratives/999999")).status == 404


async def test_the_draft_downloads_as_a_pack_the_loader_reads_as_a_draft(client, seeded_narratives, bot_app, tmp_path):
    n = seeded_narratives
    await login(client, "alice")
    page = await (await client.get(f"/narratives/{n['spread']}")).text()
    picked = n["spread_ids"][:3]
    resp = await client.post(f"/narratives/{n['spread']}/draft", data=[
        ("csrf", csrf_of(page)), ("claim", "Ukraine shelled the Kramatorsk station itself to blame Russia."),
        ("claim_id", "Kramatorsk self-shelling"), ("title", "Kramatorsk: who fired?"),
        *[("exemplar", str(i)) for i in picked]])
    text = await resp.text()
    assert resp.status == 200, text
    assert resp.headers["Content-Disposition"] == 'attachment; filename="kramatorsk-self-shelling.draft.yaml"'
    assert text.startswith("# contextbot: DRAFT") and "Nothing is live" in text
    data = yaml.safe_load(text)
    point = data["talking_points"][0]
    assert point["id"] == "kramatorsk-self-shelling" and point["draft"]
    assert point["claim"] == "Ukraine shelled the Kramatorsk station itself to blame Russia."
    assert point["cards"]["en"]["title"] == "Kramatorsk: who fired?"
    assert [(e["text"], e["lang"]) for e in point["exemplars"]["assert"]] == [(t, lang) for _, t, lang in SPREAD[:3]]
    assert validate_draft(text) == []  # only the gaps a draft is meant to have
    path = tmp_path / "draft.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PackError) as refused:  # the loader will not load a draft: nothing goes live
        load_pack(path)
    assert any("draft: " in e for e in refused.value.errors)
    audit = await (await client.get("/audit")).text()
    assert "export narrative draft" in audit and "talking_point=kramatorsk-self-shelling" in audit


@pytest.mark.parametrize("claim, claim_id, pick, lang, message", [
    ("", "x-claim", True, "en", "Write the claim"),
    ("A" * 301, "x-claim", True, "en", "at most 300"),
    ("Kyiv staged it.", "", True, "en", "Give the talking point an id"),
    ("Kyiv staged it.", "---", True, "en", "Give the talking point an id"),
    ("Kyiv staged it.", "x-claim", False, "en", "Pick at least one message"),
    ("Kyiv staged it.", "x-claim", True, "xx-bogus", "Pack check: "),  # the real pack loader's verdict
])
async def test_an_invalid_draft_is_not_exported_and_the_problem_is_shown(client, bot_app, claim, claim_id, pick,
                                                                          lang, message):
    repo = SqliteNarrativeRepository(bot_app.db)
    cid, ids = await grow(repo, unit(1, 0, 0), [("guild-1", "Kyiv staged <b>the</b> strike.", lang)])
    await login(client, "alice")
    page = await (await client.get(f"/narratives/{cid}")).text()
    data = [("csrf", csrf_of(page)), ("claim", claim), ("claim_id", claim_id)]
    if pick:
        data.append(("exemplar", str(ids[0])))
    resp = await client.post(f"/narratives/{cid}/draft", data=data)
    body = await resp.text()
    assert resp.status == 400 and resp.headers["Content-Type"].startswith("text/html")
    assert 'role="alert"' in body and message in body
    assert "&lt;b&gt;the&lt;/b&gt;" in body and "<b>the</b>" not in body
    if claim:
        assert f">{claim}</textarea>" in body  # what the author typed is kept


@pytest.mark.parametrize("method, path, expect", [
    ("get", "/narratives", 302),
    ("get", "/narratives/1", 302),
    ("post", "/narratives/1/draft", 403),  # no session: no CSRF token
])
async def test_login_is_required(client, method, path, expect):
    resp = await getattr(client, method)(path, allow_redirects=False)
    assert resp.status == expect
    if expect == 302:
        assert resp.headers["Location"].startswith("/login")


async def test_the_page_says_when_clustering_is_switched_off(client, bot_app):
    bot_app.service.narratives = None  # as build_app leaves it with [narratives] enabled = false
    await login(client, "alice")
    page = await (await client.get("/narratives")).text()
    assert "Clustering is switched off" in page and "No emerging narratives" in page


@pytest.mark.browser
@pytest.mark.parametrize("width", [390, 1280])
async def test_the_narrative_pages_fit_a_phone_and_the_draft_downloads(browser, live_server, seeded_narratives,
                                                                       width):
    from dashboard_helpers import ARTIFACTS, log_in

    n = seeded_narratives
    ctx = await browser.new_context(viewport={"width": width, "height": 844}, accept_downloads=True)
    page = await ctx.new_page()
    await log_in(page, live_server, "alice", "/narratives")
    ARTIFACTS.mkdir(exist_ok=True)
    for key, path in {"narratives": "/narratives", "narrative": f"/narratives/{n['spread']}"}.items():
        await page.goto(live_server + path)
        await page.screenshot(path=str(ARTIFACTS / f"dashboard-{width}-{key}.png"), full_page=True)
        scroll, inner = await page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner, f"{key}: {scroll} px wide in a {inner} px window"
    assert await page.evaluate("() => document.querySelectorAll('script:not([src])').length") == 0  # nothing injected
    async with page.expect_download() as info:
        await page.click("form.draft button[type=submit]")
    download = await info.value
    assert download.suggested_filename.endswith(".draft.yaml")
    text = open(await download.path(), encoding="utf-8").read()
    assert yaml.safe_load(text)["talking_points"][0]["draft"] and validate_draft(text) == []


async def test_messages_handled_by_the_bot_show_up_as_a_cluster_across_servers(client, bot_app):
    """End to end: the real service and detector cluster a claim no pack covers, posted in two servers."""
    from dashboard_helpers import message

    claim = [("guild-1", "Ukrainian troops shelled the Kramatorsk train station themselves to blame Russia."),
             ("guild-2", "The Kramatorsk train station strike was carried out by Ukrainian troops to frame Russia."),
             ("guild-1", "Ukrainian forces hit the Kramatorsk station with their own missile to blame Russia."),
             ("guild-2", "Kramatorsk station was shelled by the Ukrainian army itself, a staged attack to blame Russia.")]
    for i, (server, text) in enumerate(claim):
        out = await bot_app.service.handle_message(message(server, "general", text, f"e2e-{i}", f"e2e-user-{i}"))
        assert out.incident is None  # no talking point covers it
    await login(client, "alice")
    page = await (await client.get("/narratives?min_servers=2")).text()
    assert "discord:guild-1" in page and "discord:guild-2" in page
    assert sum(text in page for _, text in claim) >= 2  # representatives from the cluster
