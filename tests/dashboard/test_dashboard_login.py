"""Logging in (issue #14): where ``next=`` may lead (point 18), login throttling per account and address
(point 19) and sessions that stay logged out across a restart (point 19)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, quote

import pytest

from bot.dashboard.routes.auth_routes import safe_next

from dashboard_helpers import PASSWORDS, csrf_of

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
