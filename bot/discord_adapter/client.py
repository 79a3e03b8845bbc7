"""The Discord client: a commands.Bot (or AutoShardedBot) wired with the IncidentService by its constructor.

Nothing is built at import time. ``create_bot`` builds a client; ``run_discord`` is the entry point behind
``python -m bot run discord``. Behaviour lives in the extensions under ``cogs/``; this module only sets up
intents, safe defaults (no mentions, no prefix commands), command syncing and error reporting.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Iterable

import discord
from discord import app_commands
from discord.ext import commands

from bot.config import ConfigError, DiscordConfig
from bot.core.service import IncidentService, TalkingPointCatalog

from .convert import NO_MENTIONS
from .permissions import Refused, reply_ephemeral

if TYPE_CHECKING:
    from bot.storage.alerts import SqliteAlertRepository

log = logging.getLogger(__name__)

DEFAULT_EXTENSIONS: tuple[str, ...] = (
    "cogs.alerts",
    "cogs.watcher",
    "cogs.feedback",
    "cogs.review",
    "cogs.member",
    "cogs.moderation",
    "cogs.admin",
    "cogs.campaigns",
)


class DiscordStartupError(ConfigError):
    """The bot could not start for a reason the operator must fix (token, intents, sharding)."""


#: Gateway close codes after which reconnecting cannot help, and what the operator should do about each.
CLOSE_CODE_HINTS: dict[int, str] = {
    4010: "invalid shard: set discord.shard_count to a number Discord accepts, or leave it unset",
    4011: "sharding required: the bot is in too many servers for one gateway connection; set `sharded = true` "
          "in the [discord] section of the configuration (see docs/discord.md)",
    4012: "invalid gateway version: upgrade discord.py",
    4013: "invalid intents: this is a bug in contextbot's intents, please report it",
}


def default_intents() -> discord.Intents:
    """Only what the bot needs: guilds (channels, roles), guild messages and their content."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.message_content = True
    return intents


class ContextTree(app_commands.CommandTree):
    """Command tree whose errors become ephemeral answers instead of silent failures."""

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        if isinstance(error, Refused):
            await reply_ephemeral(interaction, str(error))
            return
        if isinstance(error, app_commands.NoPrivateMessage):
            await reply_ephemeral(interaction, "This command only works in a server.")
            return
        if isinstance(error, app_commands.CheckFailure):
            await reply_ephemeral(interaction, "You cannot use this command here.")
            return
        command = interaction.command.qualified_name if interaction.command else "?"
        log.error("command /%s failed (guild %s)", command, interaction.guild_id, exc_info=error)
        await reply_ephemeral(interaction, "Something went wrong; the error was logged for the bot operator.")


def _no_prefix(bot: commands.Bot, message: discord.Message) -> list[str]:
    return []  # slash commands only; message text is never parsed as a command


class _ContextBotMixin:
    """Shared by :class:`ContextBot` and :class:`ShardedContextBot`."""

    def __init__(
        self,
        service: IncidentService,
        config: DiscordConfig,
        *,
        catalog: TalkingPointCatalog | None = None,
        alerts: SqliteAlertRepository | None = None,
        extensions: Iterable[str] = DEFAULT_EXTENSIONS,
        sync_commands: bool = True,
        **options: Any,
    ) -> None:
        options.setdefault("intents", default_intents())
        options.setdefault("allowed_mentions", NO_MENTIONS)
        options.setdefault("help_command", None)
        options.setdefault("tree_cls", ContextTree)
        super().__init__(command_prefix=_no_prefix, **options)  # type: ignore[call-arg]
        self.service = service
        self.discord_config = config
        self.catalog = catalog if catalog is not None else service.catalog
        self.alerts = alerts  # bot.storage.alerts.SqliteAlertRepository: the alerts posted (cogs.alerts)
        self.extensions_to_load = tuple(extensions)
        self.sync_commands_on_start = sync_commands
        self.started_at = datetime.now(timezone.utc)

    async def setup_hook(self) -> None:
        for ext in self.extensions_to_load:
            await self.load_extension(ext)  # type: ignore[attr-defined]
        if self.sync_commands_on_start:
            try:
                await self.sync_app_commands()
            except discord.HTTPException as e:  # stale commands are better than no bot
                log.error("could not sync application commands: %s", e)

    async def on_message(self, message: discord.Message) -> None:
        """No prefix commands: the watcher cog listens to messages."""

    async def on_ready(self) -> None:
        log.info("Discord: connected as %s (%s) to %d server(s)", self.user, getattr(self.user, "id", "?"), len(self.guilds))  # type: ignore[attr-defined]

    async def sync_app_commands(self, *, force: bool = False) -> bool:
        """Upload slash commands if they changed since the last sync (hash kept in the settings store).

        With ``discord.dev_guild_id`` set, commands are copied to that guild (instant updates while developing).
        Returns True when a sync request was sent.
        """
        tree: app_commands.CommandTree = self.tree  # type: ignore[attr-defined]
        guild = discord.Object(self.discord_config.dev_guild_id) if self.discord_config.dev_guild_id else None
        if guild is not None:
            tree.copy_global_to(guild=guild)
        payload = [cmd.to_dict(tree) for cmd in tree.get_commands(guild=guild)]
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
        scope = f"guild:{guild.id}" if guild else "global"
        key = f"discord:commands:{self.application_id}:{scope}"  # type: ignore[attr-defined]
        if not force and await self.service.settings.get_value(key) == digest:
            log.info("application commands unchanged (%s); not syncing", scope)
            return False
        await tree.sync(guild=guild)
        await self.service.settings.set_value(key, digest)
        log.info("synced %d application command(s) (%s)", len(payload), scope)
        return True


class ContextBot(_ContextBotMixin, commands.Bot):
    pass


class ShardedContextBot(_ContextBotMixin, commands.AutoShardedBot):
    pass


def create_bot(
    service: IncidentService,
    config: DiscordConfig,
    *,
    catalog: TalkingPointCatalog | None = None,
    alerts: SqliteAlertRepository | None = None,
    **options: Any,
) -> ContextBot | ShardedContextBot:
    """Build the client for ``config`` (AutoShardedBot when ``config.sharded``)."""
    if config.sharded:
        if config.shard_count:
            options.setdefault("shard_count", config.shard_count)
        if getattr(config, "shard_ids", None):  # this process runs only its range; others run the rest
            options.setdefault("shard_ids", list(config.shard_ids))
        return ShardedContextBot(service, config, catalog=catalog, alerts=alerts, **options)
    return ContextBot(service, config, catalog=catalog, alerts=alerts, **options)


async def run_discord(app: Any, config: Any) -> None:
    """Run the Discord bot until it is closed. ``app`` is :class:`bot.app.App`; ``config`` is the
    :class:`bot.config.Config` (or its ``discord`` section)."""
    dcfg: DiscordConfig = getattr(config, "discord", config)
    if not dcfg.token:
        source = getattr(config, "source", "config")
        raise DiscordStartupError(f"{source}: discord: set the DISCORD_TOKEN environment variable (bot token from the developer portal)")
    from bot.storage.alerts import SqliteAlertRepository

    bot = create_bot(app.service, dcfg, catalog=getattr(app, "registry", None), alerts=SqliteAlertRepository(app.db))
    try:
        async with bot:
            await bot.start(dcfg.token)
    except discord.PrivilegedIntentsRequired as e:
        raise DiscordStartupError(
            "Discord refused the connection: enable the Message Content intent for the bot in the developer "
            "portal (Applications > your app > Bot > Privileged Gateway Intents), see docs/discord.md"
        ) from e
    except discord.LoginFailure as e:
        raise DiscordStartupError("Discord rejected the bot token (DISCORD_TOKEN); reset it in the developer portal") from e
    except discord.ConnectionClosed as e:
        if e.code not in CLOSE_CODE_HINTS:
            raise
        raise DiscordStartupError(f"Discord closed the gateway connection (code {e.code}): {CLOSE_CODE_HINTS[e.code]}") from e
