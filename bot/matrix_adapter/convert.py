"""Matrix events -> platform-neutral core values.

Pure functions over event dictionaries (``event.source`` of a matrix-nio event), so they can be unit-tested
without a homeserver.

``server_id`` choice: an :class:`IncomingMessage` from Matrix carries the *server part of the room id*
(``!abc:example.org`` -> ``example.org``), i.e. the homeserver the room was created on. A community that runs
its own homeserver thereby gets one set of server settings (default mode, cooldowns, disabled packs) and one
dashboard scope for all its rooms. Room ids without a server part (room version 12 and later) fall back to the
server part of the bot's own user id. Channel modes are per room regardless (``!cb mode``).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Mapping
from urllib.parse import quote

from bot.core.models import IncomingMessage

PLATFORM = "matrix"

#: Matrix events may be up to 64 KiB; anything longer than this is clipped before detection so a hostile
#: message cannot make detection arbitrarily expensive (same limit as the Discord adapter).
MAX_TEXT = 4000

THUMBS_UP = "\U0001F44D"
THUMBS_DOWN = "\U0001F44E"
CHECK_MARK = "\u2705"
CROSS_MARK = "\u274C"

_VARIATION_AND_SKIN = re.compile("[\ufe0e\ufe0f\U0001F3FB-\U0001F3FF]")


def server_part(matrix_id: str) -> str:
    """``@user:example.org`` / ``!room:example.org`` -> ``example.org``; ``""`` when there is none."""
    _, sep, server = (matrix_id or "").partition(":")
    return server if sep else ""


def server_id_for_room(room_id: str, own_user_id: str = "") -> str:
    """The ``server_id`` the core sees for a room (see the module docstring)."""
    return server_part(room_id) or server_part(own_user_id)


def permalink(room_id: str, event_id: str | None = None) -> str:
    """``https://matrix.to/#/<room>/<event>?via=<server>`` (identifiers percent-encoded where needed)."""
    link = "https://matrix.to/#/" + quote(room_id, safe="!:@$")
    if event_id:
        link += "/" + quote(event_id, safe="!:@$")
    via = server_part(room_id)
    return link + (f"?via={quote(via, safe='')}" if via else "")


def content_of(event: Any) -> Mapping[str, Any]:
    source = event if isinstance(event, Mapping) else getattr(event, "source", {}) or {}
    content = source.get("content")
    return content if isinstance(content, Mapping) else {}


def relation(content: Mapping[str, Any]) -> Mapping[str, Any]:
    rel = content.get("m.relates_to")
    return rel if isinstance(rel, Mapping) else {}


def edit_target(content: Mapping[str, Any]) -> str | None:
    """The event id an ``m.replace`` edit replaces, else None."""
    rel = relation(content)
    if rel.get("rel_type") == "m.replace" and isinstance(rel.get("event_id"), str):
        return rel["event_id"]
    return None


def thread_root(content: Mapping[str, Any]) -> str:
    """The thread root of a threaded message (``m.thread`` relation), else ``""``."""
    rel = relation(content)
    if rel.get("rel_type") == "m.thread" and isinstance(rel.get("event_id"), str):
        return rel["event_id"]
    return ""


def reply_target(content: Mapping[str, Any]) -> str | None:
    """The event a message replies to (``m.in_reply_to``), else None."""
    irt = relation(content).get("m.in_reply_to")
    if isinstance(irt, Mapping) and isinstance(irt.get("event_id"), str):
        return irt["event_id"]
    return None


def strip_reply_fallback(body: str) -> str:
    """Remove the legacy reply fallback (leading ``> `` quote lines and the blank line after them).

    Older clients quote the message they reply to; without this a member *debunking* a quoted claim would be
    checked as if they had written the claim themselves.
    """
    lines = body.split("\n")
    if not lines or not lines[0].startswith(">"):
        return body
    i = 0
    while i < len(lines) and lines[i].startswith(">"):
        i += 1
    if i < len(lines) and lines[i].strip() == "":
        i += 1
    return "\n".join(lines[i:])


def message_text(content: Mapping[str, Any]) -> str:
    """The readable text of an ``m.text`` message (reply fallback removed, clipped)."""
    body = content.get("body")
    if not isinstance(body, str):
        return ""
    if reply_target(content) is not None:
        body = strip_reply_fallback(body)
    return body[:MAX_TEXT]


def edited_text(content: Mapping[str, Any]) -> str | None:
    """The new text of an ``m.replace`` edit of an ``m.text`` message (``m.new_content``), else None."""
    new = content.get("m.new_content")
    if not isinstance(new, Mapping) or new.get("msgtype") != "m.text" or not isinstance(new.get("body"), str):
        return None
    return new["body"][:MAX_TEXT]


def event_time(event: Any) -> datetime | None:
    source = event if isinstance(event, Mapping) else getattr(event, "source", {}) or {}
    ts = source.get("origin_server_ts")
    if isinstance(ts, (int, float)) and not isinstance(ts, bool):
        return datetime.fromtimestamp(ts / 1000, tz=timezone.utc)
    return None


def incoming_from_event(
    room_id: str,
    event: Any,
    *,
    own_user_id: str = "",
    server_id: str | None = None,
    text: str | None = None,
    message_id: str | None = None,
    thread_id: str | None = None,
    is_edit: bool = False,
) -> IncomingMessage:
    """Convert an ``m.room.message`` event (nio event or raw dict).

    For an edit pass ``is_edit=True``, ``message_id`` = the original event id, ``text`` = the new text and
    ``thread_id`` = the original's thread, so the core finds the incident/card of the original message.
    """
    source = event if isinstance(event, Mapping) else getattr(event, "source", {}) or {}
    content = content_of(source)
    event_id = message_id or source.get("event_id", "")
    return IncomingMessage(
        platform=PLATFORM,
        server_id=server_id if server_id is not None else server_id_for_room(room_id, own_user_id),
        channel_id=room_id,
        message_id=event_id,
        author_id=str(source.get("sender", "")),
        text=message_text(content) if text is None else text[:MAX_TEXT],
        link=permalink(room_id, event_id),
        thread_id=thread_root(content) if thread_id is None else thread_id,
        lang=None,  # Matrix does not tell a message's language; the detector detects it
        created_at=event_time(source),
        author_is_bot=bool(own_user_id) and source.get("sender") == own_user_id,
        is_edit=is_edit,
    )


def normalize_reaction(key: str) -> str:
    """Reaction key without variation selectors and skin tones (``👍🏽`` -> ``👍``, ``✅️`` -> ``✅``)."""
    return _VARIATION_AND_SKIN.sub("", key or "").strip()


def invite_allowed(inviter: str | None, allowed: tuple[str, ...] | list[str]) -> bool:
    """May ``inviter`` add the bot to a room?

    ``allowed`` holds user ids (``@mod:example.org``) and server names (``example.org``). When it is empty,
    nobody may: on a public homeserver "users of the bot's own server" would mean anyone, so the bot only joins
    rooms once its operator has said whose invites to accept (the bot logs this at start).
    """
    if not inviter:
        return False
    server = server_part(inviter)
    for entry in allowed:
        entry = entry.strip()
        if entry.startswith("@"):
            if inviter == entry:
                return True
        elif entry and server.lower() == entry.lower():
            return True
    return False
