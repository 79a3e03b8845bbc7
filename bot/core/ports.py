"""Interfaces the core depends on and the other layers implement.

``bot.storage`` implements :class:`IncidentRepository` and :class:`SettingsRepository` with aiosqlite;
tests may use small recording fakes of these. The encoder is pluggable through :class:`Encoder`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from .models import Action, ChannelMode, Incident, IncidentStatus, Stance


class Encoder(Protocol):
    """Sentence encoder: texts -> L2-normalised float32 matrix (n, dim)."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


# ------------------------------------------------------------------------------------------ records


@dataclass(frozen=True)
class NewIncident:
    platform: str
    server_id: str
    channel_id: str
    message_id: str
    message_link: str
    author_id: str
    content: str
    talking_point_id: str
    stance: Stance
    score: float
    match_score: float
    action: Action
    explanation_json: str
    created_at: datetime


def server_key(platform: str, server_id: str) -> str:
    """The ``"platform:server_id"`` key of a server, as :attr:`IncidentFilter.scope` and the dashboard use it."""
    return f"{platform}:{server_id}"


@dataclass(frozen=True)
class IncidentFilter:
    platform: str | None = None
    server_id: str | None = None
    # restrict to these servers (dashboard access control): exact "platform:server_id" keys (a platform name
    # has no ':'); None = every server, () = none
    scope: tuple[str, ...] | None = None
    channel_id: str | None = None
    talking_point_id: str | None = None
    stance: Stance | None = None
    status: IncidentStatus | None = None
    author_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    order: str = "newest"  # "newest" | "oldest" | "score"


@dataclass(frozen=True)
class CardPost:
    """A card the bot posted (kept so it can be edited or retracted, and to enforce the reply budget)."""

    id: int
    platform: str
    server_id: str
    channel_id: str
    thread_id: str
    source_message_id: str  # the message the card answers
    post_message_id: str  # the bot's own message / event id
    talking_point_id: str
    author_id: str  # author of the source message
    incident_id: int | None
    lang: str
    pack_version: str
    created_at: datetime
    retracted: bool = False


@dataclass(frozen=True)
class AlertPost:
    """A moderator alert the bot posted (kept so it can be edited: resolved, or its excerpt removed)."""

    id: int
    platform: str
    incident_id: int
    channel_id: str  # the moderators' room or channel
    post_message_id: str  # the alert's own message / event id
    created_at: datetime
    content_removed: bool = False  # edited after the incident's content was purged


@dataclass(frozen=True)
class SuppressedReply:
    """A reply the budget held back (still logged)."""

    platform: str
    server_id: str
    channel_id: str
    source_message_id: str
    talking_point_id: str
    reason: str
    created_at: datetime


@dataclass(frozen=True)
class ServerSettings:
    platform: str
    server_id: str
    default_mode: ChannelMode = ChannelMode.REVIEW
    modlog_channel_id: str | None = None
    cooldown: timedelta = timedelta(minutes=30)  # per talking point per channel
    author_cooldown: timedelta = timedelta(minutes=10)
    hourly_cap: int = 6  # cards per channel per hour
    disabled_packs: tuple[str, ...] = ()
    moderator_role_id: str | None = None
    extra: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------------------- protocols


class IncidentRepository(Protocol):
    async def record_incident(self, new: NewIncident, group_window: timedelta) -> tuple[Incident, bool]:
        """Insert an incident and return it with True; but if the message already has an incident for the same
        talking point (an edit or a redelivery), return that one with False. Atomic: concurrent calls insert at
        most once. If the same author hit the same talking point in the same server within ``group_window``,
        the new row joins that group (``group_id`` = first incident's id, hit_count incremented on the group's
        first row)."""

    async def get_incident(self, incident_id: int) -> Incident | None: ...

    async def list_incidents(self, flt: IncidentFilter, limit: int = 50, offset: int = 0) -> list[Incident]: ...

    async def count_incidents(self, flt: IncidentFilter) -> int: ...

    async def resolve_incident(
        self, incident_id: int, status: IncidentStatus, reviewer: str, note: str | None
    ) -> Incident | None:
        """Set the verdict; returns the updated incident or None if it does not exist."""

    async def incidents_for_message(self, platform: str, channel_id: str, message_id: str) -> list[Incident]: ...

    async def purge_message_content(self, platform: str, channel_id: str, message_id: str) -> int:
        """The source message was deleted: blank stored content. Returns rows changed."""

    async def purge_content_before(self, cutoff: datetime) -> int:
        """Retention: blank content snapshots older than ``cutoff``. Returns rows changed."""

    async def update_message_content(self, platform: str, channel_id: str, message_id: str, content: str) -> int:
        """The source message was edited: its incidents' snapshots become the new text (purged ones stay
        purged). Returns rows changed."""

    async def record_card_post(self, post: CardPost) -> CardPost:
        """Store a posted card (``id`` ignored on input); returns it with its id."""

    async def card_post_for_source(self, platform: str, channel_id: str, source_message_id: str) -> CardPost | None: ...

    async def card_history(self, platform: str, channel_id: str, source_message_id: str,
                           since: datetime) -> tuple[CardPost | None, list[CardPost]]:
        """In one call: the newest card posted for the source message (any time), and every card posted in the
        channel since ``since``, oldest first (retracted ones included)."""

    async def card_post_by_post_id(self, platform: str, post_message_id: str) -> CardPost | None: ...

    async def mark_card_retracted(self, card_post_id: int) -> None: ...

    async def record_suppressed(self, s: SuppressedReply) -> None: ...

    async def record_alert_post(self, post: AlertPost) -> AlertPost:
        """Store a posted alert (``id`` ignored on input); returns it with its id."""

    async def alert_post_by_post_id(self, platform: str, post_message_id: str) -> AlertPost | None: ...

    async def alert_posts_for_incident(self, incident_id: int) -> list[AlertPost]: ...

    async def alerts_showing_purged_content(self, platform: str, limit: int = 100) -> list[AlertPost]:
        """Alerts not yet edited whose incident's content has been purged, oldest first."""

    async def mark_alert_content_removed(self, alert_post_id: int) -> None: ...

    async def record_feedback(self, card_post_id: int, user_id: str, helpful: bool) -> bool:
        """One vote per member per card: insert or replace; returns True if the vote is new or changed."""

    async def feedback_counts(self, card_post_id: int) -> tuple[int, int]:
        """(helpful, not_relevant)."""


class SettingsRepository(Protocol):
    async def get_server_settings(self, platform: str, server_id: str) -> ServerSettings: ...

    async def save_server_settings(self, settings: ServerSettings) -> None: ...

    async def get_channel_mode(self, platform: str, server_id: str, channel_id: str) -> ChannelMode:
        """Explicit channel mode if set, else the server's default mode (REVIEW for a new server)."""

    async def set_channel_mode(self, platform: str, server_id: str, channel_id: str, mode: ChannelMode) -> None: ...

    async def get_value(self, key: str) -> str | None:
        """Small key/value state (e.g. the Matrix sync token)."""

    async def set_value(self, key: str, value: str) -> None: ...


class CardReservations(Protocol):
    """Optional part of an :class:`IncidentRepository` for several processes sharing one database (see
    bot/core/reservations.py): the service uses it when the repository has ``reserve_card``."""

    async def reserve_card(
        self, post: CardPost, since: datetime, refuse: Callable[[CardPost | None, list[CardPost]], str | None],
    ) -> tuple[CardPost | None, str | None]:
        """Atomically (per channel, across processes): ask ``refuse(newest card for the source message, channel's
        cards since since)``; on None insert and return a placeholder card row, else return (None, reason)."""

    async def fill_card_post(self, card_post_id: int, post_message_id: str) -> CardPost | None: ...

    async def release_card(self, card_post_id: int) -> None: ...


# ------------------------------------------------------------------ campaigns (issue 16)


@dataclass(frozen=True)
class CampaignRecord:
    """A stored campaign (migration 0008): several accounts pushing one talking point or one copypasta."""

    id: int
    platform: str
    server_id: str
    kind: str  # "talking_point" | "copypasta"
    talking_point_id: str | None
    status: str  # "open" | "confirmed" | "false_positive" | "dismissed"
    first_at: datetime
    last_at: datetime
    message_count: int
    author_count: int
    alert_channel_id: str | None = None
    alert_message_id: str | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None


class CampaignRepository(Protocol):
    async def create_campaign(self, platform: str, server_id: str, kind: str, talking_point_id: str | None,
                              members: Sequence[Any]) -> CampaignRecord: ...

    async def add_members(self, campaign_id: int, members: Sequence[Any]) -> CampaignRecord | None: ...

    async def get_campaign(self, campaign_id: int) -> CampaignRecord | None: ...

    async def campaign_members(self, campaign_id: int) -> list[Any]: ...

    async def list_campaigns(self, platform: str | None = None, server_id: str | None = None,
                             status: str | None = None, limit: int = 50) -> list[CampaignRecord]: ...

    async def set_alert_post(self, campaign_id: int, channel_id: str, message_id: str) -> None: ...

    async def campaign_by_alert(self, platform: str, message_id: str) -> CampaignRecord | None: ...

    async def resolve_campaign(self, campaign_id: int, status: str, reviewer: str) -> CampaignRecord | None: ...

    async def purge_message_content(self, platform: str, channel_id: str, message_id: str) -> int: ...

    async def purge_author_content(self, platform: str, author_id: str) -> int: ...

    async def purge_content_before(self, cutoff: datetime) -> int: ...


# ------------------------------------------------------------------------ emerging narratives (issue #16.3)


@dataclass(frozen=True)
class NewNarrativeMember:
    cluster_id: int
    platform: str
    server_id: str
    channel_id: str
    message_id: str
    author_id: str
    lang: str
    content: str | None
    similarity: float
    p_assert: float
    created_at: datetime | None = None


@dataclass(frozen=True)
class NarrativeMember:
    id: int
    cluster_id: int
    platform: str
    server_id: str
    channel_id: str
    message_id: str
    author_id: str
    lang: str
    content: str | None  # None once purged by retention
    similarity: float
    p_assert: float
    created_at: datetime | None


@dataclass(frozen=True)
class NarrativeCluster:
    id: int
    size: int  # members ever kept (minus purged ones)
    recent: int  # members in the listing window
    servers: dict[str, int]  # "platform:server_id" -> members
    created_at: datetime | None
    last_at: datetime | None
    representatives: tuple[NarrativeMember, ...] = ()


class NarrativeRepository(Protocol):
    """Clusters of on-topic assertions that match no talking point (see :mod:`bot.core.narratives`)."""

    async def create_cluster(self, centre: np.ndarray) -> int: ...

    async def add_member(self, m: NewNarrativeMember, centre: np.ndarray | None = None) -> int: ...

    async def centres(self, limit: int = 2048) -> list[tuple[int, np.ndarray, int]]: ...

    async def list_clusters(self, *, since: datetime | None = None, min_servers: int = 1, limit: int = 50,
                            scope: Sequence[str] | None = None, min_members: int = 1) -> list[NarrativeCluster]: ...

    async def get_cluster(self, cluster_id: int, *, scope: Sequence[str] | None = None
                          ) -> NarrativeCluster | None: ...

    async def members(self, cluster_id: int, limit: int = 200, *,
                      scope: Sequence[str] | None = None) -> list[NarrativeMember]: ...

    async def purge_content_before(self, cutoff: datetime) -> int: ...

    async def purge_message(self, platform: str, channel_id: str, message_id: str) -> int: ...

    async def purge_user(self, platform: str, author_id: str) -> int: ...

    async def purge_channel(self, platform: str, channel_id: str) -> int: ...

    async def purge_server(self, platform: str, server_id: str) -> int: ...
