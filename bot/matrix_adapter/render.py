"""Core results -> Matrix event content (``m.notice`` with plain ``body`` and escaped HTML).

Every piece of text that reaches a room goes through :func:`esc` (mention neutralisation + HTML escaping) and
every content dict carries ``"m.mentions": {}`` so clients that implement intentional mentions ping nobody —
not even the author of the message a card replies to. No reply fallback is included (it would echo the
talking point back into the room). Links are only emitted for http(s) URLs that are not matrix.to permalinks
(those render as user/room pills in Element).

User and room ids the bot names itself (an incident's author, a reviewer) are shown verbatim in inline code
(:class:`Verbatim`): copyable as they are, with no zero-width space inside, and never a mention (code is not
turned into a pill, and ``m.mentions`` is empty). Ids inside members' text are neutralised like the rest of it.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence, Union
from urllib.parse import urlsplit

from bot.core.cards import card_as_text, footnotes, no_url, shown_date, sources_label
from bot.core.models import Incident, IncidentStatus, RenderedCard
from bot.core.phrases import phrase
from bot.core.sanitize import clip, neutralize_mentions, safe_snippet

HTML_FORMAT = "org.matrix.custom.html"


def plain(text: str) -> str:
    """Text for a plain ``body``: mentions neutralised."""
    return neutralize_mentions(text or "")


def esc(text: str) -> str:
    """Text for ``formatted_body``: mentions neutralised, then HTML-escaped."""
    return html.escape(neutralize_mentions(text or ""), quote=True)


def safe_href(url: str) -> str | None:
    """The URL if it is safe to link (http/https, not a matrix.to permalink), else None."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    host = (parts.hostname or "").lower()
    if host == "matrix.to" or host.endswith(".matrix.to"):
        return None
    return html.escape(url.strip(), quote=True)


def relates_to(reply_to: str | None = None, thread_root: str = "") -> dict[str, Any] | None:
    """``m.relates_to`` for a reply (optionally inside a thread)."""
    if thread_root:
        rel: dict[str, Any] = {"rel_type": "m.thread", "event_id": thread_root, "is_falling_back": False}
        if reply_to:
            rel["m.in_reply_to"] = {"event_id": reply_to}
        return rel
    if reply_to:
        return {"m.in_reply_to": {"event_id": reply_to}}
    return None


def notice_content(
    body: str,
    formatted: str | None = None,
    *,
    reply_to: str | None = None,
    thread_root: str = "",
) -> dict[str, Any]:
    """An ``m.notice``. ``body`` is neutralised here; ``formatted`` must already be escaped HTML."""
    return _notice(plain(body), formatted, reply_to=reply_to, thread_root=thread_root)


def _notice(safe_body: str, formatted: str | None, *, reply_to: str | None, thread_root: str) -> dict[str, Any]:
    content: dict[str, Any] = {"msgtype": "m.notice", "body": safe_body, "m.mentions": {}}
    if formatted is not None:
        content["format"] = HTML_FORMAT
        content["formatted_body"] = formatted
    rel = relates_to(reply_to, thread_root)
    if rel:
        content["m.relates_to"] = rel
    return content


def text_notice(text: str, *, reply_to: str | None = None, thread_root: str = "") -> dict[str, Any]:
    """A plain-text notice whose HTML version keeps the line breaks."""
    formatted = "<br>".join(esc(line) for line in (text or "").split("\n"))
    return notice_content(text, formatted, reply_to=reply_to, thread_root=thread_root)


@dataclass(frozen=True)
class Verbatim:
    """An id shown exactly as it is, in inline code: copyable, and never a mention."""

    text: str


#: One line of a notice: text (neutralised and escaped) and ids (:class:`Verbatim`).
Line = Union[str, Verbatim, Sequence[Union[str, Verbatim]]]


def code_span(text: str) -> str:
    """``text`` as a Markdown-style code span for a plain body (a fence longer than any backtick run in it)."""
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _parts(line: Line) -> Sequence[str | Verbatim]:
    return (line,) if isinstance(line, (str, Verbatim)) else line


def lines_notice(lines: Iterable[Line], *, reply_to: str | None = None, thread_root: str = "") -> dict[str, Any]:
    """A notice of ``lines`` whose text parts are neutralised and whose :class:`Verbatim` ids are code spans."""
    body, formatted = [], []
    for line in lines:
        parts = _parts(line)
        body.append("".join(code_span(p.text) if isinstance(p, Verbatim) else plain(p) for p in parts))
        formatted.append("".join(f"<code>{html.escape(p.text, quote=True)}</code>" if isinstance(p, Verbatim)
                                 else esc(p) for p in parts))
    return _notice("\n".join(body), "<br>".join(formatted), reply_to=reply_to, thread_root=thread_root)


def replacement_content(event_id: str, new: Mapping[str, Any]) -> dict[str, Any]:
    """An ``m.replace`` edit of the bot's own event ``event_id`` to the content ``new`` (which keeps no relation:
    an edit cannot move a reply or a thread). The outer body is the usual "* " fallback for old clients."""
    new_content = {k: v for k, v in new.items() if k != "m.relates_to"}
    new_content["m.mentions"] = {}
    content: dict[str, Any] = {
        "msgtype": new_content["msgtype"],
        "body": "* " + new_content["body"],
        "m.new_content": new_content,
        "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
        "m.mentions": {},
    }
    if "formatted_body" in new_content:
        content["format"] = new_content["format"]
        content["formatted_body"] = "* " + new_content["formatted_body"]
    return content


def withdrawn_card_content(card_event_id: str, lang: str) -> dict[str, Any]:
    """The edit that takes a card down: a one-line notice in the card's language."""
    return replacement_content(card_event_id, text_notice(phrase(lang, "card_withdrawn")))


# ------------------------------------------------------------------------------------------- cards


def card_text(card: RenderedCard) -> str:
    return plain(card_as_text(card, source_prefix=""))


def card_html(card: RenderedCard) -> str:
    label = sources_label(card.lang)
    parts = [f"<h4>{esc(card.title)}</h4>", f"<p>{esc(card.summary)}</p>"]
    if card.key_facts:
        parts.append("<ul>" + "".join(f"<li>{esc(f)}</li>" for f in card.key_facts) + "</ul>")
    if card.why_it_matters:
        parts.append(f"<p><em>{esc(card.why_it_matters)}</em></p>")
    if card.sources:
        items = []
        for n, s in enumerate(card.sources, 1):
            text = f"{esc(s.publisher)}: {esc(s.title)}"
            href = safe_href(s.url)
            date = shown_date(s)
            when = f" ({esc(date)})" if date else ""
            if href:
                item = f'<a href="{href}">{text}</a>{when}'
            else:  # an unsafe URL is shown as text; a source named without a URL says so
                item = f"{text}{when} " + (f"({esc(s.url)})" if s.url else esc(no_url(card.lang)))
            items.append(f"<li>{footnotes([n])} {item}</li>")
        parts.append(f"<p><strong>{esc(label)}</strong></p><ul>{''.join(items)}</ul>")
    parts.append(f"<p><sub>{esc(card.footer)}</sub></p>")
    return "".join(parts)


def card_content(card: RenderedCard, *, reply_to: str | None, thread_root: str = "") -> dict[str, Any]:
    """The context card as an ``m.notice`` replying to ``reply_to``."""
    return notice_content(card_text(card), card_html(card), reply_to=reply_to, thread_root=thread_root)


# --------------------------------------------------------------------------------------- incidents


def _when(incident: Incident) -> str:
    return incident.created_at.strftime("%Y-%m-%d %H:%M UTC")


def incident_line(i: Incident, *, with_id: bool = True) -> str:
    snippet = excerpt(i, 80)
    return ((f"#{i.id} " if with_id else "") + f"{i.status.value} · {i.talking_point_id} · {i.stance.value} "
            f"{i.score:.2f} · {i.action.value} · {_when(i)} · {snippet}")


def incidents_content(incidents: Iterable[Incident], *, header: str, reply_to: str | None,
                      thread_root: str = "", footer: str = "") -> dict[str, Any]:
    rows = list(incidents)
    lines = [header] + ([incident_line(i) for i in rows] or ["(none)"]) + ([footer] if footer else [])
    html_rows = "".join(
        f"<li><a href=\"{html.escape(i.message_link, quote=True)}\">#{i.id}</a> {esc(incident_line(i, with_id=False))}</li>"
        if i.message_link.startswith("https://matrix.to/#/!") else f"<li>{esc(incident_line(i))}</li>"
        for i in rows
    ) or "<li>(none)</li>"
    formatted = f"<p>{esc(header)}</p><ul>{html_rows}</ul>" + (f"<p>{esc(footer)}</p>" if footer else "")
    return notice_content("\n".join(lines), formatted, reply_to=reply_to, thread_root=thread_root)


def room_label(room_id: str, room_name: str | None) -> Line:
    """A room as moderators recognise it: its name, or its id (verbatim) when it has none."""
    return room_name if room_name else Verbatim(room_id)


def excerpt(i: Incident, limit: int) -> str:
    return safe_snippet(i.content, limit) or "(content removed)"


def incident_detail(i: Incident, title: str | None, room_name: str | None = None) -> list[Line]:
    lines: list[Line] = [
        f"Incident #{i.id} — {i.status.value}",
        f"Talking point: {title + ' ' if title else ''}({i.talking_point_id})",
        f"Stance: {i.stance.value} · score {i.score:.2f} · match {i.match_score:.2f} · action {i.action.value}",
        ("Room: ", room_label(i.channel_id, room_name), f" · message: {i.message_link}"),
        ("Author: ", Verbatim(i.author_id)),
        f"Logged: {_when(i)}" + (f" · repeat #{i.hit_count}" if i.hit_count > 1 else ""),
        f"Message: {excerpt(i, 500)}",
    ]
    if i.reviewer:
        lines.append(("Reviewed by ", Verbatim(i.reviewer)) + ((f": {clip(i.note, 300)}",) if i.note else ()))
    return lines


def alert_lines(i: Incident, title: str | None, prefix: str, room_name: str | None = None) -> list[Line]:
    """An alert shows the incident as it is now: after a verdict or an edit its status, after a deletion or a
    retention purge no excerpt."""
    if i.status is IncidentStatus.OPEN:
        head: Line = f"⚠️ contextbot incident #{i.id} needs review"
    else:
        head = (f"contextbot incident #{i.id}: {i.status.value}",) + ((" by ", Verbatim(i.reviewer)) if i.reviewer else ())
    lines: list[Line] = [
        head,
        f"Talking point: {title + ' ' if title else ''}({i.talking_point_id})",
        f"Stance: {i.stance.value} · score {i.score:.2f} · action {i.action.value}",
        ("Room: ", room_label(i.channel_id, room_name), f" · message: {i.message_link}"),
        ("Author: ", Verbatim(i.author_id)),
        f"Message: {excerpt(i, 300)}",
    ]
    if i.status is IncidentStatus.OPEN:
        lines.append(f"React ✅ to confirm or ❌ for a false positive, or: {prefix} resolve {i.id} "
                     "confirmed|false_positive|dismissed [note]")
    elif i.note:
        lines.append(f"Note: {clip(i.note, 300)}")
    return lines


def alert_content(i: Incident, title: str | None, prefix: str, room_name: str | None = None) -> dict[str, Any]:
    return lines_notice(alert_lines(i, title, prefix, room_name))


_CODE_SPAN = re.compile(r"(`+)[^`\n]*?\1")
_CODE_ELEMENT = re.compile(r"<code>[^<]*</code>")
_PING = re.compile(r"@room\b|matrix\.to/#/(?:@|%40)(?!\u200b)|@[A-Za-z0-9._=\-/]+:[A-Za-z0-9.\-]+", re.IGNORECASE)


def content_is_quiet(content: Mapping[str, Any]) -> bool:
    """True when content cannot ping anyone: ``m.mentions`` is empty and no text outside code holds an intact
    @room, @user:server or matrix.to user permalink (used by tests as an invariant of every bot message)."""
    if content.get("m.mentions") != {}:
        return False
    body = _CODE_SPAN.sub("", str(content.get("body", "")))  # ids shown verbatim in code (see Verbatim)
    formatted = _CODE_ELEMENT.sub("", str(content.get("formatted_body", "")))
    return not (_PING.search(body) or _PING.search(formatted))
