"""Make user- or pack-supplied text safe to echo on chat platforms.

Platforms are also told not to ping anyone (allowed_mentions / no pills); this is the second line of
defence so that even a misconfigured send cannot ping @everyone or a user.
"""

from __future__ import annotations

import re

ZWSP = "\u200b"
_MASS = re.compile(r"@(everyone|here|room)\b", re.IGNORECASE)
_DISCORD_MENTION = re.compile(r"<(@[!&]?|#)(\d+)>")
_MATRIX_USER = re.compile(r"@([A-Za-z0-9._=\-/]+):([A-Za-z0-9.\-]+)")


def neutralize_mentions(text: str) -> str:
    """Break @everyone/@here/@room, Discord <@id>/<@&id>/<#id> and Matrix @user:server mentions."""
    text = _MASS.sub(lambda m: "@" + ZWSP + m.group(1), text)
    text = _DISCORD_MENTION.sub(lambda m: "<" + m.group(1) + ZWSP + m.group(2) + ">", text)
    return _MATRIX_USER.sub(lambda m: "@" + ZWSP + m.group(1) + ":" + m.group(2), text)


def clip(text: str, limit: int, ellipsis: str = "…") -> str:
    """Shorten to at most ``limit`` characters."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(ellipsis))] + ellipsis


def safe_snippet(text: str | None, limit: int = 300) -> str:
    """A one-line, clipped, mention-neutralised excerpt of user text for moderator views."""
    if not text:
        return ""
    one_line = " ".join(text.split())
    return neutralize_mentions(clip(one_line, limit))
