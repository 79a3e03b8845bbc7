"""discord.py objects -> platform-neutral core values.

Nothing here talks to Discord; every function is a pure conversion so it can be unit-tested with the
objects discord.py builds from gateway payloads.
"""

from __future__ import annotations

import discord

from bot.core.models import IncomingMessage

PLATFORM = "discord"

# Discord caps message content at 4000 characters (Nitro); anything longer did not come from Discord and is
# clipped before it reaches the detector so a hostile payload cannot make detection arbitrarily expensive.
MAX_TEXT = 4000

#: Message types a human writes; joins, pins, boosts, thread-created notices and the like are skipped.
_USER_MESSAGE_TYPES = frozenset({discord.MessageType.default, discord.MessageType.reply})

#: Every send of the bot: nobody is ever pinged, not even the author of the message a card replies to.
NO_MENTIONS = discord.AllowedMentions.none()


def locale_lang(locale: discord.Locale | None) -> str | None:
    """'uk', 'ru', 'en' ... from a Discord locale such as 'en-US'."""
    return str(locale.value).split("-")[0].lower() if locale else None


def channel_keys(channel: object) -> tuple[str, str]:
    """(channel_id, thread_id) as the core sees them.

    Threads (including forum posts) are stored under their parent channel so the parent's channel mode
    applies to them; the thread id travels separately (the reply budget allows one card per thread).
    """
    if isinstance(channel, discord.Thread) and channel.parent_id:
        return str(channel.parent_id), str(channel.id)
    return str(getattr(channel, "id", "")), ""


def missing_reply_permissions(channel: object, *, reply: bool = True) -> list[str]:
    """Permissions the bot lacks to post an embed (``reply``: as a reply) in ``channel``; human-readable names
    from the cache, empty when unknown.

    Checked before posting because some gaps do not fail loudly: without Embed Links a card would arrive as
    a message with nothing but its buttons.
    """
    guild = getattr(channel, "guild", None)
    me = getattr(guild, "me", None)
    if me is None or not isinstance(channel, (discord.abc.GuildChannel, discord.Thread)):
        return []  # unknown (e.g. a PartialMessageable, whose permissions are always "none"): try, handle 403
    perms = channel.permissions_for(me)
    send = "send_messages_in_threads" if isinstance(channel, discord.Thread) else "send_messages"
    needed = ("view_channel", send, "embed_links") + (("read_message_history",) if reply else ())
    return [name.replace("_", " ").title() for name in needed if not getattr(perms, name)]


def is_watchable(message: discord.Message, own_id: int | None) -> bool:
    """True for a human-written guild message the watcher should look at."""
    if message.guild is None:  # DMs are never watched
        return False
    if message.webhook_id is not None or message.author.bot or message.author.system:
        return False
    if own_id is not None and message.author.id == own_id:
        return False
    if message.type not in _USER_MESSAGE_TYPES:
        return False
    return bool(message.content and message.content.strip())


def incoming_from_message(message: discord.Message, *, is_edit: bool = False,
                          keys: tuple[str, str] | None = None) -> IncomingMessage:
    """Convert a guild message. Callers filter with :func:`is_watchable` first. ``keys``: (channel_id, thread_id)
    when the caller resolved them (a thread missing from the cache), else :func:`channel_keys` of its channel."""
    channel_id, thread_id = keys or channel_keys(message.channel)
    return IncomingMessage(
        platform=PLATFORM,
        server_id=str(message.guild.id) if message.guild else "",
        channel_id=channel_id,
        message_id=str(message.id),
        author_id=str(message.author.id),
        text=(message.content or "")[:MAX_TEXT],
        link=message.jump_url,
        thread_id=thread_id,
        lang=None,  # Discord does not know a message's language; the detector detects it
        created_at=message.created_at,
        author_is_bot=bool(message.author.bot),
        is_edit=is_edit,
        author_created_at=getattr(message.author, "created_at", None),
        author_joined_at=getattr(message.author, "joined_at", None),  # a Member (not a bare User) knows it
    )
