"""Console platform: the demo and local experiments run the full pipeline without Discord or Matrix."""

from __future__ import annotations

import itertools
import json
import textwrap
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable, TextIO

from .core.cards import card_as_text
from .core.models import ChannelMode, IncomingMessage, RenderedCard
from .core.sanitize import neutralize_mentions, safe_snippet
from .core.service import IncidentService, Outcome

DEMO_FILE = Path(__file__).resolve().parent / "demo" / "conversation.jsonl"


@dataclass(frozen=True)
class ConsoleLine:
    channel: str
    author: str
    text: str
    lang: str | None = None


def load_conversation(path: Path = DEMO_FILE) -> list[ConsoleLine]:
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        if raw.strip():
            d = json.loads(raw)
            lines.append(ConsoleLine(d["channel"], d["author"], d["text"], d.get("lang")))
    return lines


def boxed_card(card: RenderedCard, head: str, width: int, *, indent: int = 0) -> list[str]:
    """``card`` as lines in a box open to the right, fitting ``width`` columns. Words are never broken, so a URL
    longer than the line stays whole (and clickable) rather than being cut in two."""
    pad = " " * indent
    border = "─" * max(1, width - indent - 1)
    text_width = max(20, width - indent - 2)
    lines = [f"{pad}┌{border}", f"{pad}│ {head}:"]
    for para in card_as_text(card).split("\n"):
        wrapped = textwrap.wrap(neutralize_mentions(para), text_width, break_long_words=False,
                                break_on_hyphens=False)
        lines += [f"{pad}│ {ln}" for ln in wrapped or [""]]
    lines.append(f"{pad}└{border}")
    return lines


class ConsolePlatform:
    """Feeds lines through the incident service and prints what a member would see."""

    platform = "console"
    server_id = "demo-server"

    def __init__(self, service: IncidentService, out: TextIO, *, width: int = 96,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.service = service
        self.out = out
        self.width = width
        self._ids = itertools.count(1)
        self._clock = clock

    async def set_mode(self, channel: str, mode: ChannelMode) -> None:
        await self.service.settings.set_channel_mode(self.platform, self.server_id, channel, mode)

    async def post(self, line: ConsoleLine) -> Outcome:
        mid = str(next(self._ids))
        msg = IncomingMessage(
            platform=self.platform, server_id=self.server_id, channel_id=line.channel, message_id=mid,
            author_id=line.author, text=line.text, link=f"console://{line.channel}/{mid}", lang=line.lang,
        )
        said = f"#{line.channel} <{line.author}> {safe_snippet(line.text, 400)}"
        for ln in textwrap.wrap(said, self.width, subsequent_indent="    ", break_long_words=False) or [said]:
            self._print(ln)
        outcome = await self.service.handle_message(msg)
        d = outcome.decision
        tag = f"   [{d.action.value}]"
        if d.talking_point_id:
            tag += f" {d.talking_point_id} · stance={d.stance.value if d.stance else '-'} · score={d.score:.2f}"
        self._print(tag, dim=True)
        if outcome.card is not None:
            await self.service.card_posted(msg, outcome, f"bot-{mid}")
            self._card(outcome.card, answer=outcome.is_answer)
        elif outcome.suppressed:
            self._print(f"   (card held back: {outcome.suppressed})", dim=True)
        if outcome.alert and outcome.incident is not None:
            self._print(f"   → moderator alert: incident #{outcome.incident.id} needs review", dim=True)
        return outcome

    async def replay(self, lines: Iterable[ConsoleLine]) -> list[Outcome]:
        return [await self.post(line) for line in lines]

    def _card(self, card: RenderedCard, *, answer: bool) -> None:
        head = "contextbot answers" if answer else "contextbot replied"
        for line in boxed_card(card, head, self.width, indent=3):
            self._print(line)

    def _print(self, text: str, *, dim: bool = False) -> None:
        self.out.write(text + "\n")
