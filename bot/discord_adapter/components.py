"""Persistent buttons: custom_id scheme and the views attached to cards and moderator alerts.

Buttons must keep working after a restart, so everything a click needs is encoded in the custom_id and parsed
by :class:`discord.ui.DynamicItem` templates (registered with ``bot.add_dynamic_items`` by the cogs):

* ``cb:fb:y`` / ``cb:fb:n``          - "Helpful" / "Not relevant" under a card (the card is the clicked message)
* ``cb:v:<incident id>:<c|fp|d>``   - Confirm / False positive / Dismiss under a moderator alert

The items only decode the click and re-dispatch it as a bot event (``on_card_feedback``,
``on_incident_verdict``); the behaviour lives in the cogs ``cogs.feedback`` and ``cogs.review``.
"""

from __future__ import annotations

import discord

from bot.core.models import IncidentStatus
from bot.core.phrases import phrase

FEEDBACK_EVENT = "card_feedback"  # listeners: on_card_feedback(interaction, helpful: bool)
VERDICT_EVENT = "incident_verdict"  # listeners: on_incident_verdict(interaction, incident_id: int, status)

VERDICT_CODES: dict[str, IncidentStatus] = {
    "c": IncidentStatus.CONFIRMED,
    "fp": IncidentStatus.FALSE_POSITIVE,
    "d": IncidentStatus.DISMISSED,
}
_CODE_FOR = {status: code for code, status in VERDICT_CODES.items()}


def feedback_custom_id(helpful: bool) -> str:
    return "cb:fb:" + ("y" if helpful else "n")


def verdict_custom_id(incident_id: int, status: IncidentStatus) -> str:
    return f"cb:v:{int(incident_id)}:{_CODE_FOR[status]}"


class FeedbackButton(discord.ui.DynamicItem[discord.ui.Button], template=r"cb:fb:(?P<vote>[yn])"):
    def __init__(self, helpful: bool, lang: str | None = None) -> None:
        """``lang``: the card's language, for the label (a click is decoded from the custom_id alone)."""
        super().__init__(
            discord.ui.Button(
                label=phrase(lang, "helpful" if helpful else "not_relevant"),
                emoji="👍" if helpful else "👎",
                style=discord.ButtonStyle.secondary,
                custom_id=feedback_custom_id(helpful),
            )
        )
        self.helpful = helpful

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button, match) -> "FeedbackButton":
        return cls(match["vote"] == "y")

    async def callback(self, interaction: discord.Interaction) -> None:
        interaction.client.dispatch(FEEDBACK_EVENT, interaction, self.helpful)


class VerdictButton(discord.ui.DynamicItem[discord.ui.Button], template=r"cb:v:(?P<id>[0-9]{1,18}):(?P<code>c|fp|d)"):
    _STYLE = {
        IncidentStatus.CONFIRMED: (discord.ButtonStyle.danger, "Confirm"),
        IncidentStatus.FALSE_POSITIVE: (discord.ButtonStyle.success, "False positive"),
        IncidentStatus.DISMISSED: (discord.ButtonStyle.secondary, "Dismiss"),
    }

    def __init__(self, incident_id: int, status: IncidentStatus) -> None:
        style, label = self._STYLE[status]
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=verdict_custom_id(incident_id, status)))
        self.incident_id = incident_id
        self.status = status

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button, match) -> "VerdictButton":
        return cls(int(match["id"]), VERDICT_CODES[match["code"]])

    async def callback(self, interaction: discord.Interaction) -> None:
        interaction.client.dispatch(VERDICT_EVENT, interaction, self.incident_id, self.status)


def card_view(lang: str | None = None) -> discord.ui.View:
    """Buttons under a context card, labelled in the card's language. Fully dynamic, so nothing is stored per
    message."""
    view = discord.ui.View(timeout=None)
    view.add_item(FeedbackButton(True, lang))
    view.add_item(FeedbackButton(False, lang))
    return view


def alert_view(incident_id: int, jump_url: str | None = None) -> discord.ui.View:
    """Buttons under a moderator alert."""
    view = discord.ui.View(timeout=None)
    for status in (IncidentStatus.CONFIRMED, IncidentStatus.FALSE_POSITIVE, IncidentStatus.DISMISSED):
        view.add_item(VerdictButton(incident_id, status))
    if jump_url and jump_url.startswith("https://"):
        view.add_item(discord.ui.Button(label="Jump to message", style=discord.ButtonStyle.link, url=jump_url))
    return view
