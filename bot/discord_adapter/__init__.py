"""Discord adapter: converts discord.py events for the core and core results into embeds and buttons.

Entry point: :func:`run_discord` (``python -m bot run discord``). Features live in the ``cogs`` package.
"""

from .client import ContextBot, DiscordStartupError, ShardedContextBot, create_bot, default_intents, run_discord
from .convert import NO_MENTIONS, PLATFORM, incoming_from_message, is_watchable
from .embeds import card_embed

__all__ = [
    "ContextBot",
    "DiscordStartupError",
    "NO_MENTIONS",
    "PLATFORM",
    "ShardedContextBot",
    "card_embed",
    "create_bot",
    "default_intents",
    "incoming_from_message",
    "is_watchable",
    "run_discord",
]
