"""Formatting and parsing helpers the dashboard's pages share: dates in ISO UTC, percentages, safe links, CSV
cells, incident rows for the exports. No aiohttp here."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from typing import Any

from ..core.models import Incident


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def fmt_dt(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def fmt_pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def safe_url(url: str | None) -> str | None:
    """Only http(s) links become hrefs (a stored ``javascript:`` link stays text)."""
    if url and url.strip().lower().startswith(("https://", "http://")):
        return url.strip()
    return None


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def csv_safe(value: Any) -> Any:
    """Spreadsheet formula-injection guard: text cells starting with = + - @ (or tab/CR) get a leading '."""
    if isinstance(value, str) and value and (value[0] in _FORMULA_START or value.lstrip()[:1] in _FORMULA_START):
        return "'" + value
    return value


def parse_day(value: str) -> date | None:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


def start_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def explanation_of(incident: Incident) -> dict[str, Any]:
    try:
        data = json.loads(incident.explanation_json or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def incident_dict(i: Incident, *, with_explanation: bool = False) -> dict[str, Any]:
    d: dict[str, Any] = {
        "id": i.id, "created_at": i.created_at.isoformat(), "platform": i.platform, "server_id": i.server_id,
        "channel_id": i.channel_id, "message_id": i.message_id, "message_link": i.message_link,
        "author_id": i.author_id, "talking_point_id": i.talking_point_id, "stance": i.stance.value,
        "score": i.score, "match_score": i.match_score, "action": i.action.value, "status": i.status.value,
        "reviewer": i.reviewer, "note": i.note, "resolved_at": i.resolved_at.isoformat() if i.resolved_at else None,
        "group_id": i.group_id, "hit_count": i.hit_count, "content": i.content,
    }
    if with_explanation:
        d["explanation"] = explanation_of(i)
    return d



def verdict_version(i: Incident) -> str:
    """What a verdict form was filled in for: the incident's status, when and by whom it was last resolved.
    Posted back with the form, so a verdict given meanwhile by a colleague is noticed (see verdicts.is_stale)."""
    return "|".join((i.status.value, i.resolved_at.isoformat() if i.resolved_at else "", i.reviewer or ""))
