"""Watch messages: hand them to the IncidentService, post what it decides (card reply, moderator alert).

No detection logic here. Card replies never ping (allowed mentions none, mention_author False). Missing
permissions degrade to a log line and a note in the moderator channel; nothing here may crash the bot.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict

import discord
from discord.ext import commands

from bot.core.models import IncomingMessage
from bot.core.service import Outcome
from bot.discord_adapter.components import alert_view, card_view
from bot.discord_adapter.convert import (
    NO_MENTIONS,
    PLATFORM,
    channel_keys,
    incoming_from_message,
    is_watchable,
    missing_reply_permissions,
)
from bot.discord_adapter.embeds import FIELD_VALUE_MAX, card_embed, incident_embed, notice_embed, safe

log = logging.getLogger(__name__)

NOTE_INTERVAL = 3600.0  # at most one "missing permission" note per channel per hour
# Dispatched when the watcher is done with an event (observability; tests wait on them):
HANDLED_EVENT = "message_handled"  # on_message_handled(message, outcome | None), also for edits
DELETE_HANDLED_EVENT = "message_delete_handled"  # on_message_delete_handled(message_id)


class Watcher(commands.Cog):
    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot
        self.service = bot.service  # type: ignore[attr-defined]
        # One lock per channel: budget check, post and card_posted must not interleave, or two assertions
        # arriving together could both pass the cooldown.
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._last_note: dict[str, float] = {}

    # ------------------------------------------------------------------ events

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        outcome = None
        if is_watchable(message, self.bot.user and self.bot.user.id):
            outcome = await self._process(message, edit=False)
        self.bot.dispatch(HANDLED_EVENT, message, outcome)

    @commands.Cog.listener()
    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        """Raw, so edits of messages older than the cache (or from before a restart) are re-checked too."""
        message, outcome = payload.message, None
        before = payload.cached_message
        changed = "content" in payload.data and (before is None or before.content != message.content)
        if changed and is_watchable(message, self.bot.user and self.bot.user.id):  # not an embed unfurl
            outcome = await self._process(message, edit=True)
        self.bot.dispatch(HANDLED_EVENT, message, outcome)

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        if payload.guild_id is not None:
            await self._deleted(payload.channel_id, payload.message_id)
        self.bot.dispatch(DELETE_HANDLED_EVENT, payload.message_id)

    @commands.Cog.listener()
    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        for message_id in payload.message_ids:
            if payload.guild_id is not None:
                await self._deleted(payload.channel_id, message_id)
            self.bot.dispatch(DELETE_HANDLED_EVENT, message_id)

    # ------------------------------------------------------------------ work

    async def _process(self, message: discord.Message, *, edit: bool) -> Outcome | None:
        msg = incoming_from_message(message, is_edit=edit)
        async with self._locks[msg.channel_id]:
            try:
                handle = self.service.handle_edit if edit else self.service.handle_message
                outcome: Outcome = await handle(msg)
            except Exception:
                log.exception("checking message %s in channel %s failed", msg.message_id, msg.channel_id)
                return None
            if outcome.card is not None:
                await self._post_card(message, msg, outcome)
        if outcome.suppressed:
            log.info("card for message %s not posted: %s", msg.message_id, outcome.suppressed)
        if outcome.alert and outcome.incident is not None:
            await self._post_alert(message, outcome)
        return outcome

    async def _post_card(self, message: discord.Message, msg: IncomingMessage, outcome: Outcome) -> None:
        assert outcome.card is not None
        missing = missing_reply_permissions(message.channel)
        if missing:  # checked first: without Embed Links the card would arrive as bare buttons
            await self._cannot_post(message, f"I am missing {', '.join(missing)} there")
            return
        try:
            sent = await message.reply(
                embed=card_embed(outcome.card), view=card_view(outcome.card.lang), allowed_mentions=NO_MENTIONS, mention_author=False
            )
        except discord.Forbidden as e:
            await self._cannot_post(message, f"Discord refused ({e.text or 'Missing Permissions'}); I need View Channel, "
                                    "Send Messages (in Threads), Embed Links and Read Message History there")
            return
        except discord.HTTPException as e:  # e.g. the message was deleted meanwhile
            log.warning("could not post a card for message %s: %s", message.id, e)
            return
        try:
            await self.service.card_posted(msg, outcome, str(sent.id))
        except Exception:
            log.exception("recording card post %s failed", sent.id)

    async def _cannot_post(self, message: discord.Message, why: str) -> None:
        log.warning("cannot post a card in channel %s: %s", message.channel.id, why)
        await self._note(
            message.guild,
            f"channel:{message.channel.id}",
            f"I could not post a context card in <#{message.channel.id}>: {why}. The incident was still logged.",
        )

    async def _modlog(self, guild: discord.Guild) -> discord.abc.Messageable | None:
        settings = await self.service.settings.get_server_settings(PLATFORM, str(guild.id))
        if not settings.modlog_channel_id:
            return None
        try:
            channel_id = int(settings.modlog_channel_id)
        except ValueError:
            return None
        return guild.get_channel_or_thread(channel_id) or self.bot.get_partial_messageable(channel_id, guild_id=guild.id)

    async def _post_alert(self, message: discord.Message, outcome: Outcome) -> None:
        incident = outcome.incident
        assert incident is not None and message.guild is not None
        channel = await self._modlog(message.guild)
        if channel is None:
            log.info("incident %s needs review but guild %s has no modlog channel", incident.id, message.guild.id)
            return
        missing = missing_reply_permissions(channel, reply=False)
        if missing:
            log.warning("cannot alert moderators in channel %s: missing %s", channel.id, ", ".join(missing))
            return
        tp = self.service.catalog.get(incident.talking_point_id)
        embed = incident_embed(incident, tp, title=f"Review: incident #{incident.id}: {tp.title if tp else incident.talking_point_id}")
        embed.add_field(name="Why", value=safe(outcome.decision.explanation.reason or "-", FIELD_VALUE_MAX), inline=False)
        try:
            await channel.send(embed=embed, view=alert_view(incident.id, message.jump_url), allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as e:
            log.warning("could not post the alert for incident %s to the modlog: %s", incident.id, e)

    async def _note(self, guild: discord.Guild | None, key: str, text: str) -> None:
        """A rate-limited operational note in the moderator channel."""
        if guild is None:
            return
        now = time.monotonic()
        if now - self._last_note.get(key, -NOTE_INTERVAL) < NOTE_INTERVAL:
            return
        self._last_note[key] = now
        channel = await self._modlog(guild)
        if channel is None:
            return
        try:
            await channel.send(embed=notice_embed(text, title="contextbot: permission problem"), allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as e:
            log.warning("could not post a note to the modlog of guild %s: %s", guild.id, e)

    async def _deleted(self, channel_id: int, message_id: int) -> None:
        """Purge stored content of a deleted message; if it had a card, take the card down too."""
        channel = self.bot.get_channel(channel_id)
        keys = {str(channel_id), channel_keys(channel)[0]} if channel is not None else {str(channel_id)}
        repo = self.service.incidents
        for key in keys:
            try:
                await self.service.handle_delete(PLATFORM, key, str(message_id))
                post = await repo.card_post_for_source(PLATFORM, key, str(message_id))
                if post is not None and not post.retracted:
                    await repo.mark_card_retracted(post.id)
                    await self.bot.http.delete_message(channel_id, int(post.post_message_id), reason="source message deleted")
            except discord.HTTPException as e:
                log.info("could not delete card for deleted message %s: %s", message_id, e)
            except Exception:
                log.exception("handling deletion of message %s failed", message_id)
        try:  # a moderator deleted one of our cards: stop counting it
            own = await repo.card_post_by_post_id(PLATFORM, str(message_id))
            if own is not None and not own.retracted:
                await repo.mark_card_retracted(own.id)
        except Exception:
            log.exception("handling deletion of card %s failed", message_id)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Watcher(bot))
