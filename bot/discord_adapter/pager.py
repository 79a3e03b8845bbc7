"""A small Previous/Next pager for ephemeral lists (only the member who asked can turn pages)."""

from __future__ import annotations

from typing import Awaitable, Callable

import discord

from .convert import NO_MENTIONS


class Pager(discord.ui.View):
    def __init__(self, owner_id: int, pages: int, render: Callable[[int], Awaitable[discord.Embed]], *, timeout: float = 600) -> None:
        super().__init__(timeout=timeout)
        self.owner_id = owner_id
        self.pages = max(1, pages)
        self.render = render
        self.page = 0
        self._refresh()

    def _refresh(self) -> None:
        self.previous.disabled = self.page <= 0
        self.next.disabled = self.page >= self.pages - 1

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return interaction.user.id == self.owner_id

    async def _show(self, interaction: discord.Interaction, page: int) -> None:
        self.page = min(max(page, 0), self.pages - 1)
        self._refresh()
        await interaction.response.edit_message(embed=await self.render(self.page), view=self, allowed_mentions=NO_MENTIONS)

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary)
    async def previous(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await self._show(interaction, self.page - 1)

    @discord.ui.button(label="Next", style=discord.ButtonStyle.secondary)
    async def next(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await self._show(interaction, self.page + 1)
