"""Admin commands (Manage Server): /contextbot channel | modlog | cooldown | modrole | packs | status.

Settings persist through the SettingsRepository (ServerSettings, per-channel modes).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Optional, Union

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.models import ChannelMode, IncidentStatus
from bot.core.ports import IncidentFilter
from bot.discord_adapter.convert import NO_MENTIONS, PLATFORM, channel_keys
from bot.discord_adapter.modlog import PROBLEM_KEY, problem_text
from bot.discord_adapter.permissions import admin_only, reply_ephemeral

MODE_HELP = {
    ChannelMode.OFF: "ignored",
    ChannelMode.LOG: "incidents are logged, nothing is posted",
    ChannelMode.REVIEW: "incidents are logged and moderators get an alert (default)",
    ChannelMode.REPLY: "confident assertions get a context card reply; uncertain ones go to review",
}
MODE_CHOICES = [app_commands.Choice(name=f"{m.value}: {h}"[:100], value=m.value) for m, h in MODE_HELP.items()]
NEEDED = ("view_channel", "send_messages", "embed_links")


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Admin(commands.GroupCog, group_name="contextbot", group_description="Configure contextbot (Manage Server)"):
    packs = app_commands.Group(name="packs", description="Enable or disable talking-point packs in this server")

    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot
        self.service = bot.service  # type: ignore[attr-defined]
        super().__init__()

    async def _settings(self, interaction: discord.Interaction):
        return await self.service.settings.get_server_settings(PLATFORM, str(interaction.guild_id))

    async def _save(self, interaction: discord.Interaction, settings, text: str) -> None:
        await self.service.settings.save_server_settings(settings)
        await reply_ephemeral(interaction, text)

    @app_commands.command(name="channel", description="Set how contextbot treats a channel")
    @app_commands.describe(mode="What to do with talking points here", channel="Channel (default: this one)")
    @app_commands.choices(mode=MODE_CHOICES)
    @admin_only()
    async def channel(
        self, interaction: discord.Interaction, mode: app_commands.Choice[str],
        channel: Optional[Union[discord.TextChannel, discord.ForumChannel, discord.VoiceChannel]] = None,
    ) -> None:
        target = channel or interaction.channel
        channel_id, _ = channel_keys(target)  # a thread's mode is its parent's
        new = ChannelMode(mode.value)
        await self.service.settings.set_channel_mode(PLATFORM, str(interaction.guild_id), channel_id, new)
        await reply_ephemeral(interaction, f"<#{channel_id}> is now in **{new.value}** mode: {MODE_HELP[new]}.")

    @app_commands.command(name="modlog", description="Channel for moderator alerts (empty to turn alerts off)")
    @app_commands.describe(channel="Where alerts and permission notes go (leave empty to turn alerts off)")
    @admin_only()
    async def modlog(self, interaction: discord.Interaction, channel: Optional[discord.TextChannel] = None) -> None:
        current = await self._settings(interaction)
        extra = {k: v for k, v in current.extra.items() if k != PROBLEM_KEY}  # a new choice: no known problem
        settings = replace(current, modlog_channel_id=str(channel.id) if channel else None, extra=extra)
        if channel is None:
            await self._save(interaction, settings, "Moderator alerts are off (incidents are still logged).")
            return
        text = f"Moderator alerts go to {channel.mention}."
        me = interaction.guild.me if interaction.guild else None
        if me is not None:
            perms = channel.permissions_for(me)
            missing = [p.replace("_", " ").title() for p in NEEDED if not getattr(perms, p)]
            if missing:
                text += f" Warning: I am missing {', '.join(missing)} there."
        await self._save(interaction, settings, text)

    @app_commands.command(name="cooldown", description="Minutes between cards on the same talking point in a channel")
    @app_commands.describe(minutes="0 to 1440 (default 30)")
    @admin_only()
    async def cooldown(self, interaction: discord.Interaction, minutes: app_commands.Range[int, 0, 1440]) -> None:
        settings = replace(await self._settings(interaction), cooldown=timedelta(minutes=minutes))
        await self._save(interaction, settings, f"Cooldown per talking point and channel: {minutes} min.")

    @app_commands.command(name="modrole", description="Role whose members may review incidents (empty to clear)")
    @app_commands.describe(role="Moderator role (leave empty to clear)")
    @admin_only()
    async def modrole(self, interaction: discord.Interaction, role: Optional[discord.Role] = None) -> None:
        settings = replace(await self._settings(interaction), moderator_role_id=str(role.id) if role else None)
        text = (f"Moderator role: {role.mention}. Discord shows `/incidents` only to members with Manage Messages: "
                "allow the role for it in Server Settings > Integrations > contextbot.") if role else "Moderator role cleared."
        await self._save(interaction, settings, text)

    def _pack_ids(self) -> list[str]:
        return [p.id for p in getattr(self.bot.catalog, "packs", ())]  # type: ignore[attr-defined]

    async def _set_pack(self, interaction: discord.Interaction, pack: str, enabled: bool) -> None:
        if pack not in self._pack_ids():
            await reply_ephemeral(interaction, f"Unknown pack `{pack[:50]}`. Loaded: {', '.join(self._pack_ids()) or 'none'}.")
            return
        settings = await self._settings(interaction)
        disabled = set(settings.disabled_packs) - {pack} if enabled else set(settings.disabled_packs) | {pack}
        settings = replace(settings, disabled_packs=tuple(sorted(disabled)))
        await self._save(interaction, settings, f"Pack `{pack}` {'enabled' if enabled else 'disabled'} in this server.")

    @packs.command(name="enable", description="Enable a pack in this server")
    @app_commands.describe(pack="Pack id")
    @admin_only()
    async def pack_enable(self, interaction: discord.Interaction, pack: str) -> None:
        await self._set_pack(interaction, pack, True)

    @packs.command(name="disable", description="Disable a pack in this server")
    @app_commands.describe(pack="Pack id")
    @admin_only()
    async def pack_disable(self, interaction: discord.Interaction, pack: str) -> None:
        await self._set_pack(interaction, pack, False)

    @pack_enable.autocomplete("pack")
    @pack_disable.autocomplete("pack")
    async def _pack_autocomplete(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=p, value=p) for p in self._pack_ids() if current.lower() in p][:25]

    @app_commands.command(name="status", description="Packs, settings, incident counts and latency")
    @admin_only()
    async def status(self, interaction: discord.Interaction) -> None:
        gid = str(interaction.guild_id)
        s = await self._settings(interaction)
        here, _ = channel_keys(interaction.channel)
        mode = await self.service.settings.get_channel_mode(PLATFORM, gid, here)
        repo = self.service.incidents
        scope = IncidentFilter(platform=PLATFORM, server_id=gid)
        total = await repo.count_incidents(scope)
        open_ = await repo.count_incidents(replace(scope, status=IncidentStatus.OPEN))
        embed = discord.Embed(title="contextbot status", colour=discord.Colour(0x3B82F6))
        packs = [
            f"`{p.id}` v{p.version} · {len(p.talking_points)} talking points"
            + (" · **disabled here**" if p.id in s.disabled_packs else "")
            for p in getattr(self.bot.catalog, "packs", ())  # type: ignore[attr-defined]
        ]
        embed.add_field(name="Packs", value="\n".join(packs)[:1024] or "none loaded", inline=False)
        embed.add_field(name="This channel", value=f"{mode.value} ({MODE_HELP[mode]})"[:1024], inline=False)
        embed.add_field(name="Default mode", value=s.default_mode.value)
        embed.add_field(name="Modlog", value=f"<#{s.modlog_channel_id}>" if s.modlog_channel_id else "not set (alerts only logged)")
        problem = problem_text(s.extra)
        if problem:
            embed.description = problem
        embed.add_field(name="Moderator role", value=f"<@&{s.moderator_role_id}>" if s.moderator_role_id else "not set")
        embed.add_field(name="Cooldown", value=f"{int(s.cooldown.total_seconds() // 60)} min per talking point")
        embed.add_field(name="Cards/hour cap", value=str(s.hourly_cap))
        embed.add_field(name="Incidents", value=f"{open_} open / {total} total")
        latency = self.bot.latency
        embed.add_field(name="Gateway latency", value="n/a" if latency != latency or latency == float("inf") else f"{latency * 1000:.0f} ms")
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Admin(bot))
