"""Matrix adapter: converts matrix-nio events for the core and posts cards, alerts and command answers.

Entry point: :func:`run_matrix` (``python -m bot run matrix``). See docs/matrix.md.
"""

from .bot import MatrixBot, MatrixStartupError, create_client, login, run_matrix
from .commands import parse_command
from .convert import PLATFORM, incoming_from_event, invite_allowed, permalink, server_id_for_room
from .render import card_content

__all__ = [
    "MatrixBot",
    "MatrixStartupError",
    "PLATFORM",
    "card_content",
    "create_client",
    "incoming_from_event",
    "invite_allowed",
    "login",
    "parse_command",
    "permalink",
    "run_matrix",
    "server_id_for_room",
]
