""""Helpful" / "Not relevant" buttons under context cards.

The buttons are persistent dynamic items (custom_id ``cb:fb:y|n``, see bot.discord_adapter.components), so
they keep working after a restart; the clicked message *is* the card, so nothing else needs encoding.
One vote per member per card: the service stores the latest vote (a second identical click changes nothing).
"""

from __future__ import annotations

import logging

import discord
from discord.ext import commands

from bot.core.phrases import phrase
from bot.discord_adapter.components import FeedbackButton
from bot.discord_adapter.convert import PLATFORM, locale_lang
from bot.discord_adapter.permissions import reply_ephemeral

log = logging.getLogger(__name__)


class Feedback(commands.Cog):
    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot
        self.service = bot.service  # type: ignore[attr-defined]

    @commands.Cog.listener()
    async def on_card_feedback(self, interaction: discord.Interaction, helpful: bool) -> None:
        if interaction.message is None:
            return
        lang = locale_lang(interaction.locale)  # the answer is private: the member's own Discord language
        try:
            changed = await self.service.record_feedback(
                PLATFORM, str(interaction.message.id), str(interaction.user.id), helpful
            )
        except Exception:
            log.exception("recording feedback on card %s failed", interaction.message.id)
            await reply_ephemeral(interaction, phrase(lang, "feedback_failed"))
            return
        if changed:
            text = phrase(lang, "feedback_helpful" if helpful else "feedback_not_relevant")
        else:
            text = phrase(lang, "feedback_again")
        await reply_ephemeral(interaction, text)


async def setup(bot: commands.Bot) -> None:
    bot.add_dynamic_items(FeedbackButton)
    await bot.add_cog(Feedback(bot))


async def teardown(bot: commands.Bot) -> None:
    bot.remove_dynamic_items(FeedbackButton)
