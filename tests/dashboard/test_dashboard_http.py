"""The dashboard over HTTP (aiohttp test client) against a database filled through the real IncidentService and
the real Detector: auth, sessions, CSRF, headers, rate limiting, access scope, actions, learning, export."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
import yaml

from bot.core.detector import Detector
from bot.core.models import Action, IncidentStatus
from bot.core.ports import IncidentFilter
from bot.config import DetectorConfig
from bot.dashboard import restore_learning
from bot.dashboard.app import create_app
from bot.dashboard.web import COOKIE

from markupsafe import escape

from bot.core.sanitize import safe_snippet

from dashboard_helpers import csrf_of, login, message, page_csrf


async def rows(db, sql, params=()):
    async with db.execute(sql, params) as cur:
        return [dict(r) for r in await cur.fetchall()]


# ------------------------------------------------------------------------------------------ seeding sanity


async def test_seed_went_through_the_real_service(seeded):
    o = seeded.outcomes
    assert o["nato"].decision.action is Action.REPLY and o["nato"].card is not None, o["nato"].decision
    assert o["nato_issue"].incident is not None  # the issue's sentence: an incident (reply or review)
    assert o["bucha"].incident is not None and o["bucha"].card is None  # review-mode channel
    assert o["zelensky"].incident is not None
    assert o["question"].incident is None and o["chatter"].incident is None


# ------------------------------------------------------------------------------------------ auth


@pytest.mark.parametrize("path", ["/overview", "/incidents", "/incidents/1", "/points", "/exemplars",
                                  "/incidents/export.csv", "/audit"])
async def test_unauthenticated_requests_are_redirected_to_login(client, path):
    resp = await client.get(path, allow_redirects=False)
    assert resp.status == 302
    assert resp.headers["Location"].startswith("/login?next=")


async def test_unauthenticated_post_is_refused(client, seeded):
    token = csrf_of(await (await client.get("/login")).text())  # an anonymous session's token
    resp = await client.post(f"/incidents/{seeded.ids['nato']}/resolve", data={"csrf": token, "verdict": "dismissed"},
                             allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/login"


async def test_login_cookie_attributes_and_logout(client):
    resp = await login(client, "alice")
    assert resp.headers["Location"] == "/overview"
    set_cookie = resp.headers["Set-Cookie"]
    assert set_cookie.startswith(COOKIE + "=")
    for attr in ("HttpOnly", "SameSite=Strict", "Max-Age=", "Path=/"):
        assert attr.lower() in set_cookie.lower(), set_cookie
    assert (await client.get("/overview")).status == 200
    old_cookie = client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE].value

    token = await page_csrf(client, "/overview")
    resp = await client.post("/logout", data={"csrf": token}, allow_redirects=False)
    assert resp.status == 303
    assert (await client.get("/overview", allow_redirects=False)).status == 302
    # replaying the old (still correctly signed) cookie does not work: the session was revoked
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({COOKIE: old_cookie})
    assert (await client.get("/overview", allow_redirects=False)).status == 302


async def test_wrong_password_and_unknown_user(client, bot_app):
    resp = await login(client, "alice", "nope", expect=401)
    assert "Unknown username or wrong password." in await resp.text()
    resp = await login(client, "mallory", "whatever", expect=401)
    audit = await rows(bot_app.db, "SELECT actor, action FROM dashboard_audit ORDER BY id")
    assert audit == [{"actor": "alice", "action": "login_failed"}, {"actor": "mallory", "action": "login_failed"}]


async def test_tampered_cookie_is_ignored(client):
    await login(client, "bob")
    jar = client.session.cookie_jar
    value = jar.filter_cookies(client.make_url("/"))[COOKIE].value
    body, mac = value.rsplit(".", 1)
    import base64

    data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    data["u"] = "alice"  # try to become the admin
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    jar.clear()
    jar.update_cookies({COOKIE: forged + "." + mac})
    assert (await client.get("/audit", allow_redirects=False)).status == 302


async def test_failed_logins_are_rate_limited_per_account_and_address(client, bot_app):
    for _ in range(5):
        await login(client, "carol", "wrong", expect=401)
    resp = await login(client, "carol", expect=429)  # even the right password is refused now
    text = await resp.text()
    assert "Too many failed logins" in text and "Try again in 15 minutes" in text
    audit = await rows(bot_app.db, "SELECT action FROM dashboard_audit WHERE actor = 'carol'")
    assert [a["action"] for a in audit] == ["login_failed"] * 5  # blocked attempts are logged, not audited


async def test_failed_logins_of_other_names_do_not_lock_out_the_address(client):
    for i in range(5):
        await login(client, f"nobody{i}", "wrong", expect=401)
    await login(client, "alice")  # same client address, another account (issue #14, point 19)


# ------------------------------------------------------------------------------------------ CSRF / headers


async def test_post_without_or_with_wrong_csrf_token_is_403(client, seeded, bot_app):
    await login(client, "alice")
    iid = seeded.ids["nato"]
    resp = await client.post(f"/incidents/{iid}/resolve", data={"verdict": "false_positive"}, allow_redirects=False)
    assert resp.status == 403
    assert "security token" in await resp.text()
    resp = await client.post(f"/incidents/{iid}/resolve", data={"verdict": "false_positive", "csrf": "x" * 43})
    assert resp.status == 403
    assert (await client.post("/logout", data={})).status == 403
    assert (await bot_app.service.incidents.get_incident(iid)).status is IncidentStatus.OPEN
    # the login form needs its pre-session token too
    resp = await client.post("/login", data={"username": "alice", "password": "x"}, allow_redirects=False)
    assert resp.status == 403


async def test_csrf_token_of_another_session_is_refused(client, bot_app, seeded):
    await login(client, "alice")
    token_a = await page_csrf(client)
    await client.post("/logout", data={"csrf": token_a})
    await login(client, "alice")
    resp = await client.post(f"/incidents/{seeded.ids['nato']}/resolve",
                             data={"csrf": token_a, "verdict": "dismissed"}, allow_redirects=False)
    assert resp.status == 403


@pytest.mark.parametrize("path", ["/login", "/static/style.css", "/no-such-page"])
async def test_security_headers(client, path):
    resp = await client.get(path)
    h = resp.headers
    csp = h["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert h["X-Frame-Options"] == "DENY"
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["Referrer-Policy"] == "no-referrer"


async def test_pages_have_no_inline_script_or_style(client, seeded):
    await login(client, "alice")
    for path in ("/overview", "/incidents", f"/incidents/{seeded.ids['nato']}", "/points",
                 "/points/nato-expansion-provoked", "/exemplars", "/audit"):
        resp = await client.get(path)
        html = await resp.text()
        assert resp.status == 200, path
        assert resp.headers["Cache-Control"] == "no-store"
        assert "<script>" not in html.replace("&lt;script&gt;", "")  # only <script src=...>
        assert " style=" not in html and "<style" not in html and " onclick=" not in html


# ------------------------------------------------------------------------------------------ pages


async def test_overview_renders_svg_charts(client):
    await login(client, "alice")
    html = await (await client.get("/overview")).text()
    assert html.count("<svg") >= 4
    assert "Incidents per day" in html and "Detector decision" in html and "Verdicts" in html
    assert "Card feedback" in html and "helpful: 1 (50%)" in html  # one helpful and one not-relevant vote
    assert "nato-expansion-provoked" in html


async def test_queue_filters_sorting_and_paging(client, seeded, bot_app):
    await login(client, "alice")
    html = await (await client.get("/incidents")).text()
    for name in ("nato", "bucha", "zelensky", "nazi"):
        assert f'href="/incidents/{seeded.ids[name]}"' in html
    html = await (await client.get("/incidents?tp=bucha-staged")).text()
    assert f'href="/incidents/{seeded.ids["bucha"]}"' in html and f'href="/incidents/{seeded.ids["nato"]}"' not in html
    html = await (await client.get("/incidents?platform=matrix")).text()
    assert f'href="/incidents/{seeded.ids["nazi"]}"' in html and f'href="/incidents/{seeded.ids["nato"]}"' not in html
    html = await (await client.get("/incidents?server=discord:guild-1&channel=news")).text()
    assert f'href="/incidents/{seeded.ids["bucha"]}"' in html and f'href="/incidents/{seeded.ids["nato"]}"' not in html
    html = await (await client.get("/incidents?until=2000-01-01")).text()
    assert "No incidents match." in html
    html = await (await client.get("/incidents?status=confirmed&stance=assert")).text()
    assert "No incidents match." in html
    html = await (await client.get("/incidents?stance=bogus")).text()
    assert "Filter ignored: unknown stance" in html
    # sort by score: the first row is the highest score
    best = max(await bot_app.service.incidents.list_incidents(IncidentFilter(), limit=100), key=lambda i: i.score)
    html = await (await client.get("/incidents?sort=score")).text()
    first_row = html.split('name="ids" value="', 1)[1].split('"', 1)[0]
    assert int(first_row) == best.id
    # paging
    html = await (await client.get("/incidents?per=25")).text()
    assert "page 1 of" not in html  # fewer than 25
    n = len(seeded.ids)
    html = await (await client.get("/incidents?per=25&page=9")).text()
    assert f"of {n} incidents" in html  # page clamped to the last page


async def test_incident_detail_shows_snapshot_card_scores_and_prior(client, seeded, bot_app):
    # a second message by the same author on the same point -> "earlier incidents" on the later one
    later = message("guild-1", "news", seeded.text["nato"] + " Again.", "m-nato-2", "user-alice")
    outcome = await bot_app.service.handle_message(later)
    assert outcome.incident is not None
    await login(client, "alice")
    html = await (await client.get(f"/incidents/{outcome.incident.id}")).text()
    assert f'href="/incidents/{seeded.ids["nato"]}"' in html  # prior incident of this author on this point
    html = await (await client.get(f"/incidents/{seeded.ids['nato']}")).text()
    assert str(escape(seeded.text["nato"])) in html
    assert 'href="https://discord.com/channels/guild-1/general/m-nato"' in html
    assert "Did NATO expansion force Russia to invade Ukraine?" in html  # the card
    assert "(9 Jun 2022)" in html and "not shown" not in html  # source dates as members see them
    assert '<p class="small">Sources:</p>' in html  # the heading in the card's language (English here)
    assert "[3] Project on Defense Alternatives (Carl Conetta): " in html  # numbered as the footnotes cite them
    assert "[3]</li>" in html  # a key fact ends with its footnote (Conetta is source 3)
    assert "NATO: Bucharest Summit Declaration (3 Apr 2008) (URL not confirmed)" in html  # named, no guessed link
    assert "Posted " in html and "1 helpful, 1 not relevant" in html
    assert "Nearest exemplar" in html and "Stance probabilities" in html
    assert str(escape(seeded.outcomes["nato"].decision.explanation.reason)) in html
    html = await (await client.get(f"/incidents/{seeded.ids['bucha']}")).text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert "@everyone" in html


async def test_points_pages(client, seeded):
    await login(client, "alice")
    html = await (await client.get("/points")).text()
    assert "Did NATO expansion force Russia to invade Ukraine?" in html and "Reply precision" in html
    html = await (await client.get("/points/nato-expansion-provoked")).text()
    assert "Вынудило ли расширение НАТО Россию напасть на Украину?" in html  # ru card
    assert "https://euvsdisinfo.eu/report/nato-expands-eastwards-to-threaten-and-provoke-russia" in html
    assert "Cards last reviewed 2026-12-04." in html and "[5] NATO: Bucharest Summit Declaration" in html
    assert 'action="/points/nato-expansion-provoked/policy"' in html  # alice is an admin
    assert (await client.get("/points/no-such-point")).status == 404


# ------------------------------------------------------------------------------------------ access scope


async def test_moderator_sees_only_their_servers(client, seeded, bot_app):
    await login(client, "bob")  # discord:guild-2 only
    html = await (await client.get("/incidents")).text()
    assert f'href="/incidents/{seeded.ids["zelensky"]}"' in html
    for other in ("nato", "bucha", "nazi", "biolabs"):
        assert f'href="/incidents/{seeded.ids[other]}"' not in html
    assert str(escape(safe_snippet(seeded.text["zelensky"], 140))) in html  # the queue shows snippets
    for other in ("nato", "bucha", "nazi", "biolabs"):
        assert str(escape(safe_snippet(seeded.text[other], 140))) not in html
    html = await (await client.get("/incidents?server=discord:guild-1")).text()
    assert "No incidents match." in html
    nato = seeded.ids["nato"]
    assert (await client.get(f"/incidents/{nato}")).status == 404
    token = await page_csrf(client)
    resp = await client.post(f"/incidents/{nato}/resolve", data={"csrf": token, "verdict": "false_positive"})
    assert resp.status == 404
    resp = await client.post("/incidents/bulk", data={"csrf": token, "verdict": "dismissed",
                                                      "ids": [str(nato), str(seeded.ids["zelensky"])]})
    assert resp.status == 200 and "Marked 1 incident as dismissed. 1 could not be changed" in await resp.text()
    assert (await bot_app.service.incidents.get_incident(nato)).status is IncidentStatus.OPEN
    assert (await bot_app.service.incidents.get_incident(seeded.ids["zelensky"])).status is IncidentStatus.DISMISSED
    body = await (await client.get("/incidents/export.json")).text()
    assert [r["server_id"] for r in json.loads(body)] == ["guild-2"]
    html = await (await client.get("/overview")).text()
    assert "bucha-staged" not in html
    assert (await client.get("/audit")).status == 403  # not an admin
    html = await (await client.get("/points/nato-expansion-provoked")).text()
    assert "Only dashboard admins can change the policy." in html


# ------------------------------------------------------------------------------------------ actions


async def test_false_positive_teaches_the_detector(client, seeded, bot_app):
    NATO = seeded.text["nato"]
    det = bot_app.detector
    assert det.check(NATO, server_id="guild-1").action is Action.REPLY
    await login(client, "carol")  # a non-admin moderator of guild-1
    iid = seeded.ids["nato"]
    token = await page_csrf(client, f"/incidents/{iid}")
    resp = await client.post(f"/incidents/{iid}/resolve",
                             data={"csrf": token, "verdict": "false_positive", "note": "quoting to mock it"},
                             allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == f"/incidents/{iid}?saved=false_positive"
    inc = await bot_app.service.incidents.get_incident(iid)
    assert (inc.status, inc.reviewer, inc.note) == (IncidentStatus.FALSE_POSITIVE, "carol", "quoting to mock it")
    ex = await rows(bot_app.db, "SELECT * FROM server_exemplars")
    assert len(ex) == 1
    assert {k: ex[0][k] for k in ("platform", "server_id", "talking_point_id", "text", "positive", "incident_id",
                                  "created_by", "promoted", "active")} == {
        "platform": "discord", "server_id": "guild-1", "talking_point_id": "nato-expansion-provoked", "text": NATO,
        "positive": 0, "incident_id": iid, "created_by": "carol", "promoted": 0, "active": 1}
    assert ex[0]["created_at"].endswith("Z")
    audit = await rows(bot_app.db, "SELECT actor, action, incident_id, detail FROM dashboard_audit WHERE action = 'resolve'")
    assert audit[0]["actor"] == "carol" and audit[0]["incident_id"] == iid
    assert json.loads(audit[0]["detail"])["status"] == "false_positive"

    # the next identical message on that server is not replied to (and not an incident) ...
    again = await bot_app.service.handle_message(message("guild-1", "debate", NATO, "m-nato-again", "user-zed"))
    assert again.card is None and again.incident is None
    assert again.decision.action is Action.NONE and "false positive" in again.decision.explanation.reason
    # ... while another server still gets the card decision
    assert det.check(NATO, server_id="guild-2").action is Action.REPLY

    # changing the verdict retires the negative exemplar and stores a positive one
    resp = await client.post(f"/incidents/{iid}/resolve", data={"csrf": token, "verdict": "confirmed"})
    assert resp.status == 200
    ex = await rows(bot_app.db, "SELECT positive, active FROM server_exemplars ORDER BY id")
    assert ex == [{"positive": 0, "active": 0}, {"positive": 1, "active": 1}]


async def test_verdict_on_the_issue_sentence_silences_it(client, seeded, bot_app):
    NATO_ISSUE = seeded.text["nato_issue"]
    iid = seeded.ids["nato_issue"]
    await login(client, "alice")
    token = await page_csrf(client)
    await client.post(f"/incidents/{iid}/resolve", data={"csrf": token, "verdict": "false_positive"})
    o = await bot_app.service.handle_message(message("guild-1", "debate", NATO_ISSUE, "m-issue-2", "user-y"))
    assert o.incident is None and o.card is None and o.decision.action is Action.NONE


async def test_confirmed_and_bulk_resolve(client, seeded, bot_app):
    await login(client, "alice")
    token = await page_csrf(client)
    ids = [seeded.ids["bucha"], seeded.ids["biolabs"], seeded.ids["nazi"]]
    resp = await client.post("/incidents/bulk", data={"csrf": token, "verdict": "confirmed", "note": "bulk ok",
                                                      "ids": [str(i) for i in ids], "back": "tp=&sort=score&evil=1"},
                             allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == "/incidents?sort=score&resolved=3&verdict=confirmed&skipped=0"
    for i in ids:
        inc = await bot_app.service.incidents.get_incident(i)
        assert inc.status is IncidentStatus.CONFIRMED and inc.note == "bulk ok" and inc.reviewer == "alice"
    ex = await rows(bot_app.db, "SELECT incident_id, positive FROM server_exemplars ORDER BY incident_id")
    assert ex == [{"incident_id": i, "positive": 1} for i in sorted(ids)]
    audit = await rows(bot_app.db, "SELECT incident_id FROM dashboard_audit WHERE action = 'resolve'")
    assert sorted(a["incident_id"] for a in audit) == sorted(ids)
    html = await (await client.get(resp.headers["Location"])).text()
    assert "Marked 3 incidents as confirmed." in html
    # bad input
    assert (await client.post("/incidents/bulk", data={"csrf": token, "verdict": "confirmed"})).status == 400
    assert (await client.post("/incidents/bulk", data={"csrf": token, "verdict": "open", "ids": "1"})).status == 400


async def test_shadow_precision_per_point(client, seeded, bot_app):
    ZELENSKY = seeded.text["zelensky"]
    await login(client, "alice")
    token = await page_csrf(client)
    # two more reply decisions for zelensky on guild-2 (shadow: review-mode channel, no card)
    from bot.core.models import ChannelMode

    await bot_app.service.settings.set_channel_mode("discord", "guild-2", "quiet", ChannelMode.REVIEW)
    extra = []
    for n in range(2):
        o = await bot_app.service.handle_message(message("guild-2", "quiet", ZELENSKY, f"m-z{n}", f"user-z{n}"))
        assert o.incident is not None and o.incident.action is Action.REPLY and o.card is None
        extra.append(o.incident.id)
    verdicts = {seeded.ids["zelensky"]: "confirmed", extra[0]: "confirmed", extra[1]: "false_positive"}
    for iid, verdict in verdicts.items():
        await client.post(f"/incidents/{iid}/resolve", data={"csrf": token, "verdict": verdict})
    html = await (await client.get("/points/zelensky-illegitimate")).text()
    assert "<strong>67%</strong> <span class=\"muted\">(2/3)</span>" in html
    html = await (await client.get("/points")).text()
    assert "(2/3)" in html


async def test_admin_sets_review_only_and_threshold(client, seeded, bot_app):
    NATO = seeded.text["nato"]
    det = bot_app.detector
    await login(client, "carol")
    token = await page_csrf(client)
    resp = await client.post("/points/nato-expansion-provoked/policy",
                             data={"csrf": token, "scope": "discord:guild-1", "review_only": "1"})
    assert resp.status == 403  # carol is not an admin

    await client.post("/logout", data={"csrf": token})
    await login(client, "alice")
    token = await page_csrf(client)
    resp = await client.post("/points/nato-expansion-provoked/policy",
                             data={"csrf": token, "scope": "discord:guild-1", "review_only": "1", "op": "save"},
                             allow_redirects=False)
    assert resp.status == 303
    stored = await rows(bot_app.db, "SELECT platform, server_id, talking_point_id, reply_threshold, review_only,"
                                    " updated_by FROM point_policies")
    assert stored == [{"platform": "discord", "server_id": "guild-1", "talking_point_id": "nato-expansion-provoked",
                       "reply_threshold": None, "review_only": 1, "updated_by": "alice"}]
    o = await bot_app.service.handle_message(message("guild-1", "debate", NATO, "m-nato-p", "user-p"))
    assert o.decision.action is Action.REVIEW and o.card is None and o.incident is not None
    assert det.check(NATO, server_id="guild-2").action is Action.REPLY  # other servers unaffected

    # a global threshold of 1.0 stops replies everywhere else
    await client.post("/points/nato-expansion-provoked/policy",
                      data={"csrf": token, "scope": "*", "reply_threshold": "1", "op": "save"})
    assert det.check(NATO, server_id="guild-2").action is Action.REVIEW
    # clearing the guild-1 policy: the global one applies there too
    await client.post("/points/nato-expansion-provoked/policy",
                      data={"csrf": token, "scope": "discord:guild-1", "op": "clear"})
    assert det.point_policy("guild-1", "nato-expansion-provoked").reply_threshold == 1.0
    # validation
    resp = await client.post("/points/nato-expansion-provoked/policy",
                             data={"csrf": token, "scope": "*", "reply_threshold": "0.01"})
    assert resp.status == 400 and "Reply threshold must be between" in await resp.text()
    resp = await client.post("/points/nato-expansion-provoked/policy",
                             data={"csrf": token, "scope": "discord:nowhere", "review_only": "1"})
    assert resp.status == 200  # alice ("*") may set a policy for any server
    audit = await rows(bot_app.db, "SELECT action FROM dashboard_audit WHERE action LIKE 'policy%' ORDER BY id")
    assert [a["action"] for a in audit] == ["policy_set", "policy_set", "policy_clear", "policy_set"]


async def test_restore_learning_loads_exemplars_and_policies(client, seeded, bot_app, shared_detector):
    NATO = seeded.text["nato"]
    await login(client, "alice")
    token = await page_csrf(client)
    await client.post(f"/incidents/{seeded.ids['nato']}/resolve", data={"csrf": token, "verdict": "false_positive"})
    await client.post(f"/incidents/{seeded.ids['zelensky']}/resolve", data={"csrf": token, "verdict": "confirmed"})
    await client.post("/points/us-biolabs/policy", data={"csrf": token, "scope": "*", "review_only": "1"})

    fresh = Detector.build(shared_detector.registry, DetectorConfig(), encoder=shared_detector.encoder)
    assert fresh.check(NATO, server_id="guild-1").action is Action.REPLY  # a restart forgets ...
    assert await restore_learning(bot_app.db, fresh) == 3  # 2 exemplars + 1 policy
    assert fresh.check(NATO, server_id="guild-1").action is Action.NONE  # ... until restored
    assert fresh.point_policy("any", "us-biolabs").review_only
    assert await restore_learning(bot_app.db, fresh) == 1  # idempotent: exemplars are not loaded twice
    assert len(fresh._overlays["guild-1"].emb) == 1


async def test_export_csv_guards_formulas_and_json_has_explanations(client, seeded, bot_app):
    FORMULA, BUCHA = seeded.text["formula"], seeded.text["bucha"]
    await login(client, "alice")
    resp = await client.get("/incidents/export.csv?tp=us-biolabs")
    assert resp.headers["Content-Type"].startswith("text/csv")
    assert resp.headers["Content-Disposition"].startswith('attachment; filename="contextbot-incidents-')
    table = list(csv.DictReader(io.StringIO(await resp.text())))
    contents = {r["content"] for r in table}
    assert "'" + FORMULA in contents and FORMULA not in contents
    assert all(r["talking_point_id"] == "us-biolabs" for r in table) and len(table) == 2
    data = json.loads(await (await client.get("/incidents/export.json?platform=discord")).text())
    assert {r["platform"] for r in data} == {"discord"}
    bucha = next(r for r in data if r["id"] == seeded.ids["bucha"])
    assert bucha["content"] == BUCHA  # JSON keeps the text exactly
    assert bucha["explanation"]["talking_point_id"] == "bucha-staged" and "stance_probs" in bucha["explanation"]
    audit = await rows(bot_app.db, "SELECT actor, detail FROM dashboard_audit WHERE action = 'export'")
    assert [json.loads(a["detail"])["format"] for a in audit] == ["csv", "json"]
    assert json.loads(audit[0]["detail"])["rows"] == 2 and json.loads(audit[0]["detail"])["filter"] == {"tp": "us-biolabs"}


async def test_promote_exemplar_and_yaml_export(client, seeded, bot_app):
    NATO, BUCHA = seeded.text["nato"], seeded.text["bucha"]
    await login(client, "alice")
    token = await page_csrf(client)
    await client.post(f"/incidents/{seeded.ids['bucha']}/resolve", data={"csrf": token, "verdict": "confirmed"})
    await client.post(f"/incidents/{seeded.ids['nato']}/resolve", data={"csrf": token, "verdict": "false_positive"})
    ex = await rows(bot_app.db, "SELECT id, incident_id FROM server_exemplars ORDER BY id")
    bucha_ex, nato_ex = ex[0]["id"], ex[1]["id"]
    html = await (await client.get("/exemplars")).text()
    assert "promote to pack" in html and "&lt;script&gt;" in html
    await client.post(f"/exemplars/{bucha_ex}/promote", data={"csrf": token, "promote": "1", "stance": "assert"})
    await client.post(f"/exemplars/{nato_ex}/promote", data={"csrf": token, "promote": "1", "stance": "refute"})
    got = await rows(bot_app.db, "SELECT promoted, promoted_stance, promoted_by FROM server_exemplars ORDER BY id")
    assert got == [{"promoted": 1, "promoted_stance": "assert", "promoted_by": "alice"},
                   {"promoted": 1, "promoted_stance": "refute", "promoted_by": "alice"}]
    resp = await client.get("/exemplars/promoted.yaml")
    text = await resp.text()
    assert text.startswith("# contextbot: 2 exemplar(s) promoted")
    snippet = yaml.safe_load(text)
    assert snippet["bucha-staged"]["exemplars"]["assert"] == [{"text": BUCHA, "lang": "en"}]
    assert snippet["nato-expansion-provoked"]["exemplars"]["refute"] == [{"text": NATO, "lang": "en"}]
    # non-admins can neither promote nor export
    await client.post("/logout", data={"csrf": token})
    await login(client, "carol")
    token = await page_csrf(client)
    assert (await client.post(f"/exemplars/{bucha_ex}/promote", data={"csrf": token})).status == 403
    assert (await client.get("/exemplars/promoted.yaml")).status == 403
    html = await (await client.get("/exemplars")).text()
    assert "promote to pack" not in html and "promoted as assert" in html


async def test_purged_exemplar_shows_no_text_and_is_not_exported(client, seeded, bot_app):
    NATO = seeded.text["nato"]
    await login(client, "alice")
    token = await page_csrf(client)
    await client.post(f"/incidents/{seeded.ids['nato']}/resolve", data={"csrf": token, "verdict": "false_positive"})
    (ex,) = await rows(bot_app.db, "SELECT id FROM server_exemplars")
    await client.post(f"/exemplars/{ex['id']}/promote", data={"csrf": token, "promote": "1", "stance": "refute"})
    words = " ".join(re.findall(r"\w+", NATO)[:4])  # survives any HTML escaping of punctuation

    def shown(page: str) -> bool:
        return words in " ".join(re.findall(r"\w+", re.sub(r"&[#\w]+;", " ", page)))

    assert shown(await (await client.get("/exemplars")).text())  # the control: visible before the purge
    inc = await bot_app.service.incidents.get_incident(seeded.ids["nato"])
    await bot_app.service.handle_delete(inc.platform, inc.channel_id, inc.message_id)  # the author deleted it

    html = await (await client.get("/exemplars")).text()
    assert "(message purged" in html and not shown(html)
    text = await (await client.get("/exemplars/promoted.yaml")).text()
    assert text.startswith("# contextbot: 0 exemplar(s) promoted") and not shown(text)


async def test_audit_page_lists_actions(client, seeded):
    await login(client, "alice")
    token = await page_csrf(client)
    await client.post(f"/incidents/{seeded.ids['nato']}/resolve", data={"csrf": token, "verdict": "dismissed"})
    html = await (await client.get("/audit")).text()
    assert "resolve" in html and "login" in html and f'href="/incidents/{seeded.ids["nato"]}"' in html


async def test_dashboard_app_factory_refuses_bad_config(bot_app):
    from dataclasses import replace

    from bot.config import ConfigError

    cfg = replace(bot_app.config, dashboard=replace(bot_app.config.dashboard, secret="short"))
    with pytest.raises(ConfigError, match="too short"):
        create_app(bot_app, cfg)
