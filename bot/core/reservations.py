"""Decide and reserve a card in one database transaction (several bot processes share one database).

The plain path (read the channel's card history, apply the reply budget, post, then record the card) lets two
processes both pass the budget for the same channel, or both answer one redelivered message. With a repository
that offers ``reserve_card`` the budget decision runs inside the repository's per-channel transaction and leaves a
placeholder card row that every other process counts at once; ``IncidentService.card_posted`` fills in the posted
message id, ``IncidentService.card_not_posted`` gives the slot back.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .budget import budget_refusal, history_window
from .cards import render_card
from .ports import CardPost, SuppressedReply

if TYPE_CHECKING:
    from .service import IncidentService, Outcome

ALREADY_POSTED = "card already posted"
PENDING_POST_PREFIX = "pending:"  # post_message_id of a reserved card not posted (yet)
# A reservation this old was abandoned (its process died between reserving and posting: posting takes seconds):
# it no longer blocks its message's card nor counts in the channel's budget, and the next reservation in that
# channel removes it.
ABANDONED_AFTER = timedelta(minutes=10)


def is_pending(post: CardPost | None) -> bool:
    return post is not None and post.post_message_id.startswith(PENDING_POST_PREFIX)


async def reserve_budgeted_card(service: "IncidentService", msg: Any, decision: Any, tp: Any, mode: Any,
                                server: Any, now: Any, incident: Any, is_answer: bool) -> "Outcome":
    from .service import Outcome

    def refuse(existing: CardPost | None, recent: list[CardPost]) -> str | None:
        if existing is not None:  # a redelivered or edited message never gets a second card
            return ALREADY_POSTED
        return budget_refusal(now, recent, msg, tp.id, server)

    card = render_card(tp, decision.lang)
    placeholder = CardPost(
        id=0, platform=msg.platform, server_id=msg.server_id, channel_id=msg.channel_id, thread_id=msg.thread_id,
        source_message_id=msg.message_id, post_message_id="", talking_point_id=card.talking_point_id,
        author_id=msg.author_id, incident_id=incident.id if incident else None, lang=card.lang,
        pack_version=card.pack_version, created_at=now,
    )
    reserved, reason = await service.incidents.reserve_card(  # type: ignore[attr-defined]
        placeholder, now - history_window(server), refuse)
    if reason == ALREADY_POSTED:
        if is_answer:
            return Outcome(decision=decision, mode=mode)
        return Outcome(decision=decision, mode=mode, incident=incident, suppressed=ALREADY_POSTED)
    if reason is not None:
        await service.incidents.record_suppressed(
            SuppressedReply(msg.platform, msg.server_id, msg.channel_id, msg.message_id, tp.id, reason, now))
        return Outcome(decision=decision, mode=mode, incident=incident, suppressed=reason, is_answer=is_answer)
    return Outcome(decision=decision, mode=mode, incident=incident, card=card, is_answer=is_answer, reserved=reserved)
