"""Campaign alerts on Matrix (issue 16): one notice per campaign in the management room, kept up to date with
``m.replace`` edits as the campaign grows; moderators resolve the whole campaign by reacting ✅ (confirmed) or ❌
(false positive) to it, or with ``!cb campaign <id> confirmed|false_positive|dismissed``; ``!cb campaigns`` lists
the open ones."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ..core.campaign_desk import VERDICT_LABEL, alert_sections, parse_verdict
from ..core.campaigns import CampaignEvent
from .convert import CHECK_MARK, CROSS_MARK, PLATFORM
from .render import replacement_content, text_notice

log = logging.getLogger(__name__)
COMMANDS = ("campaign", "campaigns")


class MatrixCampaigns:
    """Owned by :class:`bot.matrix_adapter.bot.MatrixBot` (``bot``: sends, moderator checks, room names)."""

    def __init__(self, bot: Any, *, edit_interval: float = 2.0) -> None:
        self.bot = bot
        # a raid grows the campaign with every message: its notice is replaced at most once per interval (Synapse
        # rate-limits senders), and the last growth is always shown
        self.edit_interval = edit_interval
        self._pending: dict[int, asyncio.Task] = {}
        self._last_edit: dict[int, float] = {}

    @property
    def desk(self):
        return self.bot.service.campaigns

    async def content(self, campaign_id: int) -> dict[str, Any] | None:
        repo = self.desk.repository
        rec = await repo.get_campaign(campaign_id)
        if rec is None:
            return None
        tp = self.bot.service.catalog.get(rec.talking_point_id) if rec.talking_point_id else None
        title, sections = alert_sections(rec, await repo.campaign_members(campaign_id), tp.title if tp else None,
                                         self.bot.service.clock(), channel=lambda c: self.bot.room_name(c) or c)
        lines = [f"⚠ {title}"] + [f"{name}: {text}" for name, text in sections]
        if rec.status == "open":
            lines.append(f"React ✅ to confirm or ❌ for a false positive (the whole campaign), or "
                         f"{self.bot.prefix} campaign {rec.id} dismissed")
        return text_notice("\n".join(lines))

    async def on_event(self, event: CampaignEvent) -> None:
        """A campaign was raised (post its notice) or grew (edit the notice in place)."""
        room = self.bot.management_room
        if self.desk is None or event.campaign_id is None or not room:
            return
        rec = await self.desk.repository.get_campaign(event.campaign_id)
        if rec is None or rec.status != "open":
            return
        if rec.alert_message_id:
            self._schedule_edit(rec.id)
            return
        event_id = await self.bot.send(room, await self.content(rec.id))
        if event_id:
            await self.desk.repository.set_alert_post(rec.id, room, event_id)

    def _schedule_edit(self, campaign_id: int) -> None:
        if campaign_id in self._pending:
            return  # an edit is already due: it will show this growth too
        wait = max(0.0, self._last_edit.get(campaign_id, float("-inf")) + self.edit_interval - time.monotonic())
        self._pending[campaign_id] = asyncio.create_task(self._edit_later(campaign_id, wait))

    async def _edit_later(self, campaign_id: int, wait: float) -> None:
        try:
            if wait:
                await asyncio.sleep(wait)
            self._pending.pop(campaign_id, None)
            await self._edit_now(campaign_id)
        finally:
            if self._pending.get(campaign_id) is asyncio.current_task():
                del self._pending[campaign_id]

    async def _edit_now(self, campaign_id: int) -> None:
        self._last_edit[campaign_id] = time.monotonic()
        try:
            rec = await self.desk.repository.get_campaign(campaign_id)
            if rec is None or rec.status != "open" or not rec.alert_message_id:
                return  # resolved meanwhile: the verdict's own edit shows it
            content = await self.content(rec.id)
            await self.bot.send(rec.alert_channel_id or self.bot.management_room,
                                replacement_content(rec.alert_message_id, content))
        except Exception:
            log.exception("campaign %s notice could not be edited", campaign_id)

    async def flush(self) -> None:
        """On stop: the edits still waiting for their interval are made now, so no notice is left behind."""
        due = list(self._pending)
        for campaign_id in due:
            self._pending.pop(campaign_id).cancel()
        for campaign_id in due:
            await self._edit_now(campaign_id)

    async def on_reaction(self, room_id: str, event: Any, key: str) -> bool:
        """✅/❌ on a campaign notice: True when it was one (handled), False to let incident alerts have it."""
        if self.desk is None or key not in (CHECK_MARK, CROSS_MARK) or room_id != self.bot.management_room:
            return False
        rec = await self.desk.repository.campaign_by_alert(PLATFORM, event.reacts_to)
        if rec is None:
            return False
        if not await self.bot.is_moderator(room_id, event.sender):
            await self.bot.send(room_id, self.bot._refusal("resolve campaigns", reply_to=event.reacts_to))
            return True
        verdict = "confirmed" if key == CHECK_MARK else "false_positive"
        await self.resolve(room_id, rec.id, verdict, event.sender, reply_to=event.reacts_to)
        return True

    async def command(self, room_id: str, event: Any, words: list[str]) -> None:
        """``campaigns`` or ``campaign <id> <verdict>`` (moderators only)."""
        reply_to = event.event_id
        if not await self.bot.is_moderator(room_id, event.sender):
            await self.bot.send(room_id, self.bot._refusal("resolve campaigns", reply_to=reply_to))
            return
        if self.desk is None:
            await self.bot.send(room_id, text_notice("Campaign tracking is off.", reply_to=reply_to))
            return
        if words[0] == "campaigns":
            server = self.bot.server_id(room_id) if room_id != self.bot.management_room else None
            recs = await self.desk.repository.list_campaigns(PLATFORM, server, "open", limit=10)
            lines = [f"#{r.id} {r.kind} {r.talking_point_id or ''}: {r.message_count} messages, {r.author_count} "
                     f"accounts, last {r.last_at:%Y-%m-%d %H:%M} UTC" for r in recs] or ["No open campaigns."]
            await self.bot.send(room_id, text_notice("\n".join(lines), reply_to=reply_to))
            return
        verdict = parse_verdict(words[2]) if len(words) == 3 and words[1].isdigit() else None
        if verdict is None:
            await self.bot.send(room_id, text_notice(
                f"Usage: {self.bot.prefix} campaign <id> confirmed|false_positive|dismissed", reply_to=reply_to))
            return
        await self.resolve(room_id, int(words[1]), verdict, event.sender, reply_to=reply_to)

    async def resolve(self, room_id: str, campaign_id: int, verdict: str, reviewer: str, *, reply_to: str) -> None:
        rec, n = await self.desk.resolve(campaign_id, verdict, reviewer, self.bot.service.resolve)
        if rec is None:
            await self.bot.send(room_id, text_notice(f"No campaign #{campaign_id}.", reply_to=reply_to))
            return
        await self.bot.send(room_id, text_notice(
            f"Campaign #{rec.id} marked {VERDICT_LABEL[verdict].lower()} by {reviewer} ({n} incidents resolved).",
            reply_to=reply_to))
        if rec.alert_message_id:
            content = await self.content(rec.id)
            await self.bot.send(rec.alert_channel_id or room_id, replacement_content(rec.alert_message_id, content))
