"""Helpers shared by the dashboard tests (imported by name; this directory has no __init__.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from aiohttp.test_utils import TestClient

from bot.config import Config, DashboardConfig, DashboardModerator
import pytest

from bot.core.models import Action, ChannelMode, IncidentStatus, IncomingMessage, Stance

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"  # screenshots for humans (not committed)
SECRET = "test-secret-" + "x" * 40
PASSWORDS = {"alice": "alice-password-1", "bob": "bob-password-22", "carol": "carol-password-333"}

# The detector is tuned and retrained as the project goes on, so the seed does not hard-code which texts it
# replies to: for each role it takes the first candidate (hand-written ones first, then the pack's own English
# assertions) that the REAL detector decides as required, and fails with a clear message if none does.
# NATO_ISSUE is the sentence from issue #5 (at commit b290c2c it is logged for review, P(assert) ~0.76 < 0.90).
NATO_ISSUE = "Honestly NATO kept creeping east for 30 years, Russia had no choice but to defend itself in Ukraine."
XSS = " <script>alert(1)</script> @everyone"
FORMULA_PREFIX = "=HYPERLINK(\"http://evil.example\",\"x\") "
CANDIDATES = {
    "nato-expansion-provoked": [
        "Imagine missiles five minutes from Moscow. NATO expansion caused this war, period.",
        "NATO kept creeping east for 30 years, Russia had no choice.",
    ],
    "bucha-staged": ["Bucha was staged, the bodies moved in the video, it was a fake by Kyiv."],
    "us-biolabs": ["The US runs secret biolabs in Ukraine making bioweapons.",
                   "The Pentagon funds secret biolabs in Ukraine that make bioweapons."],
    "zelensky-illegitimate": ["Zelensky is illegitimate since his term expired, he is not the president anymore.",
                              "Zelensky's term expired in 2024 so he is an illegitimate president."],
    "nazi-regime": ["Ukraine is run by Nazis, the whole regime is neo-nazi."],
    "aid-stolen": ["Western aid to Ukraine is all stolen and sold on the black market."],
}
REPLY = frozenset({Action.REPLY})
INCIDENT = frozenset({Action.REPLY, Action.REVIEW})


def pick_text(detector, tp_id: str, actions=INCIDENT, *, first: tuple[str, ...] = (), prefix: str = "",
              suffix: str = "", exclude: tuple[str, ...] = ()) -> str:
    tp = detector.registry.get(tp_id)
    pool = [*first, *CANDIDATES.get(tp_id, ()),
            *(e.text for e in tp.exemplars if e.stance is Stance.ASSERT and e.lang == "en")]
    for cand in dict.fromkeys(pool):
        text = prefix + cand + suffix
        if text in exclude:
            continue
        d = detector.check(text, server_id="probe-server")
        if d.talking_point_id == tp_id and d.action in actions:
            return text
    pytest.fail(f"none of {len(pool)} assertions of {tp_id} gets a {'/'.join(a.value for a in actions)} decision "
                "from the current detector; add a candidate to tests/dashboard/dashboard_helpers.py", pytrace=False)


def pick_texts(detector) -> dict[str, str]:
    """The seed's texts for this detector (computed once per test session)."""
    nato = pick_text(detector, "nato-expansion-provoked", REPLY)
    return {
        "nato": nato,  # replied to in a reply-mode channel
        "nato_issue": pick_text(detector, "nato-expansion-provoked", first=(NATO_ISSUE,), exclude=(nato,)),
        "bucha": pick_text(detector, "bucha-staged", suffix=XSS),
        "biolabs": pick_text(detector, "us-biolabs"),
        "zelensky": pick_text(detector, "zelensky-illegitimate", REPLY),
        "nazi": pick_text(detector, "nazi-regime"),
        "formula": pick_text(detector, "us-biolabs", prefix=FORMULA_PREFIX),
    }


QUESTION = "Is it true that NATO promised not to expand east?"
CHATTER = "What a nice day for a picnic"


def dashboard_config(hashes: dict[str, str], **over) -> Config:
    mods = (
        DashboardModerator("alice", hashes["alice"], ("*",), admin=True),
        DashboardModerator("bob", hashes["bob"], ("discord:guild-2",), admin=False),
        DashboardModerator("carol", hashes["carol"], ("discord:guild-1",), admin=False),
    )
    dash = DashboardConfig(host="127.0.0.1", port=8080, secret=SECRET, moderators=mods)
    return replace(Config(), dashboard=replace(dash, **over))


@dataclass
class Seeded:
    """Incident ids by name, plus the messages that made them."""

    ids: dict[str, int] = field(default_factory=dict)
    text: dict[str, str] = field(default_factory=dict)
    messages: dict[str, IncomingMessage] = field(default_factory=dict)
    outcomes: dict = field(default_factory=dict)


def message(server: str, channel: str, text: str, mid: str, author: str = "user-1", platform: str = "discord"
            ) -> IncomingMessage:
    return IncomingMessage(platform=platform, server_id=server, channel_id=channel, message_id=mid,
                           author_id=author, text=text,
                           link=f"https://discord.com/channels/{server}/{channel}/{mid}" if platform == "discord" else "",
                           created_at=datetime.now(timezone.utc))


async def seed(app, texts: dict[str, str]) -> Seeded:
    s = app.service
    st = app.service.settings
    await st.set_channel_mode("discord", "guild-1", "general", ChannelMode.REPLY)
    await st.set_channel_mode("discord", "guild-1", "news", ChannelMode.REVIEW)
    await st.set_channel_mode("discord", "guild-1", "debate", ChannelMode.REPLY)
    await st.set_channel_mode("discord", "guild-2", "chat", ChannelMode.REPLY)
    await st.set_channel_mode("matrix", "example.org", "!room:example.org", ChannelMode.REVIEW)
    out = Seeded(text=dict(texts, question=QUESTION, chatter=CHATTER))
    t = out.text
    plan = [
        ("nato", message("guild-1", "general", t["nato"], "m-nato", "user-alice")),
        ("nato_issue", message("guild-1", "news", t["nato_issue"], "m-nato-issue", "user-hank")),
        ("bucha", message("guild-1", "news", t["bucha"], "m-bucha", "user-bob")),
        ("biolabs", message("guild-1", "general", t["biolabs"], "m-bio", "user-carol")),
        ("zelensky", message("guild-2", "chat", t["zelensky"], "m-zel", "user-dave")),
        ("nazi", message("example.org", "!room:example.org", t["nazi"], "$ev-nazi", "@eve:example.org", "matrix")),
        ("formula", message("guild-1", "news", t["formula"], "m-formula", "user-frank")),
        ("question", message("guild-1", "general", QUESTION, "m-q", "user-gina")),
        ("chatter", message("guild-1", "general", CHATTER, "m-c", "user-gina")),
    ]
    out.outcomes = {}
    for name, msg in plan:
        outcome = await s.handle_message(msg)
        out.messages[name] = msg
        out.outcomes[name] = outcome
        if outcome.incident is not None:
            out.ids[name] = outcome.incident.id
        if outcome.card is not None:
            post = await s.card_posted(msg, outcome, f"post-{msg.message_id}")
            if name == "nato":  # members rate the card
                await s.incidents.record_feedback(post.id, "member-1", True)
                await s.incidents.record_feedback(post.id, "member-2", False)
    return out


HISTORY = [
    "The US runs secret biolabs in Ukraine making bioweapons.",
    "Ukraine is run by Nazis, the whole regime is neo-nazi.",
    "Western aid to Ukraine is all stolen and sold on the black market.",
    "Zelensky's term expired in 2024 so he is an illegitimate president.",
    "Bucha was staged, the bodies moved in the video, it was a fake by Kyiv.",
    "The weapons we send to Ukraine are all stolen and resold on the black market.",
]


async def seed_history(app, days: int = 12) -> list[int]:
    """Twelve days of incidents in a review-mode channel of guild-1 (the real service with its clock shifted back),
    some of them judged: gives the overview's charts something to show."""
    s = app.service
    await s.settings.set_channel_mode("discord", "guild-1", "history", ChannelMode.REVIEW)
    real_clock = s.clock
    ids: list[int] = []
    replies: list[int] = []
    try:
        for back in range(days, 0, -1):
            s.clock = lambda back=back: real_clock() - timedelta(days=back, hours=3)
            for k in range((back * 7) % 3 + 1):
                text = HISTORY[(back + k) % len(HISTORY)]
                o = await s.handle_message(message("guild-1", "history", text, f"h-{back}-{k}", f"hist-{back}-{k}"))
                if o.incident is not None:
                    ids.append(o.incident.id)
                    if o.incident.action is Action.REPLY:
                        replies.append(o.incident.id)
    finally:
        s.clock = real_clock
    for n, iid in enumerate(ids):  # moderators judged most of the older ones
        if iid in replies:
            verdict = IncidentStatus.FALSE_POSITIVE if replies.index(iid) % 5 == 4 else IncidentStatus.CONFIRMED
        else:
            verdict = (IncidentStatus.CONFIRMED, IncidentStatus.FALSE_POSITIVE, None, IncidentStatus.DISMISSED)[n % 4]
        if verdict is not None and n < len(ids) - 3:
            await s.resolve(iid, verdict, "seed")
    return ids


CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    m = CSRF_RE.search(html)
    assert m, "no CSRF token in the page"
    return m.group(1)


async def login(client: TestClient, username: str, password: str | None = None, *, expect: int = 303):
    page = await client.get("/login")
    token = csrf_of(await page.text())
    resp = await client.post("/login", data={"csrf": token, "username": username,
                                              "password": PASSWORDS.get(username, "") if password is None else password,
                                              "next": "/overview"}, allow_redirects=False)
    assert resp.status == expect, await resp.text()
    return resp


async def page_csrf(client: TestClient, path: str = "/incidents") -> str:
    resp = await client.get(path)
    assert resp.status == 200, await resp.text()
    return csrf_of(await resp.text())


async def log_in(page, base: str, user: str, path: str = "/overview"):
    """Log in through the browser's login form (Playwright page), starting from ``path``."""
    await page.goto(base + path)
    assert "/login" in page.url
    await page.fill("input[name=username]", user)
    await page.fill("input[name=password]", PASSWORDS[user])
    async with page.expect_navigation():
        await page.click("form[action='/login'] button[type=submit]")
    assert "/login" not in page.url
