"""Campaign alerts on Discord (issue 16): one alert per campaign in the moderator channel, edited in place as
the campaign grows, with persistent buttons (custom_id ``cb:cp:<campaign>:<c|fp|d>``) that resolve the whole
campaign (and its open incidents) in one click."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict

import discord
from discord.ext import commands

from bot.core.campaign_desk import VERDICT_LABEL, alert_sections
from bot.core.campaigns import CampaignEvent
from bot.discord_adapter.convert import NO_MENTIONS
from bot.discord_adapter.modlog import modlog_channel
from bot.discord_adapter.permissions import MODERATOR_REASON, is_moderator, reply_ephemeral

log = logging.getLogger(__name__)
CODES = {"c": "confirmed", "fp": "false_positive", "d": "dismissed"}
STYLES = {"c": (discord.ButtonStyle.danger, "Confirm campaign"), "fp": (discord.ButtonStyle.success, "False positive"),
          "d": (discord.ButtonStyle.secondary, "Dismiss")}


class CampaignButton(discord.ui.DynamicItem[discord.ui.Button], template=r"cb:cp:(?P<id>[0-9]{1,18}):(?P<code>c|fp|d)"):
    def __init__(self, campaign_id: int, code: str) -> None:
        style, label = STYLES[code]
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=f"cb:cp:{campaign_id}:{code}"))
        self.campaign_id, self.code = campaign_id, code

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button, match) -> "CampaignButton":
        return cls(int(match["id"]), match["code"])

    async def callback(self, interaction: discord.Interaction) -> None:
        interaction.client.dispatch("campaign_verdict", interaction, self.campaign_id, CODES[self.code])


def campaign_view(campaign_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for code in CODES:
        view.add_item(CampaignButton(campaign_id, code))
    return view


class Campaigns(commands.Cog):
    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot
        self.service = bot.service  # type: ignore[attr-defined]
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        # a raid grows the campaign with every message: its alert is edited at most once per interval (Discord
        # rate-limits edits), the last growth always shown
        self.edit_interval = 2.0
        self._pending: dict[int, asyncio.Task] = {}
        self._last_edit: dict[int, float] = {}

    @property
    def desk(self):
        return self.service.campaigns

    async def embed(self, campaign_id: int) -> discord.Embed | None:
        repo = self.desk.repository
        rec = await repo.get_campaign(campaign_id)
        if rec is None:
            return None
        tp = self.service.catalog.get(rec.talking_point_id) if rec.talking_point_id else None
        title, sections = alert_sections(rec, await repo.campaign_members(campaign_id), tp.title if tp else None,
                                         self.service.clock(), channel=lambda c: f"<#{c}>", author=lambda a: f"<@{a}>")
        colour = discord.Colour.red() if rec.status == "open" else discord.Colour.dark_grey()
        embed = discord.Embed(title=title[:256], colour=colour)
        for name, text in sections:
            embed.add_field(name=name, value=text[:1024], inline=name in ("Channels",))
        embed.set_footer(text=f"campaign {rec.id} · one alert per campaign, updated as it grows")
        return embed

    async def campaign(self, message: discord.Message, event: CampaignEvent) -> None:
        """The watcher's hook: post the alert for a new campaign, edit it when the campaign grows."""
        guild = message.guild
        if self.desk is None or guild is None or event.campaign_id is None:
            return
        async with self._locks[event.campaign_id]:
            rec = await self.desk.repository.get_campaign(event.campaign_id)
            if rec is None or rec.status != "open":
                return  # resolved: the moderators have ruled, the alert stays as they left it
            try:
                if rec.alert_message_id:
                    self._schedule_edit(rec.id, guild.id)
                    return
                channel = await modlog_channel(self.bot, self.service.settings, guild)
                if channel is None:
                    log.info("campaign %s in guild %s: no moderator channel", rec.id, guild.id)
                    return
                sent = await channel.send(embed=await self.embed(rec.id), view=campaign_view(rec.id), allowed_mentions=NO_MENTIONS)
            except discord.HTTPException as e:
                log.warning("campaign %s alert could not be posted or edited: %s", rec.id, e)
                return
            await self.desk.repository.set_alert_post(rec.id, str(channel.id), str(sent.id))

    def _schedule_edit(self, campaign_id: int, guild_id: int) -> None:
        if campaign_id in self._pending:
            return  # an edit is already due: it will show this growth too
        wait = max(0.0, self._last_edit.get(campaign_id, 0.0) + self.edit_interval - time.monotonic())
        self._pending[campaign_id] = asyncio.create_task(self._edit_later(campaign_id, guild_id, wait))

    async def _edit_later(self, campaign_id: int, guild_id: int, wait: float) -> None:
        try:
            if wait:
                await asyncio.sleep(wait)
            async with self._locks[campaign_id]:
                self._pending.pop(campaign_id, None)
                self._last_edit[campaign_id] = time.monotonic()
                rec = await self.desk.repository.get_campaign(campaign_id)
                if rec is None or rec.status != "open" or not rec.alert_message_id:
                    return
                channel = self.bot.get_partial_messageable(int(rec.alert_channel_id), guild_id=guild_id)
                await channel.get_partial_message(int(rec.alert_message_id)).edit(embed=await self.embed(rec.id))
        except discord.HTTPException as e:
            log.warning("campaign %s alert could not be edited: %s", campaign_id, e)
        finally:
            if self._pending.get(campaign_id) is asyncio.current_task():
                del self._pending[campaign_id]
            self.bot.dispatch("campaign_alert_edited", campaign_id)

    async def cog_unload(self) -> None:
        for task in list(self._pending.values()):
            task.cancel()

    @commands.Cog.listener()
    async def on_campaign_verdict(self, interaction: discord.Interaction, campaign_id: int, verdict: str) -> None:
        if not await is_moderator(interaction):
            await reply_ephemeral(interaction, MODERATOR_REASON)
            return
        rec = await self.desk.repository.get_campaign(campaign_id) if self.desk else None
        if rec is None or rec.server_id != str(interaction.guild_id):
            await reply_ephemeral(interaction, f"Campaign #{campaign_id} does not exist in this server.")
            return
        await interaction.response.defer()
        async with self._locks[campaign_id]:
            rec, n = await self.desk.resolve(campaign_id, verdict, f"discord:{interaction.user.id}", self.service.resolve)
            embed = await self.embed(campaign_id)
        if embed is None:
            return
        embed.add_field(name="Verdict", value=f"{VERDICT_LABEL[verdict]} by {interaction.user.mention}"
                        f" ({n} incidents resolved with it)", inline=False)
        try:
            await interaction.edit_original_response(embed=embed, view=None, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as e:
            log.warning("could not update campaign alert %s: %s", campaign_id, e)


async def setup(bot: commands.Bot) -> None:
    bot.add_dynamic_items(CampaignButton)
    await bot.add_cog(Campaigns(bot))


async def teardown(bot: commands.Bot) -> None:
    bot.remove_dynamic_items(CampaignButton)
