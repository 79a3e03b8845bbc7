"""Watch messages: hand them to the IncidentService, post what it decides (card reply, moderator alert).

No detection logic here. Card replies never ping (allowed mentions none, mention_author False). Missing
permissions degrade to a log line and a note in the moderator channel; nothing here may crash the bot.

Deletion wins whatever the order of events: a message deleted while it is being checked gets no card and no
alert, and its stored text is purged; a card posted just before the delete event is taken down. Messages in
threads the cache does not know are stored under the thread's parent channel (looked up once over REST).
Moderator alerts are the ``cogs.alerts`` extension's job.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

import discord
from discord.ext import commands

from bot.core.models import IncomingMessage
from bot.core.phrases import phrase
from bot.core.reservations import is_pending
from bot.core.service import Outcome
from bot.discord_adapter.channels import Remembered, ThreadParents
from bot.discord_adapter.components import card_view
from bot.discord_adapter.convert import NO_MENTIONS, PLATFORM, incoming_from_message, is_watchable, missing_reply_permissions
from bot.discord_adapter.embeds import card_embed

log = logging.getLogger(__name__)

REMEMBERED = 10_000  # deleted message ids (and thread parents) remembered
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
        self._deleted_ids = Remembered(REMEMBERED)  # tombstones: deletion wins over a late check
        self._threads = ThreadParents(bot, REMEMBERED)

    @property
    def alerts(self):
        return self.bot.get_cog("Alerts")

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
        if before is not None:
            changed = before.content != message.content
        else:  # not cached: a link preview (unfurl) arrives as an update of a message nobody edited
            changed = "content" in payload.data and payload.data.get("edited_timestamp") is not None
        if changed and is_watchable(message, self.bot.user and self.bot.user.id):
            outcome = await self._process(message, edit=True)
        self.bot.dispatch(HANDLED_EVENT, message, outcome)

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        if payload.guild_id is not None:
            self._deleted_ids.add(payload.message_id)
            await self._deleted(payload.channel_id, payload.message_id)
        self.bot.dispatch(DELETE_HANDLED_EVENT, payload.message_id)

    @commands.Cog.listener()
    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        for message_id in payload.message_ids:
            if payload.guild_id is not None:
                self._deleted_ids.add(message_id)
                await self._deleted(payload.channel_id, message_id)
            self.bot.dispatch(DELETE_HANDLED_EVENT, message_id)

    # ------------------------------------------------------------------ work

    async def _process(self, message: discord.Message, *, edit: bool) -> Outcome | None:
        msg = incoming_from_message(message, is_edit=edit, keys=await self._threads.keys(message.channel))
        async with self._locks[msg.channel_id]:
            try:
                handle = self.service.handle_edit if edit else self.service.handle_message
                outcome: Outcome = await handle(msg)
            except Exception:
                log.exception("checking message %s in channel %s failed", msg.message_id, msg.channel_id)
                return None
            if message.id in self._deleted_ids:  # deleted while it was being checked: deletion wins
                await self._deleted(message.channel.id, message.id)
                return outcome
            if outcome.card is not None:
                await self._post_card(message, msg, outcome)
            if outcome.withdraw is not None:
                await self._withdraw(message, outcome)
        if outcome.suppressed:
            log.info("card for message %s not posted: %s", msg.message_id, outcome.suppressed)
        if outcome.alert and outcome.incident is not None and message.id not in self._deleted_ids and self.alerts:
            await self.alerts.raise_alert(message, outcome)
        campaigns = self.bot.get_cog("Campaigns") if outcome.campaign is not None else None
        if campaigns is not None and message.id not in self._deleted_ids:
            await campaigns.campaign(message, outcome.campaign)  # one alert per campaign, edited as it grows
        if message.id in self._deleted_ids:  # deleted while the card or the alert was being posted
            await self._deleted(message.channel.id, message.id)
        return outcome

    async def _post_card(self, message: discord.Message, msg: IncomingMessage, outcome: Outcome) -> None:
        assert outcome.card is not None
        if not await self._try_post_card(message, msg, outcome):
            await self.service.card_not_posted(outcome)  # give the reserved budget slot back

    async def _try_post_card(self, message: discord.Message, msg: IncomingMessage, outcome: Outcome) -> bool:
        assert outcome.card is not None
        missing = missing_reply_permissions(message.channel)
        if missing:  # checked first: without Embed Links the card would arrive as bare buttons
            await self._cannot_post(message, f"I am missing {', '.join(missing)} there")
            return False
        try:
            sent = await message.reply(
                embed=card_embed(outcome.card), view=card_view(outcome.card.lang), allowed_mentions=NO_MENTIONS, mention_author=False
            )
        except discord.Forbidden as e:
            await self._cannot_post(message, f"Discord refused ({e.text or 'Missing Permissions'}); I need View Channel, "
                                    "Send Messages (in Threads), Embed Links and Read Message History there")
            return False
        except discord.HTTPException as e:  # e.g. the message was deleted meanwhile
            log.warning("could not post a card for message %s: %s", message.id, e)
            return False
        try:
            await self.service.card_posted(msg, outcome, str(sent.id))
        except Exception:
            log.exception("recording card post %s failed", sent.id)
        return True

    async def _withdraw(self, message: discord.Message, outcome: Outcome) -> None:
        """An edit took the card's reason away: the card becomes a one-line "withdrawn" notice (as on Matrix)."""
        post = outcome.withdraw
        assert post is not None
        try:
            card = message.channel.get_partial_message(int(post.post_message_id))  # type: ignore[union-attr]
            await card.edit(content=phrase(post.lang, "card_withdrawn"), embeds=[], view=None, allowed_mentions=NO_MENTIONS)
            await self.service.withdraw_card(post)
        except discord.HTTPException as e:
            log.info("could not withdraw card %s: %s", post.post_message_id, e)

    async def _cannot_post(self, message: discord.Message, why: str) -> None:
        log.warning("cannot post a card in channel %s: %s", message.channel.id, why)
        if self.alerts is None:
            return
        await self.alerts.note(
            message.guild,
            f"channel:{message.channel.id}",
            f"I could not post a context card in <#{message.channel.id}>: {why}. The incident was still logged.",
        )

    async def _deleted(self, channel_id: int, message_id: int) -> None:
        """Purge stored content of a deleted message and edit it out of alerts; if it had a card, take the card
        down too."""
        channel = self.bot.get_channel(channel_id) or discord.Object(channel_id)
        keys = {str(channel_id), (await self._threads.keys(channel))[0]}
        repo = self.service.incidents
        for key in keys:
            try:
                purged = [i.id for i in await repo.incidents_for_message(PLATFORM, key, str(message_id))]
                await self.service.handle_delete(PLATFORM, key, str(message_id))
                if purged and self.alerts is not None:
                    await self.alerts.content_removed(purged)
                post = await repo.card_post_for_source(PLATFORM, key, str(message_id))
                # a reserved card still being posted is left to its poster, which re-checks for a delete afterwards
                if post is not None and not post.retracted and not is_pending(post):
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
