"""Confirm / False positive / Dismiss buttons on moderator alerts.

Persistent dynamic items (custom_id ``cb:v:<incident>:<c|fp|d>``), so alerts posted before a restart still work.
Only moderators (Manage Messages server-wide or the moderator role) may press them; others get an ephemeral
refusal. The click is acknowledged (deferred) before the verdict is saved: the learner that turns the verdict into
a server exemplar may take longer than Discord's 3-second window for the first answer.
"""

from __future__ import annotations

import logging

import discord
from discord.ext import commands

from bot.core.models import IncidentStatus
from bot.discord_adapter.components import VerdictButton
from bot.discord_adapter.convert import NO_MENTIONS
from bot.discord_adapter.embeds import STATUS_LABEL, incident_embed
from bot.discord_adapter.permissions import MODERATOR_REASON, is_moderator, reply_ephemeral

log = logging.getLogger(__name__)


def reviewer_id(user: discord.abc.User) -> str:
    return f"discord:{user.id}"


class Review(commands.Cog):
    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot
        self.service = bot.service  # type: ignore[attr-defined]

    @commands.Cog.listener()
    async def on_incident_verdict(self, interaction: discord.Interaction, incident_id: int, status: IncidentStatus) -> None:
        if not await is_moderator(interaction):
            await reply_ephemeral(interaction, MODERATOR_REASON)
            return
        incident = await self.service.incidents.get_incident(incident_id)
        if incident is None or incident.server_id != str(interaction.guild_id):
            await reply_ephemeral(interaction, f"Incident #{incident_id} does not exist in this server.")
            return
        await interaction.response.defer()  # "deferred update": the alert is edited below
        try:
            updated = await self.service.resolve(incident_id, status, reviewer_id(interaction.user))
        except Exception:
            log.exception("resolving incident %s failed", incident_id)
            await reply_ephemeral(interaction, "Sorry, the verdict could not be saved.")
            return
        if updated is None:
            await reply_ephemeral(interaction, f"Incident #{incident_id} no longer exists.")
            return
        alerts = self.bot.get_cog("Alerts")  # an alert that folded later hits keeps showing them
        embed = await alerts.current_embed(interaction.message.id) if alerts and interaction.message else None
        if embed is None:
            embed = incident_embed(updated, self.service.catalog.get(updated.talking_point_id))
        embed.add_field(
            name="Verdict", value=f"{STATUS_LABEL[status]} by {interaction.user.mention}", inline=False
        )
        try:  # replace the alert: verdict shown, buttons removed
            await interaction.edit_original_response(embed=embed, view=None, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as e:
            log.warning("could not update alert for incident %s: %s", incident_id, e)
            await reply_ephemeral(interaction, f"Incident #{incident_id} marked {STATUS_LABEL[status].lower()}.")


async def setup(bot: commands.Bot) -> None:
    bot.add_dynamic_items(VerdictButton)
    await bot.add_cog(Review(bot))


async def teardown(bot: commands.Bot) -> None:
    bot.remove_dynamic_items(VerdictButton)
