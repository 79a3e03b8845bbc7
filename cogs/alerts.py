"""Moderator alerts in the server's moderator channel (the "modlog"), and keeping them honest afterwards.

* **One alert per group, within a budget.** A new incident updates an existing, still open alert instead of
  posting its own when it repeats that alert's group, or hits the same talking point in the same channel within
  :data:`ALERT_WINDOW`; past :data:`HOURLY_CAP` new alerts per channel and hour, hits update the channel's latest
  alert. An updated alert shows how many incidents from how many accounts it stands for, and the latest one.
* **Alerts that cannot be delivered are not silent.** A deleted moderator channel, missing permissions or a 403/404
  mark the setting broken (shown by ``/contextbot status``, with how many alerts were missed, and noted once in the
  server's Community Updates channel if it has one); the next alert that goes through, a permission fix seen in a
  channel update, or a new ``/contextbot modlog`` clears it.
* **Excerpts do not outlive the message.** When a message is deleted (:meth:`Alerts.content_removed`) or its stored
  content purged by retention (:meth:`Alerts.sweep`, every :data:`SWEEP_INTERVAL` seconds), the alerts showing it
  are edited to "content removed".

The watcher calls :meth:`Alerts.raise_alert` and :meth:`Alerts.note`; the alerts are recorded through
:class:`bot.storage.alerts.SqliteAlertRepository` (``bot.alerts``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from datetime import timedelta
from typing import Iterable

import discord
from discord.ext import commands, tasks

from bot.core.models import IncidentStatus
from bot.core.service import Outcome
from bot.discord_adapter.components import alert_view
from bot.discord_adapter.convert import NO_MENTIONS, PLATFORM, missing_reply_permissions
from bot.discord_adapter.embeds import alert_embed
from bot.discord_adapter.modlog import ModlogReporter
from bot.storage.alerts import AlertPost

log = logging.getLogger(__name__)

ALERT_WINDOW = timedelta(minutes=30)  # same talking point in the same channel: later hits update the alert
HOURLY_CAP = 6  # new alerts per source channel per hour
SWEEP_INTERVAL = 600.0  # seconds between looks for alerts whose excerpt was purged by retention
NOTE_INTERVAL = 3600.0  # at most one operational note per key per hour


class Alerts(commands.Cog):
    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot
        self.service = bot.service  # type: ignore[attr-defined]
        self.repo = bot.alerts  # type: ignore[attr-defined]
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)  # per server: fold or post
        self.modlog = ModlogReporter(bot, self.service.settings, self.service.clock, note_interval=NOTE_INTERVAL)

    async def cog_load(self) -> None:
        self.sweeper.start()

    async def cog_unload(self) -> None:
        self.sweeper.cancel()

    # ------------------------------------------------------------------ alerts

    async def raise_alert(self, message: discord.Message, outcome: Outcome) -> None:
        incident, guild = outcome.incident, message.guild
        assert incident is not None and guild is not None
        async with self._locks[guild.id]:
            target = await self._fold_target(incident)
            if target is not None:
                updated = await self.repo.add_hit(target.id, incident.id)
                if updated is not None:
                    await self._edit(updated)
                return
            channel = await self.modlog_channel(guild)
            if channel is None:
                log.info("incident %s needs review but guild %s has no modlog channel", incident.id, guild.id)
                return
            missing = missing_reply_permissions(channel, reply=False)
            if missing:
                await self.modlog.broken(guild.id, f"I am missing {', '.join(missing)} in <#{channel.id}>", missed=1)
                return
            embed = alert_embed(incident, self.service.catalog.get(incident.talking_point_id),
                                reason=outcome.decision.explanation.reason)
            try:
                sent = await channel.send(embed=embed, view=alert_view(incident.id, message.jump_url),
                                          allowed_mentions=NO_MENTIONS)
            except discord.HTTPException as e:
                await self.modlog.failed(guild.id, channel.id, e)
                return
            await self.repo.record(PLATFORM, str(guild.id), str(channel.id), str(sent.id), incident_id=incident.id,
                                   group_id=incident.group_id or incident.id, talking_point_id=incident.talking_point_id,
                                   source_channel_id=incident.channel_id)
            await self.modlog.healthy(guild.id)

    async def _fold_target(self, incident) -> AlertPost | None:
        now = self.service.clock()
        target = await self.repo.fold_target(PLATFORM, incident.server_id, incident.group_id or incident.id,
                                             incident.talking_point_id, incident.channel_id, now - ALERT_WINDOW)
        hour = now - timedelta(hours=1)
        if target is None and await self.repo.count_since(PLATFORM, incident.server_id, incident.channel_id, hour) >= HOURLY_CAP:
            target = await self.repo.latest_in_channel(PLATFORM, incident.server_id, incident.channel_id, hour)
        return target

    async def _render(self, alert: AlertPost) -> tuple[discord.Embed, discord.ui.View | None] | None:
        """The alert as it should look now (from the database: verdict, purged content, later hits)."""
        incidents = self.service.incidents
        first = await incidents.get_incident(alert.incident_id)
        if first is None:
            return None
        summary = await self.repo.summary(alert.id)
        last = await incidents.get_incident(alert.last_incident_id) if summary.hits > 1 else None
        reason = json.loads(first.explanation_json or "{}").get("reason")
        embed = alert_embed(first, self.service.catalog.get(first.talking_point_id), reason=reason,
                            later=summary.hits - 1, accounts=summary.accounts, last=last)
        return embed, alert_view(first.id, first.message_link) if first.status is IncidentStatus.OPEN else None

    async def current_embed(self, alert_message_id: int) -> discord.Embed | None:
        """How the alert posted as ``alert_message_id`` should look now (None if it is not a recorded alert)."""
        alert = await self.repo.by_message(PLATFORM, str(alert_message_id))
        rendered = await self._render(alert) if alert is not None else None
        return rendered[0] if rendered is not None else None

    async def _edit(self, alert: AlertPost) -> bool:
        rendered = await self._render(alert)
        if rendered is None:
            return False
        embed, view = rendered
        channel = self.bot.get_partial_messageable(int(alert.alert_channel_id), guild_id=int(alert.server_id))
        try:
            await channel.get_partial_message(int(alert.alert_message_id)).edit(
                embed=embed, view=view, allowed_mentions=NO_MENTIONS)
        except discord.NotFound:  # a moderator deleted the alert: nothing left to keep up to date
            return True
        except discord.HTTPException as e:
            await self.modlog.failed(int(alert.server_id), int(alert.alert_channel_id), e, missed=0)
            return False
        return True

    async def content_removed(self, incident_ids: Iterable[int]) -> None:
        """These incidents' content was purged: edit their excerpts out of the alerts showing them."""
        for alert in await self.repo.alerts_for_incidents(incident_ids):
            if await self._edit(alert):
                await self.repo.mark_content_removed(alert.id)

    @tasks.loop(seconds=SWEEP_INTERVAL)
    async def sweeper(self) -> None:
        try:
            await self.sweep()
        except Exception:
            log.exception("looking for alerts with purged content failed")

    @sweeper.before_loop
    async def _ready(self) -> None:
        await self.bot.wait_until_ready()

    async def sweep(self) -> int:
        """Edit the excerpts out of alerts whose incidents' content was purged meanwhile (retention)."""
        done = 0
        for alert in await self.repo.with_purged_excerpts(PLATFORM):
            if await self._edit(alert):
                await self.repo.mark_content_removed(alert.id)
                done += 1
        return done

    # ------------------------------------------------------------------ the moderator channel

    async def modlog_channel(self, guild: discord.Guild) -> discord.abc.Messageable | None:
        return await self.modlog.channel(guild)

    async def note(self, guild: discord.Guild | None, key: str, text: str) -> None:
        """A rate-limited operational note in the moderator channel."""
        await self.modlog.note(guild, key, text)

    @commands.Cog.listener()
    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        settings = await self.service.settings.get_server_settings(PLATFORM, str(channel.guild.id))
        if settings.modlog_channel_id == str(channel.id):
            await self.modlog.broken(channel.guild.id, f"the moderator channel #{channel.name} was deleted", missed=0)

    @commands.Cog.listener()
    async def on_guild_channel_update(self, before: discord.abc.GuildChannel, after: discord.abc.GuildChannel) -> None:
        settings = await self.service.settings.get_server_settings(PLATFORM, str(after.guild.id))
        if settings.modlog_channel_id != str(after.id):
            return
        missing = missing_reply_permissions(after, reply=False)
        if missing:
            await self.modlog.broken(after.guild.id, f"I am missing {', '.join(missing)} in <#{after.id}>", missed=0)
        else:
            await self.modlog.healthy(after.guild.id)


async def setup(bot: commands.Bot) -> None:
    if getattr(bot, "alerts", None) is None:
        raise RuntimeError("cogs.alerts needs the alert records: create_bot(..., alerts=SqliteAlertRepository(db))")
    await bot.add_cog(Alerts(bot))
