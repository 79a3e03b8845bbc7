"""Keeping one bot process in step with the others sharing its database (and with the dashboard).

Wires :class:`bot.storage.changes.ChangeFeed` to what a process caches: the settings cache (channel modes,
server settings) and the detector's learned state (per-server exemplars from verdicts, point policies).
"""

from __future__ import annotations

import logging
from typing import Any

from .dashboard.learning import LearningSync
from .storage.changes import Change, ChangeFeed
from .storage.dashboard import SqliteDashboardRepository

log = logging.getLogger(__name__)


class ChangeApplier:
    def __init__(self, settings: Any, sync: LearningSync) -> None:
        self.settings = settings
        self.sync = sync
        self.applied: list[Change] = []  # for operators' logs and tests

    async def __call__(self, change: Change) -> None:
        kind = change.kind
        everything = kind == "any"
        if everything or kind in ("channel_mode", "server_settings"):
            invalidate = getattr(self.settings, "invalidate", None)
            if invalidate is not None:
                invalidate()
        if everything or kind in ("exemplars", "verdict"):
            await self.sync.exemplars(None if everything else change.server_id)
        if everything or kind == "policy":
            await self.sync.policies()
        self.applied.append(change)
        del self.applied[:-100]
        log.debug("applied change %s", change)


async def start_change_feed(db: Any, service: Any, detector: Any, *, poll_interval: float | None = None) -> ChangeFeed:
    applier = ChangeApplier(service.settings, LearningSync(SqliteDashboardRepository(db), detector))
    kwargs = {} if poll_interval is None else {"poll_interval": poll_interval}
    feed = ChangeFeed(db, applier, **kwargs)
    feed.applier = applier  # type: ignore[attr-defined]
    return await feed.start()


__all__ = ["ChangeApplier", "start_change_feed"]
