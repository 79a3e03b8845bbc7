"""One NewIncident for storage tests: sensible defaults, any field overridden by keyword."""

from __future__ import annotations

from datetime import datetime, timezone

from bot.core.models import Action, Stance
from bot.core.ports import NewIncident

T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


def new_incident(**overrides) -> NewIncident:
    values = dict(
        platform="discord",
        server_id="g1",
        channel_id="c1",
        message_id="m1",
        message_link="https://discord.com/channels/g1/c1/m1",
        author_id="u1",
        content="Ukraine is run by nazis",
        talking_point_id="tp.nazi",
        stance=Stance.ASSERT,
        score=0.91,
        match_score=0.83,
        action=Action.REVIEW,
        explanation_json='{"reason": "asserts tp.nazi"}',
        created_at=T0,
    )
    values.update(overrides)
    return NewIncident(**values)
