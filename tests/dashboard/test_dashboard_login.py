"""Logging in (issue #14): where ``next=`` may lead (point 18), login throttling per account and address
(point 19) and sessions that stay logged out across a restart (point 19)."""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import parse_qs, quote

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.dashboard.app import create_app
from bot.dashboard.routes.auth_routes import safe_next
from bot.dashboard.web import COOKIE

from dashboard_helpers import PASSWORDS, csrf_of, login, page_csrf

# ------------------------------------------------------------------------------------------ next= (point 18)

REFUSED = [
    "/\t/evil.example",  # browsers drop the tab: //evil.example
    "/\n/evil.example", "/\r/evil.example", "/\x0b", "/\x0c/evil.example", "/\x00", "/\x1f", "/\x7f",
    "/\x85/evil.example",  # C1 control (NEL)
    "/\u2028/evil.example", "/\u2029", "/\u200b/evil.example", "/\u202e", "/\ufeff",  # line sep, format chars
    "/ /evil.example", "/\u00a0/evil.example", "/\u3000",  # whitespace
    "//evil.example", "/\\evil.example", "/x\\y", "https://evil.example", "evil.example", "", "/" + "a" * 2001,
]


@pytest.mark.parametrize("value", REFUSED)
def test_next_refuses_anything_that_could_leave_the_site(value):
    assert safe_next(value) == "/overview"


@pytest.mark.parametrize("value, kept", [
    ("/incidents?tp=bucha-staged&page=2", "/incidents?tp=bucha-staged&page=2"),
    ("/incidents/12", "/incidents/12"),
    ("/incidents?channel=a%20b", "/incidents?channel=a%20b"),  # already percent-encoded: unchanged
    ("/points/é", "/points/%C3%A9"),  # plain ASCII in the Location header
])
def test_next_keeps_a_local_path(value, kept):
    assert safe_next(value) == kept


async def login_with_next(client, nxt: str):
    page = await client.get("/login?next=" + quote(nxt, safe=""))
    assert page.status == 200
    html = await page.text()
    shown = re.search(r'name="next" value="([^"]*)"', html).group(1)
    resp = await client.post("/login", data={"csrf": csrf_of(html), "username": "alice",
                                              "password": PASSWORDS["alice"], "next": nxt}, allow_redirects=False)
    return shown, resp


@pytest.mark.parametrize("nxt", ["/\x0b", "/\t/evil.example", "/\x85/evil.example", "/\x00"])
async def test_login_with_a_control_character_in_next_goes_to_the_overview(client, nxt):
    shown, resp = await login_with_next(client, nxt)  # %0B used to drop the connection with a traceback
    assert shown == "/overview"
    assert resp.status == 303 and resp.headers["Location"] == "/overview"


async def test_login_goes_back_to_the_page_asked_for_with_its_query(client):
    resp = await client.get("/incidents?channel=a%20b&tp=x%26y", allow_redirects=False)
    target = resp.headers["Location"]
    assert target.startswith("/login?")
    assert parse_qs(target.partition("?")[2]) == {"next": ["/incidents?channel=a%20b&tp=x%26y"]}
    html = await (await client.get(target)).text()
    resp = await client.post("/login", data={"csrf": csrf_of(html), "username": "alice",
                                              "password": PASSWORDS["alice"],
                                              "next": re.search(r'name="next" value="([^"]*)"', html).group(1)
                                              .replace("&amp;", "&")},
                             allow_redirects=False)
    assert resp.headers["Location"] == "/incidents?channel=a%20b&tp=x%26y"  # an & inside a value stays escaped


# ------------------------------------------------------------------------------------------ throttling (point 19)


async def fresh_login(client, user: str, password: str | None = None, *, expect: int = 303):
    client.session.cookie_jar.clear()
    return await login(client, user, password, expect=expect)


async def test_five_wrong_passwords_hold_up_that_account_only(client):
    for _ in range(5):
        await fresh_login(client, "carol", "wrong", expect=401)
    await fresh_login(client, "carol", expect=429)  # the account at this address waits, right password or not
    await fresh_login(client, "alice")  # other moderators on the same address (a NAT, a proxy) do not
    await fresh_login(client, "bob")


async def test_a_spray_from_the_address_spares_moderators_who_logged_in_from_it_before(client):
    await fresh_login(client, "alice")  # alice has used this address before
    for i in range(20):
        await fresh_login(client, f"guess{i}", "wrong", expect=401)
    await fresh_login(client, "bob", expect=429)  # never logged in from here: held up by the spray
    await fresh_login(client, "alice")  # the right password still works for her


# ------------------------------------------------------------------------------------------ sessions (point 19)


def cookie(client) -> str:
    return client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE].value


async def restarted(bot_app):
    """The dashboard built again over the same database (a restart: new process state, same secret)."""
    c = TestClient(TestServer(create_app(bot_app, bot_app.config)))
    await c.start_server()
    return c


async def test_logout_survives_a_restart_and_a_live_login_too(client, bot_app):
    await fresh_login(client, "carol")
    kept = cookie(client)
    await fresh_login(client, "bob")
    gone = cookie(client)
    resp = await client.post("/logout", data={"csrf": await page_csrf(client, "/overview")}, allow_redirects=False)
    assert resp.status == 303

    after = await restarted(bot_app)
    try:
        after.session.cookie_jar.update_cookies({COOKIE: gone})
        assert (await after.get("/overview", allow_redirects=False)).status == 302  # still logged out
        after.session.cookie_jar.clear()
        after.session.cookie_jar.update_cookies({COOKIE: kept})
        assert (await after.get("/overview", allow_redirects=False)).status == 200  # still logged in
    finally:
        await after.close()
    rows = await fetch(bot_app.db, "SELECT username, address, revoked_at IS NOT NULL AS out FROM dashboard_sessions"
                                   " ORDER BY created_at")
    assert [(r["username"], r["out"]) for r in rows] == [("carol", 0), ("bob", 1)]
    assert all(r["address"] == "127.0.0.1" for r in rows)


async def test_a_session_missing_from_the_database_is_not_honoured(client, bot_app):
    await fresh_login(client, "alice")
    await bot_app.db.execute("DELETE FROM dashboard_sessions")
    await bot_app.db.commit()
    assert (await client.get("/overview", allow_redirects=False)).status == 302


async def test_the_database_keeps_no_session_id(client, bot_app):
    await fresh_login(client, "alice")
    value = cookie(client)
    (row,) = await fetch(bot_app.db, "SELECT * FROM dashboard_sessions")
    sid = json.loads(base64.urlsafe_b64decode(value.split(".")[0] + "==="))["sid"]
    assert sid not in " ".join(str(v) for v in row.values())


async def fetch(db, sql):
    async with db.execute(sql) as cur:
        return [dict(r) for r in await cur.fetchall()]
