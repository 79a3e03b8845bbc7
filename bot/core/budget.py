"""Reply budget: how often the bot may post cards. Pure functions over the stored card posts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Sequence

from .models import IncomingMessage
from .ports import CardPost, ServerSettings

THREAD_WINDOW = timedelta(hours=24)


def history_window(settings: ServerSettings) -> timedelta:
    """How far back card posts must be loaded to evaluate :func:`budget_refusal`."""
    return max(settings.cooldown, settings.author_cooldown, timedelta(hours=1), THREAD_WINDOW)


def budget_refusal(
    now: datetime,
    recent_posts: Sequence[CardPost],
    msg: IncomingMessage,
    talking_point_id: str,
    settings: ServerSettings,
) -> str | None:
    """Why a card may not be posted now, or None if it may.

    ``recent_posts`` are the channel's card posts within :func:`history_window`.
    """
    live = [p for p in recent_posts if not p.retracted]
    if msg.thread_id and any(p.thread_id == msg.thread_id for p in live if now - p.created_at <= THREAD_WINDOW):
        return "thread already has a card"
    if any(p.talking_point_id == talking_point_id and now - p.created_at < settings.cooldown for p in live):
        return f"talking point cooldown ({int(settings.cooldown.total_seconds() // 60)} min)"
    if any(p.author_id == msg.author_id and now - p.created_at < settings.author_cooldown for p in live):
        return f"author cooldown ({int(settings.author_cooldown.total_seconds() // 60)} min)"
    last_hour = sum(1 for p in live if now - p.created_at < timedelta(hours=1))
    if last_hour >= settings.hourly_cap:
        return f"hourly cap ({settings.hourly_cap} cards per channel)"
    return None
