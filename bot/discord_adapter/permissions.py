"""Who may use moderator and admin features, and how refusals are shown (always ephemeral, with the reason).

Access is decided on **server-level** permissions (the member's roles), never on the permissions of the channel
the command is used in: incidents cover the whole server, including private channels, so Manage Messages granted
by an overwrite in one channel must not open them. The command groups also carry ``default_member_permissions``
(see the cogs) so Discord hides them from other members; these checks still run, because server admins can
change who sees a command in Server Settings > Integrations.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from .convert import NO_MENTIONS, PLATFORM

log = logging.getLogger(__name__)

MODERATOR_REASON = "You need the Manage Messages permission (server-wide, from a role) or the moderator role to do this."
ADMIN_REASON = "You need the Manage Server permission (server-wide, from a role) to change contextbot settings."
GUILD_REASON = "This only works in a server."


class Refused(app_commands.CheckFailure):
    """A permission check failed; ``str(error)`` is the reason shown to the member."""


async def _moderator_role_ids(interaction: discord.Interaction) -> tuple[set[str], set[str]]:
    """(role ids, lower-case role names) that count as moderator roles in this server."""
    bot = interaction.client  # a ContextBot: .service and .discord_config
    ids: set[str] = set()
    names: set[str] = set()
    settings = await bot.service.settings.get_server_settings(PLATFORM, str(interaction.guild_id))
    if settings.moderator_role_id:
        ids.add(str(settings.moderator_role_id))
    configured = (bot.discord_config.moderator_role or "").strip()
    if configured.isdigit():
        ids.add(configured)
    elif configured:
        names.add(configured.lower())
    return ids, names


def server_permissions(interaction: discord.Interaction) -> discord.Permissions:
    """The member's permissions in the server (roles, ownership, Administrator), ignoring channel overwrites;
    none outside a server."""
    user = interaction.user
    if interaction.guild_id is None or not isinstance(user, discord.Member):
        return discord.Permissions.none()
    return user.guild_permissions


async def is_moderator(interaction: discord.Interaction) -> bool:
    """Manage Messages, Manage Server or Administrator server-wide, or the configured moderator role."""
    if interaction.guild_id is None or not isinstance(interaction.user, discord.Member):
        return False
    perms = server_permissions(interaction)
    if perms.administrator or perms.manage_messages or perms.manage_guild:
        return True
    ids, names = await _moderator_role_ids(interaction)
    return any(str(r.id) in ids or r.name.lower() in names for r in interaction.user.roles)


def is_admin(interaction: discord.Interaction) -> bool:
    """Manage Server (or Administrator) server-wide."""
    perms = server_permissions(interaction)
    return perms.administrator or perms.manage_guild


def moderator_only():
    """app_commands check: refuse (ephemerally, with the reason) unless :func:`is_moderator`."""

    async def predicate(interaction: discord.Interaction) -> bool:
        if interaction.guild_id is None:
            raise Refused(GUILD_REASON)
        if not await is_moderator(interaction):
            raise Refused(MODERATOR_REASON)
        return True

    return app_commands.check(predicate)


def admin_only():
    def predicate(interaction: discord.Interaction) -> bool:
        if interaction.guild_id is None:
            raise Refused(GUILD_REASON)
        if not is_admin(interaction):
            raise Refused(ADMIN_REASON)
        return True

    return app_commands.check(predicate)


async def reply_ephemeral(interaction: discord.Interaction, content: str | None = None, **kwargs) -> None:
    """Answer ``interaction`` privately whether or not it was already responded to; never raises."""
    kwargs.setdefault("allowed_mentions", NO_MENTIONS)
    if content is not None:
        kwargs["content"] = content
    try:
        if interaction.response.is_done():
            await interaction.followup.send(ephemeral=True, **kwargs)
        else:
            await interaction.response.send_message(ephemeral=True, **kwargs)
    except discord.HTTPException as e:
        log.warning("could not answer interaction %s: %s", interaction.id, e)
