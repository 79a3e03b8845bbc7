"""Moderator commands: /incidents list | show | resolve | export.

Allowed for members with Manage Messages server-wide or the moderator role (see
bot.discord_adapter.permissions); everyone else gets an ephemeral refusal with the reason. Discord hides the group
from members without Manage Messages (``default_member_permissions``); a moderator role needs to be allowed in
Server Settings > Integrations too. Every answer is ephemeral. Only incidents of the current server are visible.
"""

from __future__ import annotations

import asyncio
import io
import math
from dataclasses import replace
from datetime import datetime, timezone
from typing import Optional, Union

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.models import IncidentStatus
from bot.core.ports import IncidentFilter
from bot.core.sanitize import clip
from bot.discord_adapter.convert import NO_MENTIONS, PLATFORM
from bot.discord_adapter.embeds import STATUS_LABEL, incident_embed, incidents_page_embed
from bot.discord_adapter.export import fit_export
from bot.discord_adapter.pager import Pager
from bot.discord_adapter.permissions import moderator_only, reply_ephemeral

PAGE_SIZE = 10
EXPORT_MAX = 10_000
DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024  # Discord's limit without boosts, if the interaction does not say
STATUS_CHOICES = [app_commands.Choice(name=label, value=s.value) for s, label in STATUS_LABEL.items()]
VERDICT_CHOICES = [c for c in STATUS_CHOICES if c.value != IncidentStatus.OPEN.value] + [
    app_commands.Choice(name="Re-open", value=IncidentStatus.OPEN.value)
]
ChannelArg = Optional[Union[discord.TextChannel, discord.ForumChannel, discord.VoiceChannel]]


@app_commands.guild_only()
@app_commands.default_permissions(manage_messages=True)  # hidden from members; admins can widen it in Integrations
class Moderation(commands.GroupCog, group_name="incidents", group_description="Review logged incidents (moderators)"):
    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot
        self.service = bot.service  # type: ignore[attr-defined]
        super().__init__()

    def _scope(self, interaction: discord.Interaction) -> IncidentFilter:
        return IncidentFilter(platform=PLATFORM, server_id=str(interaction.guild_id))

    async def _incident(self, interaction: discord.Interaction, incident_id: int):
        incident = await self.service.incidents.get_incident(incident_id)
        if incident is None or incident.platform != PLATFORM or incident.server_id != str(interaction.guild_id):
            await reply_ephemeral(interaction, f"There is no incident #{incident_id} in this server.")
            return None
        return incident

    @app_commands.command(name="list", description="List incidents, newest first")
    @app_commands.describe(status="Only this status", talking_point="Only this talking point", channel="Only this channel")
    @app_commands.choices(status=STATUS_CHOICES)
    @moderator_only()
    async def list_(
        self,
        interaction: discord.Interaction,
        status: Optional[app_commands.Choice[str]] = None,
        talking_point: Optional[str] = None,
        channel: ChannelArg = None,
    ) -> None:
        flt = replace(
            self._scope(interaction),
            status=IncidentStatus(status.value) if status else None,
            talking_point_id=talking_point or None,
            channel_id=str(channel.id) if channel else None,
        )
        described = ", ".join(
            f for f in (status and status.name, talking_point and f"talking point {talking_point}", channel and f"#{channel.name}") if f
        )
        repo = self.service.incidents
        total = await repo.count_incidents(flt)
        pages = max(1, math.ceil(total / PAGE_SIZE))

        async def render(page: int) -> discord.Embed:
            items = await repo.list_incidents(flt, limit=PAGE_SIZE, offset=page * PAGE_SIZE)
            return incidents_page_embed(items, page=page, pages=pages, total=total, filters=described)

        kwargs = {"view": Pager(interaction.user.id, pages, render)} if pages > 1 else {}
        await interaction.response.send_message(embed=await render(0), ephemeral=True, allowed_mentions=NO_MENTIONS, **kwargs)

    @list_.autocomplete("talking_point")
    async def _tp_autocomplete(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=clip(tp.title, 100), value=tp.id) for tp in self.service.search_topics(current[:100], 25)]

    @app_commands.command(name="show", description="Show one incident")
    @app_commands.rename(incident_id="id")
    @app_commands.describe(incident_id="Incident number")
    @moderator_only()
    async def show(self, interaction: discord.Interaction, incident_id: app_commands.Range[int, 1]) -> None:
        incident = await self._incident(interaction, incident_id)
        if incident is not None:
            embed = incident_embed(incident, self.service.catalog.get(incident.talking_point_id))
            await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="resolve", description="Record a verdict on an incident")
    @app_commands.rename(incident_id="id")
    @app_commands.describe(incident_id="Incident number", verdict="Your verdict", note="Optional note for other moderators")
    @app_commands.choices(verdict=VERDICT_CHOICES)
    @moderator_only()
    async def resolve(
        self,
        interaction: discord.Interaction,
        incident_id: app_commands.Range[int, 1],
        verdict: app_commands.Choice[str],
        note: Optional[app_commands.Range[str, 1, 1000]] = None,
    ) -> None:
        if await self._incident(interaction, incident_id) is None:
            return
        await interaction.response.defer(ephemeral=True, thinking=True)  # the learner may outlast the 3 s window
        updated = await self.service.resolve(incident_id, IncidentStatus(verdict.value), f"discord:{interaction.user.id}", note)
        if updated is None:
            await reply_ephemeral(interaction, f"Incident #{incident_id} no longer exists.")
            return
        embed = incident_embed(updated, self.service.catalog.get(updated.talking_point_id))
        await interaction.followup.send(
            f"Incident #{incident_id}: {verdict.name.lower()}.", embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @app_commands.command(name="export", description="Download incidents as CSV or JSON")
    @app_commands.describe(format="File format (default CSV)", status="Only this status")
    @app_commands.choices(
        format=[app_commands.Choice(name="CSV", value="csv"), app_commands.Choice(name="JSON", value="json")],
        status=STATUS_CHOICES,
    )
    @moderator_only()
    async def export(
        self,
        interaction: discord.Interaction,
        format: Optional[app_commands.Choice[str]] = None,
        status: Optional[app_commands.Choice[str]] = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        flt = replace(self._scope(interaction), status=IncidentStatus(status.value) if status else None, order="oldest")
        rows = []
        while len(rows) < EXPORT_MAX:
            batch = await self.service.incidents.list_incidents(flt, limit=500, offset=len(rows))
            rows.extend(batch)
            if len(batch) < 500:
                break
        rows = rows[:EXPORT_MAX]
        fmt = format.value if format else "csv"
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M")
        limit = getattr(interaction, "filesize_limit", None) or DEFAULT_UPLOAD_LIMIT  # attachment_size_limit
        fitted = await asyncio.to_thread(fit_export, rows, fmt, limit, f"incidents-{interaction.guild_id}-{stamp}")
        file = discord.File(io.BytesIO(fitted.data), filename=fitted.filename)
        text = f"{fitted.included} incident(s)"
        if fitted.included < len(rows) or len(rows) >= EXPORT_MAX:
            text += (f": the oldest {fitted.included} that fit Discord's upload limit. Narrow the export with `status`, "
                     "or export everything on the command line (`contextbot incidents export`) or from the dashboard")
        if fitted.filename.endswith(".gz"):
            text += " (gzip-compressed to fit the upload limit)"
        await interaction.followup.send(
            f"{text}. The file contains message text: handle it as moderation data.",
            file=file, ephemeral=True, allowed_mentions=NO_MENTIONS,
        )


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Moderation(bot))
