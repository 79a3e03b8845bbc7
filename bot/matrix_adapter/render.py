"""Core results -> Matrix event content (``m.notice`` with plain ``body`` and escaped HTML).

Every piece of text that reaches a room goes through :func:`esc` (mention neutralisation + HTML escaping) and
every content dict carries ``"m.mentions": {}`` so clients that implement intentional mentions ping nobody —
not even the author of the message a card replies to. No reply fallback is included (it would echo the
talking point back into the room). Links are only emitted for http(s) URLs that are not matrix.to permalinks
(those render as user/room pills in Element).
"""

from __future__ import annotations

import html
import re
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

from bot.core.cards import card_as_text, footnotes, no_url, shown_date, sources_label
from bot.core.models import Incident, RenderedCard
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
    content: dict[str, Any] = {"msgtype": "m.notice", "body": plain(body), "m.mentions": {}}
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
    snippet = safe_snippet(i.content, 80) or "(content purged)"
    return ((f"#{i.id} " if with_id else "") + f"{i.status.value} · {i.talking_point_id} · {i.stance.value} "
            f"{i.score:.2f} · {i.action.value} · {_when(i)} · {snippet}")


def incidents_content(incidents: Iterable[Incident], *, header: str, reply_to: str | None,
                      thread_root: str = "") -> dict[str, Any]:
    rows = list(incidents)
    lines = [header] + ([incident_line(i) for i in rows] or ["(none)"])
    html_rows = "".join(
        f"<li><a href=\"{html.escape(i.message_link, quote=True)}\">#{i.id}</a> {esc(incident_line(i, with_id=False))}</li>"
        if i.message_link.startswith("https://matrix.to/#/!") else f"<li>{esc(incident_line(i))}</li>"
        for i in rows
    ) or "<li>(none)</li>"
    formatted = f"<p>{esc(header)}</p><ul>{html_rows}</ul>"
    return notice_content("\n".join(lines), formatted, reply_to=reply_to, thread_root=thread_root)


def incident_detail_text(i: Incident, title: str | None) -> str:
    lines = [
        f"Incident #{i.id} — {i.status.value}",
        f"Talking point: {title + ' ' if title else ''}({i.talking_point_id})",
        f"Stance: {i.stance.value} · score {i.score:.2f} · match {i.match_score:.2f} · action {i.action.value}",
        f"Room: {i.channel_id} · message: {i.message_link}",
        f"Author: {i.author_id}",
        f"Logged: {_when(i)}" + (f" · repeat #{i.hit_count}" if i.hit_count > 1 else ""),
        f"Message: {safe_snippet(i.content, 500) or '(content purged)'}",
    ]
    if i.reviewer:
        lines.append(f"Reviewed by {i.reviewer}" + (f": {clip(i.note, 300)}" if i.note else ""))
    return "\n".join(lines)


def alert_text(i: Incident, title: str | None, prefix: str) -> str:
    return "\n".join([
        f"⚠️ contextbot incident #{i.id} needs review",
        f"Talking point: {title + ' ' if title else ''}({i.talking_point_id})",
        f"Stance: {i.stance.value} · score {i.score:.2f} · action {i.action.value}",
        f"Room: {i.channel_id} · message: {i.message_link}",
        f"Author: {i.author_id}",
        f"Message: {safe_snippet(i.content, 300) or '(content purged)'}",
        f"React ✅ to confirm or ❌ for a false positive, or: {prefix} resolve {i.id} confirmed|false_positive|dismissed [note]",
    ])


def alert_content(i: Incident, title: str | None, prefix: str) -> dict[str, Any]:
    return text_notice(alert_text(i, title, prefix))


_PING = re.compile(r"@room\b|matrix\.to/#/(?:@|%40)(?!\u200b)|@[A-Za-z0-9._=\-/]+:[A-Za-z0-9.\-]+", re.IGNORECASE)


def content_is_quiet(content: Mapping[str, Any]) -> bool:
    """True when content cannot ping anyone: ``m.mentions`` is empty and no text holds an intact @room,
    @user:server or matrix.to user permalink (used by tests as an invariant of every bot message)."""
    if content.get("m.mentions") != {}:
        return False
    return not any(_PING.search(str(content.get(key, ""))) for key in ("body", "formatted_body"))
