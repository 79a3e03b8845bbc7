"""Member commands: /context, /check and the message menu "Check for known talking points".

/check and the menu answer ephemerally and log nothing. /context posts the card in the channel (or privately).
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.phrases import phrase
from bot.core.sanitize import clip
from bot.discord_adapter.convert import MAX_TEXT, NO_MENTIONS, locale_lang
from bot.discord_adapter.embeds import card_embed, decision_embed
from bot.discord_adapter.permissions import reply_ephemeral

log = logging.getLogger(__name__)

CHECK_MENU_NAME = "Check for known talking points"


class Member(commands.Cog):
    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot
        self.service = bot.service  # type: ignore[attr-defined]
        self.menu = app_commands.ContextMenu(name=CHECK_MENU_NAME, callback=self.check_message)
        bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    # ------------------------------------------------------------------ /context

    @app_commands.command(name="context", description="Show the context card for a known talking point")
    @app_commands.describe(topic="Talking point (start typing to search)", private="Only show the card to you")
    async def context(
        self, interaction: discord.Interaction, topic: app_commands.Range[str, 1, 200], private: bool = False
    ) -> None:
        lang = locale_lang(interaction.locale if private else (interaction.guild_locale or interaction.locale))
        card = self.service.context_card(topic, lang)
        if card is None:
            await reply_ephemeral(interaction, phrase(locale_lang(interaction.locale), "no_topic"))  # only to them
            return
        await interaction.response.send_message(embed=card_embed(card), ephemeral=private, allowed_mentions=NO_MENTIONS)

    @context.autocomplete("topic")
    async def topic_autocomplete(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        lang = locale_lang(interaction.locale)  # suggestions are shown to the member typing: their language
        return [
            app_commands.Choice(name=clip(tp.title_in(lang), 100), value=tp.id)
            for tp in self.service.search_topics(current[:100], limit=25)
        ]

    # ------------------------------------------------------------------ /check and the message menu

    @app_commands.command(name="check", description="Check a text for known talking points (only you see the answer)")
    @app_commands.describe(text="The text to check")
    async def check(self, interaction: discord.Interaction, text: app_commands.Range[str, 1, 4000]) -> None:
        await self._check(interaction, text)

    async def check_message(self, interaction: discord.Interaction, message: discord.Message) -> None:
        await self._check(interaction, message.content)

    async def _check(self, interaction: discord.Interaction, text: str) -> None:
        lang = locale_lang(interaction.locale)  # the answer is private: the member's own Discord language
        if not text or not text.strip():
            await reply_ephemeral(interaction, phrase(lang, "no_text"))
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        server_id = str(interaction.guild_id) if interaction.guild_id else None
        # the service runs the detector in a worker thread and honours the server's disabled packs
        decision, card = await self.service.check_text(text[:MAX_TEXT], None, server_id, platform="discord")
        tp = self.service.catalog.get(decision.talking_point_id) if decision.talking_point_id else None
        embeds = [decision_embed(decision, tp.title_in(lang) if tp else None, lang)]
        if card is not None:
            embeds.append(card_embed(card))
        await interaction.followup.send(embeds=embeds, ephemeral=True, allowed_mentions=NO_MENTIONS)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Member(bot))
