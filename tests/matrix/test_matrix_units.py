"""Unit tests of the Matrix adapter's pure parts (no homeserver): commands, conversion, rendering, retries."""

from __future__ import annotations

import html
import re
from types import SimpleNamespace

import pytest
from nio import RoomSendError, RoomSendResponse

from bot.config import MatrixConfig
from bot.core.models import ChannelMode, IncidentStatus, RenderedCard, Source
from bot.matrix_adapter import commands as c
from bot.matrix_adapter.bot import MatrixBot
from bot.matrix_adapter.convert import (
    edit_target,
    edited_text,
    incoming_from_event,
    invite_allowed,
    normalize_reaction,
    permalink,
    server_id_for_room,
    strip_reply_fallback,
    thread_root,
)
from bot.matrix_adapter.convert import message_text
from bot.matrix_adapter.render import (
    Verbatim,
    alert_content,
    card_content,
    code_span,
    content_is_quiet,
    lines_notice,
    replacement_content,
    safe_href,
    text_notice,
    withdrawn_card_content,
)

# ------------------------------------------------------------------------------------------ commands


@pytest.mark.parametrize("body, expected", [
    ("!cb", c.Help()),
    ("!cb help", c.Help()),
    ("  !CB HELP  ", c.Help()),
    ("!cb context nato expansion", c.Context("nato expansion")),
    ("!cb check NATO forced Russia", c.Check("NATO forced Russia")),
    ("!cb check", c.Check("")),
    ("!cb check\nline one\nline two", c.Check("line one\nline two")),
    ("!cb incidents", c.Incidents(True, None)),
    ("!cb incidents all", c.Incidents(False, None)),
    ("!cb incidents open us-biolabs", c.Incidents(True, "us-biolabs")),
    ("!cb incidents us-biolabs", c.Incidents(True, "us-biolabs")),
    ("!cb incidents 2", c.Incidents(True, None, 2)),
    ("!cb incidents all 3", c.Incidents(False, None, 3)),
    ("!cb incidents --page 4", c.Incidents(True, None, 4)),
    ("!cb incidents all --page=5", c.Incidents(False, None, 5)),
    ("!cb incidents open nato expansion page 2", c.Incidents(True, "nato expansion", 2)),
    ("!cb incident 12", c.ShowIncident(12)),
    ("!cb incident #12", c.ShowIncident(12)),
    ("!cb resolve 3 confirmed", c.Resolve(3, IncidentStatus.CONFIRMED, None)),
    ("!cb resolve 3 false_positive sarcasm, see thread", c.Resolve(3, IncidentStatus.FALSE_POSITIVE, "sarcasm, see thread")),
    ("!cb resolve #3 dismissed", c.Resolve(3, IncidentStatus.DISMISSED, None)),
    ("!cb mode", c.Mode(None)),
    ("!cb mode REPLY", c.Mode(ChannelMode.REPLY)),
    ("!cb frobnicate", c.Unknown("frobnicate")),
])
def test_parse_command(body, expected):
    assert c.parse_command(body, "!cb") == expected


@pytest.mark.parametrize("body", ["hello", "!cbx help", "say !cb help", ""])
def test_not_a_command(body):
    assert c.parse_command(body, "!cb") is None


@pytest.mark.parametrize("body, name", [
    ("!cb context", "context"), ("!cb incident x", "incident"), ("!cb resolve 3", "resolve"),
    ("!cb resolve x confirmed", "resolve"), ("!cb resolve 3 maybe", "resolve"), ("!cb mode loud", "mode"),
    ("!cb incidents --page x", "incidents"), ("!cb incidents 0", "incidents"),
])
def test_bad_usage(body, name):
    cmd = c.parse_command(body, "!cb")
    assert isinstance(cmd, c.BadUsage) and cmd.name == name and "Usage:" in cmd.message


def test_moderator_flags_and_custom_prefix():
    assert not c.parse_command("!cb check x", "!cb").moderator
    assert c.parse_command("!cb mode reply", "!cb").moderator
    assert c.parse_command("!cb mode loud", "!cb").moderator  # refused before usage help for non-moderators
    assert c.parse_command("?ctx incidents", "?ctx") == c.Incidents(True, None)
    assert c.parse_command("!cb incidents", "?ctx") is None
    assert "?ctx resolve" in c.help_text("?ctx", 50)


# ------------------------------------------------------------------------------------------ conversion


def test_ids_and_links():
    assert server_id_for_room("!abc:example.org", "@bot:other.org") == "example.org"
    assert server_id_for_room("!abcdef", "@bot:other.org") == "other.org"  # room v12 ids have no server part
    assert permalink("!abc:example.org", "$ev1") == "https://matrix.to/#/!abc:example.org/$ev1?via=example.org"


def test_reply_fallback_is_stripped():
    body = "> <@a:x> NATO forced Russia to invade\n> second line\n\nThat's false, nobody forced anyone."
    assert strip_reply_fallback(body) == "That's false, nobody forced anyone."
    assert strip_reply_fallback("no quote here") == "no quote here"
    ev = {"event_id": "$e", "sender": "@b:x", "origin_server_ts": 1_700_000_000_000,
          "content": {"msgtype": "m.text", "body": body, "m.relates_to": {"m.in_reply_to": {"event_id": "$q"}}}}
    msg = incoming_from_event("!r:x", ev, own_user_id="@bot:x")
    assert msg.text == "That's false, nobody forced anyone."
    assert (msg.platform, msg.server_id, msg.channel_id, msg.message_id, msg.author_id) == ("matrix", "x", "!r:x", "$e", "@b:x")
    assert msg.link == "https://matrix.to/#/!r:x/$e?via=x" and msg.created_at.year == 2023
    assert not msg.author_is_bot and not msg.is_edit


def test_edit_and_thread_helpers():
    edit = {"msgtype": "m.text", "body": "* new", "m.new_content": {"msgtype": "m.text", "body": "new"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": "$orig"}}
    assert edit_target(edit) == "$orig" and edited_text(edit) == "new"
    assert edited_text({"m.new_content": {"msgtype": "m.image", "body": "x"}}) is None
    threaded = {"body": "x", "m.relates_to": {"rel_type": "m.thread", "event_id": "$root"}}
    assert thread_root(threaded) == "$root" and edit_target(threaded) is None
    msg = incoming_from_event("!r:x", {"event_id": "$t", "sender": "@u:x", "content": threaded})
    assert msg.thread_id == "$root"


def test_reaction_keys_are_normalised():
    assert normalize_reaction("👍🏽") == "👍"
    assert normalize_reaction("👍️") == "👍"
    assert normalize_reaction("✅️") == "✅"
    assert normalize_reaction("❌") == "❌"


def test_invite_policy():
    # an empty allow-list refuses everyone, the bot's own homeserver included (a public server is anyone)
    assert not invite_allowed("@mod:home.org", ())
    assert not invite_allowed("@x:evil.org", ())
    allowed = ("@alice:friends.org", "partner.org")
    assert invite_allowed("@alice:friends.org", allowed)
    assert not invite_allowed("@bob:friends.org", allowed)
    assert invite_allowed("@anyone:PARTNER.org", allowed)
    assert not invite_allowed("@mod:home.org", allowed)
    assert not invite_allowed(None, allowed)


# ------------------------------------------------------------------------------------------ rendering

HOSTILE = RenderedCard(
    talking_point_id="tp-x", lang="en",
    title="<script>alert(1)</script> @room",
    summary="Ask @evil:example.org or @everyone <b>now</b> & more",
    key_facts=("fact <i>one</i>", "ping @room please"),
    why_it_matters="because \"quotes\"",
    sources=(Source("Pub <x>", "Title & co", "https://example.org/a?b=1&c=\"2\"", "2020"),
             Source("Permalink", "user pill", "https://matrix.to/#/@victim:example.org", "2021"),
             Source("JS", "bad", "javascript:alert(1)", "2022")),
    footer="ukraine-war v1 · Why am I seeing this?", pack_version="1",
)


def test_card_content_is_escaped_quiet_and_a_reply():
    content = card_content(HOSTILE, reply_to="$src")
    assert content["msgtype"] == "m.notice"
    assert content["format"] == "org.matrix.custom.html"
    assert content["m.mentions"] == {}
    assert content["m.relates_to"] == {"m.in_reply_to": {"event_id": "$src"}}
    fb = content["formatted_body"]
    assert fb.startswith("<h4>") and "<ul><li>" in fb and "<sub>" in fb
    assert "<script>" not in fb and "&lt;script&gt;" in fb and "<b>" not in fb and "<i>" not in fb
    assert "@room" not in fb and "@room" not in content["body"]
    assert "@everyone" not in fb and "@evil:example.org" not in fb and "@evil:example.org" not in content["body"]
    assert '<a href="https://example.org/a?b=1&amp;c=&quot;2&quot;">' in fb
    assert 'href="https://matrix.to' not in fb and "javascript:" not in re.findall(r'href="([^"]*)"', fb)[0]
    assert len(re.findall(r"<a ", fb)) == 1  # only the safe http(s) link is linked
    assert content["body"].startswith("ℹ️") and "• fact <i>one</i>" in content["body"]  # plain text stays readable
    assert content_is_quiet(content)
    assert html.unescape(re.sub("<[^>]+>", "", fb)).count("\u200b") >= 3  # mentions broken with zero-width spaces


def test_card_in_thread_and_safe_href():
    content = card_content(HOSTILE, reply_to="$src", thread_root="$root")
    assert content["m.relates_to"] == {"rel_type": "m.thread", "event_id": "$root", "is_falling_back": False,
                                       "m.in_reply_to": {"event_id": "$src"}}
    assert safe_href("https://ex.org/x") == "https://ex.org/x"
    assert safe_href("ftp://ex.org") is None and safe_href("https://matrix.to/#/!r:x") is None


def test_text_notice_escapes_lines():
    content = text_notice("line <1>\n@room line 2")
    assert content["formatted_body"] == "line &lt;1&gt;<br>@\u200broom line 2"
    assert content_is_quiet(content)


def test_ids_are_shown_verbatim_in_code_and_everything_else_stays_neutralised():
    content = lines_notice([("Author: ", Verbatim("@alice:example.org")), "ask @bob:example.org or @room <b>"])
    assert content["body"] == "Author: `@alice:example.org`\nask @\u200bbob:example.org or @\u200broom <b>"
    assert content["formatted_body"] == ("Author: <code>@alice:example.org</code><br>"
                                         "ask @\u200bbob:example.org or @\u200broom &lt;b&gt;")
    assert content["m.mentions"] == {} and content_is_quiet(content)
    # an intact id outside code is still caught by the invariant
    assert not content_is_quiet({**content, "body": content["body"] + " @carol:example.org"})


@pytest.mark.parametrize("text, expected", [
    ("@a:x", "`@a:x`"), ("@we`ird:x", "``@we`ird:x``"), ("`@a:x", "`` `@a:x ``"),
])
def test_code_span_fences_ids_containing_backticks(text, expected):
    assert code_span(text) == expected


def test_replacement_edits_the_bots_event_and_keeps_no_relation():
    new = text_notice("Incident #3 <gone>", reply_to="$src")
    content = replacement_content("$alert", new)
    assert content["m.relates_to"] == {"rel_type": "m.replace", "event_id": "$alert"}
    assert content["m.new_content"]["body"] == "Incident #3 <gone>" and "m.relates_to" not in content["m.new_content"]
    assert content["body"] == "* Incident #3 <gone>" and content["formatted_body"] == "* Incident #3 &lt;gone&gt;"
    assert content["m.mentions"] == {} and content["m.new_content"]["m.mentions"] == {}
    withdrawn = withdrawn_card_content("$card", "de")
    assert withdrawn["m.new_content"]["body"].startswith("Diese Kontextkarte wurde zurückgezogen")


def _incident(**kw):
    from datetime import datetime, timezone

    from bot.core.models import Action, Incident, Stance

    values = dict(id=4, platform="matrix", server_id="x", channel_id="!room:x", message_id="$m",
                  message_link="https://matrix.to/#/!room:x/$m", author_id="@author:x", content="the claim",
                  talking_point_id="tp", stance=Stance.ASSERT, score=0.9, match_score=0.8, action=Action.REVIEW,
                  status=IncidentStatus.OPEN, reviewer=None, note=None,
                  created_at=datetime(2026, 1, 1, tzinfo=timezone.utc), updated_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    values.update(kw)
    return Incident(**values)


@pytest.mark.parametrize("kw, room_name, present, absent", [
    ({}, "Ukraine chat", ["needs review", "Room: Ukraine chat · message:", "Author: `@author:x`",
                          "Message: the claim", "React ✅"], ["!room:x ·"]),
    ({}, None, ["Room: `!room:x` · message:"], []),
    ({"content": None}, "R", ["Message: (content removed)"], ["the claim"]),
    ({"status": IncidentStatus.DISMISSED, "reviewer": "contextbot", "note": "edited"}, "R",
     ["incident #4: dismissed by `contextbot`", "Note: edited"], ["needs review", "React ✅"]),
])
def test_alert_shows_the_incident_as_it_is_now(kw, room_name, present, absent):
    content = alert_content(_incident(**kw), "Title", "!cb", room_name)
    for text in present:
        assert text in content["body"]
    for text in absent:
        assert text not in content["body"]
    assert "\u200b" not in content["body"] and content_is_quiet(content)


def test_commands_are_parsed_without_the_legacy_reply_fallback():
    content = {"body": "> <@alice:x> NATO forced Russia\n> to invade\n\n!cb check",
               "m.relates_to": {"m.in_reply_to": {"event_id": "$src"}}}
    assert c.parse_command(message_text(content), "!cb") == c.Check("")
    # without a reply relation the quote is the member's own text
    assert c.parse_command(message_text({"body": "> hi\n\n!cb check"}), "!cb") is None


# ------------------------------------------------------------------------------------------ 429 retries


class _FakeClient:
    user_id = "@bot:x"

    def __init__(self, responses):
        self.responses = list(responses)
        self.calls = []

    async def room_send(self, room_id, event_type, content, tx_id=None):
        self.calls.append((room_id, event_type, tx_id))
        return self.responses.pop(0)


def _limited(ms):
    return RoomSendError("Too Many Requests", "M_LIMIT_EXCEEDED", retry_after_ms=ms)


async def test_send_retries_after_rate_limit_with_same_transaction():
    client = _FakeClient([_limited(1500), _limited(250), RoomSendResponse("$sent", "!r:x")])
    slept = []

    async def fake_sleep(s):
        slept.append(s)

    bot = MatrixBot(client, SimpleNamespace(settings=None), MatrixConfig(user_id="@bot:x"), sleep=fake_sleep)
    assert await bot.send("!r:x", {"msgtype": "m.notice", "body": "hi"}) == "$sent"
    assert slept == [1.5, 0.25]
    assert len({tx for _, _, tx in client.calls}) == 1  # one transaction id: the server de-duplicates


async def test_send_gives_up_after_bounded_attempts():
    client = _FakeClient([_limited(100)] * 3)
    slept = []

    async def fake_sleep(s):
        slept.append(s)

    bot = MatrixBot(client, SimpleNamespace(settings=None), MatrixConfig(user_id="@bot:x"), send_attempts=3,
                    max_retry_wait=0.05, sleep=fake_sleep)
    assert await bot.send("!r:x", {"body": "x"}) is None
    assert len(client.calls) == 3 and slept == [0.05, 0.05]
