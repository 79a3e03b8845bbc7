"""Text commands (``!cb ...``): parsing only. No I/O, no nio; the bot executes the parsed command.

Members:     ``!cb help`` · ``!cb context <topic>`` · ``!cb check <text>`` (or as a reply to a message)
Moderators:  ``!cb incidents [open|all] [topic] [page]`` · ``!cb incident <id>`` ·
             ``!cb resolve <id> confirmed|false_positive|dismissed [note]`` · ``!cb mode [off|log|review|reply]``
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Union

from bot.core.models import ChannelMode, IncidentStatus

VERDICTS: dict[str, IncidentStatus] = {
    "confirmed": IncidentStatus.CONFIRMED,
    "confirm": IncidentStatus.CONFIRMED,
    "false_positive": IncidentStatus.FALSE_POSITIVE,
    "false-positive": IncidentStatus.FALSE_POSITIVE,
    "fp": IncidentStatus.FALSE_POSITIVE,
    "dismissed": IncidentStatus.DISMISSED,
    "dismiss": IncidentStatus.DISMISSED,
}

MODERATOR_COMMANDS = frozenset({"incidents", "incident", "resolve", "mode"})


@dataclass(frozen=True)
class Help:
    name: ClassVar[str] = "help"
    moderator: ClassVar[bool] = False


@dataclass(frozen=True)
class Context:
    topic: str
    name: ClassVar[str] = "context"
    moderator: ClassVar[bool] = False


@dataclass(frozen=True)
class Check:
    text: str  # "" -> check the message this command replies to
    name: ClassVar[str] = "check"
    moderator: ClassVar[bool] = False


@dataclass(frozen=True)
class Incidents:
    only_open: bool = True
    topic: str | None = None
    page: int = 1
    name: ClassVar[str] = "incidents"
    moderator: ClassVar[bool] = True


@dataclass(frozen=True)
class ShowIncident:
    incident_id: int
    name: ClassVar[str] = "incident"
    moderator: ClassVar[bool] = True


@dataclass(frozen=True)
class Resolve:
    incident_id: int
    status: IncidentStatus
    note: str | None = None
    name: ClassVar[str] = "resolve"
    moderator: ClassVar[bool] = True


@dataclass(frozen=True)
class Mode:
    mode: ChannelMode | None  # None -> show the current mode
    name: ClassVar[str] = "mode"
    moderator: ClassVar[bool] = True


@dataclass(frozen=True)
class Unknown:
    name: str
    moderator: ClassVar[bool] = False


@dataclass(frozen=True)
class BadUsage:
    """A known command with wrong arguments; ``message`` tells the correct usage."""

    name: str
    message: str

    @property
    def moderator(self) -> bool:  # refuse non-moderators before explaining moderator commands
        return self.name in MODERATOR_COMMANDS


Command = Union[Help, Context, Check, Incidents, ShowIncident, Resolve, Mode, Unknown, BadUsage]


def usage(prefix: str) -> dict[str, str]:
    return {
        "context": f"{prefix} context <topic> — the context card for a talking point (id or keywords)",
        "check": f"{prefix} check <text> — what the bot would do with a text (nothing is logged); "
        f"or reply to a message with {prefix} check",
        "incidents": f"{prefix} incidents [open|all] [topic] [page] — recent incidents, 10 a page (moderators)",
        "incident": f"{prefix} incident <id> — one incident in detail (moderators)",
        "resolve": f"{prefix} resolve <id> confirmed|false_positive|dismissed [note] — record a verdict (moderators)",
        "mode": f"{prefix} mode [off|log|review|reply] — show or set what the bot does in this room (moderators)",
    }


def help_text(prefix: str, moderator_level: int) -> str:
    u = usage(prefix)
    return "\n".join([
        "contextbot adds context cards under known disinformation talking points and logs them for moderators.",
        "Everyone:",
        f"  {prefix} help — this help",
        f"  {u['context']}",
        f"  {u['check']}",
        f"Moderators (power level ≥ {moderator_level}):",
        f"  {u['incidents']}",
        f"  {u['incident']}",
        f"  {u['resolve']}",
        f"  {u['mode']}",
        "React 👍 or 👎 on a card to tell the moderators whether it was helpful.",
    ])


def _incident_id(token: str) -> int | None:
    token = token.strip().lstrip("#")
    return int(token) if token.isdigit() and len(token) < 12 else None


def _incidents(tokens: list[str], usage_line: str) -> Incidents | BadUsage:
    """``[open|all] [topic words] [page]``; the page also as ``page N``, ``--page N`` or ``--page=N``."""
    only_open = True
    if tokens and tokens[0].lower() in ("open", "all"):
        only_open = tokens[0].lower() == "open"
        tokens = tokens[1:]
    page = 1
    for i, token in enumerate(tokens):
        flag, _, value = token.lower().partition("=")
        if flag in ("--page", "page") and (value or i + 1 < len(tokens)):
            number = value or tokens[i + 1]
            tokens = tokens[:i] + tokens[i + (1 if value else 2):]
            break
    else:
        number = tokens.pop() if tokens and tokens[-1].isdigit() else "1"
    if not number.isdigit() or not 1 <= int(number) <= 100_000:
        return BadUsage("incidents", "Usage: " + usage_line)
    return Incidents(only_open, " ".join(tokens) or None, int(number))


def parse_command(body: str, prefix: str = "!cb") -> Command | None:
    """Parse a message body; None when it is not addressed to the bot."""
    text = (body or "").strip()
    if not prefix or not text.lower().startswith(prefix.lower()):
        return None
    rest = text[len(prefix):]
    if rest and not rest[0].isspace():
        return None  # "!cbx" is not ours
    rest = rest.strip()
    if not rest:
        return Help()
    name, _, args = rest.partition(" ")
    if "\n" in name:  # "!cb check\nsome text"
        name, _, more = name.partition("\n")
        args = more + (" " + args if args else "")
    name = name.lower()
    args = args.strip()
    u = usage(prefix)

    if name in ("help", "?"):
        return Help()
    if name == "context":
        return Context(args) if args else BadUsage(name, "Usage: " + u["context"])
    if name == "check":
        return Check(args)
    if name == "incidents":
        return _incidents(args.split(), u["incidents"])
    if name == "incident":
        iid = _incident_id(args) if args and len(args.split()) == 1 else None
        return ShowIncident(iid) if iid is not None else BadUsage(name, "Usage: " + u["incident"])
    if name == "resolve":
        tokens = args.split(maxsplit=2)
        iid = _incident_id(tokens[0]) if tokens else None
        status = VERDICTS.get(tokens[1].lower()) if len(tokens) > 1 else None
        if iid is None or status is None:
            return BadUsage(name, "Usage: " + u["resolve"])
        note = tokens[2].strip() if len(tokens) > 2 else None
        return Resolve(iid, status, note or None)
    if name == "mode":
        if not args:
            return Mode(None)
        try:
            return Mode(ChannelMode(args.lower()))
        except ValueError:
            return BadUsage(name, "Usage: " + u["mode"])
    return Unknown(name)
