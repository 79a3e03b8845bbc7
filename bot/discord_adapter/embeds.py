"""Core values -> discord.Embed.

All user- and pack-supplied text goes through :func:`bot.core.sanitize.neutralize_mentions` (and is clipped to
Discord's embed limits) before it is placed in an embed. Sends additionally use ``AllowedMentions.none()``.
"""

from __future__ import annotations

import re
from typing import Iterable
from urllib.parse import quote, urlsplit

import discord

from bot.core.cards import footnotes, no_url, section_label, shown_date
from bot.core.models import Decision, Incident, IncidentStatus, RenderedCard, Source, TalkingPoint
from bot.core.phrases import check_reason, phrase, stance_name
from bot.core.sanitize import clip, neutralize_mentions, safe_snippet

# Discord embed limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits)
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
FIELDS_MAX = 25
TOTAL_MAX = 6000
MAX_SOURCE_FIELDS = 3
MIN_SUMMARY = 600  # pack summaries are at most 600 characters; optional fields go before it is clipped

CARD_COLOUR = discord.Colour(0x3B82F6)
ALERT_COLOUR = discord.Colour(0xF59E0B)
STATUS_COLOUR = {
    IncidentStatus.OPEN: ALERT_COLOUR,
    IncidentStatus.CONFIRMED: discord.Colour(0xDC2626),
    IncidentStatus.FALSE_POSITIVE: discord.Colour(0x16A34A),
    IncidentStatus.DISMISSED: discord.Colour(0x6B7280),
}
STATUS_LABEL = {
    IncidentStatus.OPEN: "Open",
    IncidentStatus.CONFIRMED: "Confirmed",
    IncidentStatus.FALSE_POSITIVE: "False positive",
    IncidentStatus.DISMISSED: "Dismissed",
}

#: Shown instead of a message's text once it was deleted or its stored content purged (retention).
CONTENT_REMOVED = "*(content removed)*"

_LINK_TEXT_ESCAPE = re.compile(r"([\[\]\\*_~`|>])")


def safe(text: str | None, limit: int) -> str:
    """Mention-neutralised and clipped to ``limit`` characters (Discord counts code points)."""
    return clip(neutralize_mentions(text or ""), limit)


def safe_url(url: str) -> str | None:
    """An http(s) URL safe to put inside ``[text](url)``, or None if it is not one."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    # keep reserved characters, percent-encode what would end or break the markdown link
    return quote(url, safe=":/?#[]@!$&'*+,;=%~-._")


def _link_text(text: str) -> str:
    return _LINK_TEXT_ESCAPE.sub(r"\\\1", " ".join(text.split()))


def source_line(source: Source, number: int, lang: str = "en") -> str:
    """``[n] [publisher: title](url) (date)``: numbered as the card's footnotes cite it."""
    label = _link_text(neutralize_mentions(f"{source.publisher}: {source.title}"))
    url = safe_url(source.url)
    shown = shown_date(source)
    date = f" ({neutralize_mentions(shown)})" if shown else ""
    if url:
        line = f"[{label}]({url}){date}"
    else:  # an unsafe URL is left out; a source named without a URL says so
        line = f"{label}{date}" + ("" if source.url else f" {no_url(lang)}")
    return f"{footnotes([number])} {line}"


def _packed_lines(lines: Iterable[str], limit: int = FIELD_VALUE_MAX) -> list[str]:
    """Group lines into field values of at most ``limit`` characters without cutting a line (links!)."""
    chunks: list[str] = []
    current = ""
    for line in lines:
        line = clip(line, limit)
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current:
        chunks.append(current)
    return chunks


def _fit(embed: discord.Embed) -> discord.Embed:
    """Drop trailing fields until the embed fits Discord's 6000-character total."""
    while len(embed) > TOTAL_MAX and embed.fields:
        embed.remove_field(len(embed.fields) - 1)
    return embed


def card_embed(card: RenderedCard) -> discord.Embed:
    """The context card: title, summary, key facts, why it matters, sources as links, footer.

    Everything fits Discord's limits, including the 6000-character total: sources are never cut mid-link and
    are kept in preference to "why it matters" and the key facts, which go before the summary gets short.
    """
    title = safe("ℹ️ " + card.title, TITLE_MAX)
    footer = safe(card.footer, FIELD_VALUE_MAX)
    label = lambda section: section_label(card.lang, section)  # noqa: E731
    fields: list[tuple[str, str, str]] = []  # (part, heading, value)
    # four key facts of up to 300 characters plus footnotes exceed one field: whole facts go on in a second one
    facts = _packed_lines(f"• {neutralize_mentions(f)}" for f in card.key_facts)
    fields += [("key_facts", label("key_facts") if i == 0 else f"{label('key_facts')} ({label('more')})", chunk)
               for i, chunk in enumerate(facts)]
    if card.why_it_matters:
        fields.append(("why", label("why"), safe(card.why_it_matters, FIELD_VALUE_MAX)))
    chunks = _packed_lines(source_line(s, n, card.lang) for n, s in enumerate(card.sources, 1))[:MAX_SOURCE_FIELDS]
    fields += [("sources", label("sources") if i == 0 else f"{label('sources')} ({label('more')})", chunk)
               for i, chunk in enumerate(chunks)]

    summary = neutralize_mentions(card.summary or "")
    used = lambda: len(title) + len(footer) + sum(len(n) + len(v) for _, n, v in fields)  # noqa: E731
    for optional in ("why", "key_facts"):
        if TOTAL_MAX - used() >= min(len(summary), MIN_SUMMARY):
            break
        fields = [f for f in fields if f[0] != optional]
    embed = discord.Embed(title=title, colour=CARD_COLOUR,
                          description=clip(summary, max(0, min(DESCRIPTION_MAX, TOTAL_MAX - used()))) or None)
    for _, name, value in fields:
        embed.add_field(name=name, value=value, inline=False)
    embed.set_footer(text=footer)
    return _fit(embed)


def decision_embed(decision: Decision, title: str | None, lang: str | None = None) -> discord.Embed:
    """/check and the context menu: what the detector thinks, for the member who asked, in ``lang`` (the member's
    Discord language; English when the bot does not speak it), with :func:`bot.core.phrases.check_reason`."""
    ex = decision.explanation
    if decision.talking_point_id is None:
        embed = discord.Embed(title=phrase(lang, "no_match"), colour=discord.Colour(0x6B7280))
    else:
        embed = discord.Embed(title=safe(phrase(lang, "resembles", title=title or decision.talking_point_id), TITLE_MAX),
                              colour=CARD_COLOUR)
        embed.add_field(name=phrase(lang, "talking_point"), value=safe(f"`{decision.talking_point_id}`", FIELD_VALUE_MAX))
        embed.add_field(name=phrase(lang, "stance"), value=stance_name(lang, decision.stance))
        embed.add_field(name=phrase(lang, "score"), value=phrase(lang, "score_value", score=f"{decision.score:.2f}",
                                                                 match=f"{ex.match_score:.2f}"))
        embed.set_footer(text=phrase(lang, "check_footer", language=ex.language))
    reason = check_reason(decision, lang)
    if reason is not None:
        embed.description = safe(reason, DESCRIPTION_MAX)
    return embed


def incident_embed(incident: Incident, tp: TalkingPoint | None, *, title: str | None = None) -> discord.Embed:
    """One incident for moderators (alerts, /incidents show)."""
    tp_title = tp.title if tp else incident.talking_point_id
    embed = discord.Embed(
        title=safe(title or f"Incident #{incident.id}: {tp_title}", TITLE_MAX),
        colour=STATUS_COLOUR.get(incident.status, ALERT_COLOUR),
        timestamp=incident.created_at,
    )
    excerpt = safe_snippet(incident.content, 900) if incident.content is not None else CONTENT_REMOVED
    embed.description = f">>> {excerpt}" if excerpt else None
    embed.add_field(name="Channel", value=f"<#{incident.channel_id}>")
    embed.add_field(name="Author", value=f"<@{incident.author_id}>")  # embeds never ping
    embed.add_field(name="Stance", value=str(incident.stance))
    embed.add_field(name="Score", value=f"{incident.score:.2f} (match {incident.match_score:.2f})")
    embed.add_field(name="Action", value=str(incident.action))
    status = STATUS_LABEL.get(incident.status, str(incident.status))
    if incident.reviewer:
        status += f" by {safe(incident.reviewer, 100)}"
    embed.add_field(name="Status", value=status)
    if incident.hit_count > 1 or incident.group_id:
        embed.add_field(name="Repeats", value=f"group {incident.group_id or incident.id}, {incident.hit_count} hit(s)")
    if incident.note:
        embed.add_field(name="Note", value=safe(incident.note, FIELD_VALUE_MAX), inline=False)
    if incident.message_link:
        embed.add_field(name="Message", value=safe(incident.message_link, FIELD_VALUE_MAX), inline=False)
    embed.set_footer(text=f"incident {incident.id} · talking point {incident.talking_point_id}")
    return _fit(embed)


def alert_embed(first: Incident, tp: TalkingPoint | None, *, reason: str | None, later: int = 0, accounts: int = 0,
                last: Incident | None = None) -> discord.Embed:
    """A moderator alert: its first incident (while open: titled for review, with the detector's reason) and the
    ``later`` hits folded into it since, ``accounts`` authors in all, the ``last`` one quoted."""
    is_open = first.status is IncidentStatus.OPEN
    title = f"Review: incident #{first.id}: {tp.title if tp else first.talking_point_id}" if is_open else None
    embed = incident_embed(first, tp, title=title)
    if is_open and reason:
        embed.add_field(name="Why", value=safe(reason, FIELD_VALUE_MAX), inline=False)
    if later:
        lines = [f"{later} more incident(s) since this alert; {accounts} account(s) in all."]
        if last is not None:
            excerpt = safe_snippet(last.content, 300) if last.content is not None else CONTENT_REMOVED
            lines.append(f"Latest: #{last.id} by <@{last.author_id}> in <#{last.channel_id}>: {excerpt}")  # no ping
        lines.append("See `/incidents list` for each one.")
        embed.add_field(name="Later hits", value=clip("\n".join(lines), FIELD_VALUE_MAX), inline=False)
    return _fit(embed)


def incident_line(incident: Incident) -> str:
    """One line of the /incidents list."""
    status = STATUS_LABEL.get(incident.status, str(incident.status))
    snippet = safe_snippet(incident.content, 80) if incident.content is not None else "(purged)"
    when = discord.utils.format_dt(incident.created_at, "R")
    return f"**#{incident.id}** · {status} · `{incident.talking_point_id}` · <#{incident.channel_id}> · {when}\n{snippet}"


def incidents_page_embed(incidents: list[Incident], *, page: int, pages: int, total: int, filters: str) -> discord.Embed:
    embed = discord.Embed(title=f"Incidents ({total})", colour=ALERT_COLOUR)
    lines = [incident_line(i) for i in incidents] or ["No incidents match."]
    embed.description = clip("\n\n".join(lines), DESCRIPTION_MAX)
    embed.set_footer(text=clip(f"Page {page + 1}/{max(pages, 1)}" + (f" · {filters}" if filters else ""), FOOTER_MAX))
    return embed


def notice_embed(text: str, *, title: str = "contextbot") -> discord.Embed:
    return discord.Embed(title=title, description=safe(text, DESCRIPTION_MAX), colour=discord.Colour(0x6B7280))
