"""Composition root: the one place that builds and wires every part of contextbot."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from .config import Config
from .core.detector import Detector
from .core.encoder_process import ProcessEncoder
from .core.packs import PackRegistry, default_pack_dirs, load_pack
from .core.ports import Encoder
from .core.service import IncidentService

log = logging.getLogger(__name__)


def load_registry(config: Config) -> PackRegistry:
    paths: list[Path] = list(default_pack_dirs()) if config.packs.include_default else []
    paths += list(config.packs.paths)
    packs = [load_pack(p) for p in paths]
    packs = [p for p in packs if p.id not in config.packs.disabled]
    return PackRegistry(packs)


def build_detector(config: Config, registry: PackRegistry, encoder: Encoder | None = None) -> Detector:
    return Detector.build(registry, config.detector, encoder=encoder)


def build_campaign_desk(config: Config, db: object):
    """Campaign tracking (issue 16), or None when [campaigns] enabled = false."""
    from .core.campaign_desk import CampaignDesk
    from .core.campaigns import CampaignTracker
    from .storage.campaigns import SqliteCampaignRepository

    if not config.campaigns.enabled:
        return None
    return CampaignDesk(CampaignTracker(config.campaigns), SqliteCampaignRepository(db))


@dataclass
class App:
    config: Config
    registry: PackRegistry
    detector: Detector
    db: object  # aiosqlite.Connection (kept opaque here)
    service: IncidentService
    owned_encoder: ProcessEncoder | None = None  # the encoder child build_app started: closed with the app
    change_feed: object | None = None  # other processes' changes (bot/storage/changes.py), started by build_app

    async def close(self) -> None:
        try:
            if self.change_feed is not None:
                await self.change_feed.close()  # type: ignore[attr-defined]
            await self.db.close()
        finally:
            if self.owned_encoder is not None:
                encoder, self.owned_encoder = self.owned_encoder, None
                await asyncio.to_thread(encoder.close)


async def build_app(
    config: Config,
    *,
    encoder: Encoder | None = None,
    detector: Detector | None = None,
    database: str | Path | None = None,
) -> App:
    """Load packs, build (or reuse) the detector, open and migrate the database, wire the service."""
    from .dashboard.learning import VerdictLearner, restore_learning
    from .storage import CachingSettingsRepository, SqliteIncidentRepository, SqliteSettingsRepository, open_database
    from .storage.dashboard import SqliteDashboardRepository

    registry = load_registry(config) if detector is None else detector.registry
    owned = None
    if detector is None and encoder is None and config.detector.encoder_process:
        # a long-running bot: the encoder gets a process (a core and a GIL) of its own
        owned = encoder = await asyncio.to_thread(ProcessEncoder)
        log.info("sentence encoder %s running in process %s", owned.name, owned.child_pid())
    db = None
    try:
        detector = detector or build_detector(config, registry, encoder)
        db = await open_database(database if database is not None else config.storage.database)
        await restore_learning(db, detector)  # moderators' verdicts (per-server exemplars) and per-point policies
    except BaseException:
        if db is not None:
            await db.close()
        if owned is not None:
            owned.close()
        raise
    service = IncidentService(
        detector,
        registry,
        SqliteIncidentRepository(db),
        CachingSettingsRepository(SqliteSettingsRepository(db)),
        group_window=timedelta(hours=config.storage.group_window_hours),
        learner=VerdictLearner(SqliteDashboardRepository(db), detector),  # chat verdicts teach it too
        # with the encoder in its own process, one batch is encoded there while the previous one's stance and
        # policy run here
        batches_in_flight=2 if isinstance(detector.encoder, ProcessEncoder) else 1,
        campaigns=build_campaign_desk(config, db),
    )
    if config.narratives.enabled:
        _wire_narratives(service, detector, db, config.narratives)
    else:  # no clustering; texts kept while it was on still go when their message is deleted
        from .storage.narratives import SqliteNarrativeRepository

        service.narrative_store = SqliteNarrativeRepository(db)
    from .sync import start_change_feed

    feed = await start_change_feed(db, service, detector)  # verdicts and modes set by other processes apply here
    return App(config, registry, detector, db, service, owned_encoder=owned, change_feed=feed)


def _wire_narratives(service, detector, db, settings) -> None:
    """Emerging narratives (issue #16.3): unmatched on-topic assertions are clustered for pack authors
    (only when [narratives] enabled = true)."""
    from .core.narratives import NarrativeTracker
    from .storage.narratives import SqliteNarrativeRepository

    service.narratives = NarrativeTracker.from_settings(SqliteNarrativeRepository(db), settings)
    detector.narratives = True
