"""The server's moderator channel ("modlog"): finding it, and remembering when alerts cannot be delivered there.

A delivery problem (channel deleted, permissions missing, 403/404) is stored in the server's settings
(``ServerSettings.extra["modlog_problem"]``: reason, since, alerts missed) so ``/contextbot status`` can show it
to the server's admins (who also get one note in the server's Community Updates channel, when it has one); it is
cleared as soon as an alert goes through again or an admin picks a channel.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import datetime

import discord

from bot.core.ports import SettingsRepository

from .convert import NO_MENTIONS, PLATFORM, missing_reply_permissions
from .embeds import notice_embed

log = logging.getLogger(__name__)

PROBLEM_KEY = "modlog_problem"


async def modlog_channel(bot: discord.Client, settings_repo: SettingsRepository,
                         guild: discord.Guild) -> discord.abc.Messageable | None:
    """The configured moderator channel (cached, or a partial one to try), or None when alerts are off."""
    settings = await settings_repo.get_server_settings(PLATFORM, str(guild.id))
    if not settings.modlog_channel_id or not settings.modlog_channel_id.isdigit():
        return None
    channel_id = int(settings.modlog_channel_id)
    return guild.get_channel_or_thread(channel_id) or bot.get_partial_messageable(channel_id, guild_id=guild.id)


def failure_reason(channel_id: int, error: discord.HTTPException) -> str | None:
    """Why posting to the moderator channel failed, when the server's setting is to blame (None otherwise:
    a server error or a rate limit is not a broken setting)."""
    if isinstance(error, discord.NotFound):
        return f"the moderator channel <#{channel_id}> no longer exists"
    if isinstance(error, discord.Forbidden):
        return f"Discord refused my messages in <#{channel_id}> ({error.text or 'Missing Permissions'})"
    return None


async def mark_broken(settings_repo: SettingsRepository, guild_id: int, reason: str, *, missed: int,
                      now: datetime) -> bool:
    """Record the problem (counting ``missed`` alerts); True if it is new (alerts were delivered until now)."""
    settings = await settings_repo.get_server_settings(PLATFORM, str(guild_id))
    old = settings.extra.get(PROBLEM_KEY) or {}
    problem = {"reason": reason, "since": old.get("since") or int(now.timestamp()),
               "missed": int(old.get("missed", 0)) + missed}
    log.warning("moderator alerts of guild %s are not delivered: %s (%d missed)", guild_id, reason, problem["missed"])
    await settings_repo.save_server_settings(replace(settings, extra={**settings.extra, PROBLEM_KEY: problem}))
    return not old


async def mark_healthy(settings_repo: SettingsRepository, guild_id: int) -> None:
    settings = await settings_repo.get_server_settings(PLATFORM, str(guild_id))
    if PROBLEM_KEY in settings.extra:
        log.info("moderator alerts of guild %s are delivered again", guild_id)
        extra = {k: v for k, v in settings.extra.items() if k != PROBLEM_KEY}
        await settings_repo.save_server_settings(replace(settings, extra=extra))


def problem_text(extra: dict) -> str | None:
    """For ``/contextbot status``: what is wrong with the moderator channel, or None."""
    problem = extra.get(PROBLEM_KEY)
    if not problem:
        return None
    return (f"⚠️ Alerts are not delivered since <t:{int(problem.get('since', 0))}:R>: {problem.get('reason', '?')}. "
            f"{int(problem.get('missed', 0))} alert(s) missed; incidents are still logged (`/incidents list`). "
            "Fix the channel's permissions or choose another with `/contextbot modlog`.")


class ModlogReporter:
    """Posting operational notes to the moderator channel and keeping its health (broken / healthy) up to date.

    Used by the alerts cog; ``clock`` is the service's clock (problems are stamped with it), notes are rate-limited
    per key by the monotonic clock (at most one per ``note_interval`` seconds)."""

    def __init__(self, bot: discord.Client, settings_repo: SettingsRepository, clock, *,
                 note_interval: float = 3600.0) -> None:
        self.bot, self.settings, self.clock, self.note_interval = bot, settings_repo, clock, note_interval
        self._last_note: dict[str, float] = {}

    async def channel(self, guild: discord.Guild) -> discord.abc.Messageable | None:
        return await modlog_channel(self.bot, self.settings, guild)

    async def note(self, guild: discord.Guild | None, key: str, text: str) -> None:
        """A rate-limited operational note in the moderator channel."""
        if guild is None:
            return
        now = time.monotonic()
        if now - self._last_note.get(key, -self.note_interval) < self.note_interval:
            return
        self._last_note[key] = now
        channel = await self.channel(guild)
        if channel is None:
            return
        try:
            await channel.send(embed=notice_embed(text, title="contextbot: permission problem"), allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as e:
            await self.failed(guild.id, channel.id, e, missed=0)

    async def failed(self, guild_id: int, channel_id: int, error: discord.HTTPException, *, missed: int = 1) -> None:
        reason = failure_reason(channel_id, error)
        if reason is None:
            log.warning("could not post to the modlog of guild %s: %s", guild_id, error)
        else:
            await self.broken(guild_id, reason, missed=missed)

    async def broken(self, guild_id: int, reason: str, *, missed: int) -> None:
        if await mark_broken(self.settings, guild_id, reason, missed=missed, now=self.clock()):
            await self._tell_admins(guild_id, reason)

    async def healthy(self, guild_id: int) -> None:
        await mark_healthy(self.settings, guild_id)

    async def _tell_admins(self, guild_id: int, reason: str) -> None:
        """Once per problem: a note in the channel the server's admins chose for Discord's own notices (Community
        Updates), if the server has one and it is not the broken channel."""
        guild = self.bot.get_guild(guild_id)
        channel = guild.public_updates_channel if guild else None
        if channel is None or missing_reply_permissions(channel, reply=False):
            return
        text = f"Moderator alerts cannot be delivered: {reason}. Incidents are still logged; see `/contextbot status`."
        try:
            await channel.send(embed=notice_embed(text, title="contextbot: moderator alerts"), allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as e:
            log.warning("could not tell the admins of guild %s: %s", guild_id, e)
