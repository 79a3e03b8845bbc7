"""The incident service: what every platform adapter calls.

It takes a converted :class:`IncomingMessage`, asks the detector for a decision, applies the channel mode and
the reply budget, records incidents, and returns an :class:`Outcome` telling the adapter what to post.
Adapters post, then call :meth:`IncidentService.card_posted` with the id of the bot's message.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Protocol, Sequence

from .batching import MicroBatcher
from .budget import budget_refusal, history_window

from .cards import render_card
from .reservations import is_pending, reserve_budgeted_card
from .models import (
    Action,
    ChannelMode,
    Decision,
    Explanation,
    Incident,
    IncidentStatus,
    IncomingMessage,
    RenderedCard,
    Stance,
    TalkingPoint,
)
from .ports import CardPost, IncidentRepository, NewIncident, SettingsRepository, SuppressedReply

log = logging.getLogger(__name__)

GROUP_WINDOW = timedelta(hours=24)
#: The reviewer recorded when the bot itself closes an incident (its message was edited into something else).
SYSTEM_REVIEWER = "contextbot"
EDITED_NOTE = "closed by contextbot: the author edited the message and it no longer matches this talking point"


class DetectorLike(Protocol):
    """What the service needs of the detector (bot.core.detector.Detector)."""

    def prepare(self, text: str, lang: str | None = None) -> Any:
        """Cheap steps (normalise, language, gate); the result has a boolean ``passed``."""

    def gated_decision(self, prepared: Any) -> Decision: ...

    def decide_prepared(self, items: Sequence[tuple[Any, str | None, tuple[str, ...]]]) -> list[Decision]: ...


class TalkingPointCatalog(Protocol):
    def get(self, tp_id: str) -> TalkingPoint | None: ...

    def search(self, query: str, limit: int = 25) -> list[TalkingPoint]: ...


class CampaignHook(Protocol):
    """bot.core.campaign_desk.CampaignDesk: groups decided messages into campaigns."""

    async def observe(self, msg: IncomingMessage, decision: Decision, incident: Incident | None,
                      now: datetime) -> Any: ...


class VerdictHook(Protocol):
    async def learn(self, incident: Incident, status: IncidentStatus, actor: str) -> Any: ...


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Outcome:
    """What the adapter should do with a message."""

    decision: Decision
    mode: ChannelMode
    card: RenderedCard | None = None  # post this as a reply (budget already checked)
    incident: Incident | None = None  # the incident recorded, if any
    alert: bool = False  # send a moderator alert for ``incident``
    suppressed: str | None = None  # why a card was held back by the budget
    is_answer: bool = False  # the card answers a question (not an incident against the author)
    withdraw: CardPost | None = None  # an edit took away this posted card's reason: take it down, then withdraw_card
    edited: tuple[Incident, ...] = ()  # after an edit: the message's incidents (new text; some closed/re-opened)
    reserved: CardPost | None = None  # the card's placeholder row (repositories with reserve_card): card_posted fills it
    campaign: Any = None  # a CampaignEvent (bot.core.campaigns) when this message raised or grew a campaign


def _skipped(mode: ChannelMode) -> Decision:
    """The decision reported for a message that was not examined (channel off, or a bot author)."""
    reason = "channel mode is off" if mode is ChannelMode.OFF else "author is a bot"
    expl = Explanation(None, None, {}, 0.0, 0.0, 0.0, None, None, True, reason, "")
    return Decision(Action.NONE, None, None, 0.0, expl)


def explanation_json(decision: Decision) -> str:
    e = decision.explanation
    data = {f.name: getattr(e, f.name) for f in fields(e)}  # shallow: dataclasses.asdict deep-copies, slowly
    data["stance_probs"] = dict(e.stance_probs)
    data["stance"] = e.stance.value if e.stance else None
    ns = e.nearest_exemplar_stance
    data["nearest_exemplar_stance"] = ns.value if ns else None
    data["candidates"] = [list(c) for c in decision.candidates]
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


class IncidentService:
    def __init__(
        self,
        detector: DetectorLike,
        catalog: TalkingPointCatalog,
        incidents: IncidentRepository,
        settings: SettingsRepository,
        *,
        clock: Callable[[], datetime] = utcnow,
        group_window: timedelta = GROUP_WINDOW,
        offload: bool = True,
        max_batch: int = 16,
        batches_in_flight: int = 1,
        learner: VerdictHook | None = None,
        campaigns: CampaignHook | None = None,
    ) -> None:
        self.detector = detector
        self.catalog = catalog
        self.incidents = incidents
        self.settings = settings
        self.clock = clock
        self.group_window = group_window
        self.learner = learner  # turns verdicts into per-server exemplars (wired by the composition root)
        self.campaigns = campaigns  # campaign tracking (issue 16); None: off
        # the detector runs in a worker thread (offload=False: inline, for profiling)
        self.narratives = None  # bot.core.narratives.NarrativeTracker, wired by the composition root
        self.narrative_store = None  # with clustering off: the NarrativeRepository, so deletions still purge its text
        self.batcher = MicroBatcher(detector, max_batch=max_batch, offload=offload, max_in_flight=batches_in_flight)

    async def _decide(self, text: str, lang: str | None, server_id: str | None,
                      disabled_packs: tuple[str, ...] = ()) -> Decision:
        """Cheap steps inline; messages past the gate are decided in micro-batches off the event loop."""
        prepared = self.detector.prepare(text, lang)
        if not prepared.passed:
            return self.detector.gated_decision(prepared)
        return await self.batcher.decide(prepared, server_id, disabled_packs)

    # ------------------------------------------------------------------ messages

    async def handle_message(self, msg: IncomingMessage) -> Outcome:
        """A new message in a watched channel (``Outcome.campaign``: the campaign it raised or grew, if any)."""
        outcome = await self._handle_message(msg)
        if self.campaigns is None or outcome.mode is ChannelMode.OFF or msg.author_is_bot:
            return outcome
        event = await self.campaigns.observe(msg, outcome.decision, outcome.incident, self.clock())
        return outcome if event is None else replace(outcome, campaign=event)

    async def _handle_message(self, msg: IncomingMessage) -> Outcome:
        mode = await self.settings.get_channel_mode(msg.platform, msg.server_id, msg.channel_id)
        if mode is ChannelMode.OFF or msg.author_is_bot:
            return Outcome(decision=_skipped(mode), mode=mode)
        server = await self.settings.get_server_settings(msg.platform, msg.server_id)
        decision = await self._decide(msg.text, msg.lang, msg.server_id or None, server.disabled_packs)

        now = self.clock()
        tp = self.catalog.get(decision.talking_point_id) if decision.talking_point_id else None
        if self.narratives is not None and decision.claim_vector is not None:  # matched no point: an emerging narrative?
            await self.narratives.observe(msg, decision, now)
        if tp is None:
            return Outcome(decision=decision, mode=mode)

        # Questions: the card may answer them in reply mode; never an incident against the author.
        if decision.answer_question:
            if mode is ChannelMode.REPLY:
                return await self._budgeted_card(msg, decision, tp, mode, server, now, None, is_answer=True)
            return Outcome(decision=decision, mode=mode)

        if decision.action is Action.NONE or not decision.is_incident:
            return Outcome(decision=decision, mode=mode)

        # an edit or a redelivery of a message already logged for this point gets that incident back
        incident, new_incident = await self.incidents.record_incident(
            NewIncident(
                platform=msg.platform,
                server_id=msg.server_id,
                channel_id=msg.channel_id,
                message_id=msg.message_id,
                message_link=msg.link,
                author_id=msg.author_id,
                content=msg.text,
                talking_point_id=tp.id,
                stance=decision.stance or Stance.OTHER,
                score=decision.score,
                match_score=decision.explanation.match_score,
                action=decision.action,
                explanation_json=explanation_json(decision),
                created_at=now,
            ),
            self.group_window,
        )

        if mode is ChannelMode.LOG:
            return Outcome(decision=decision, mode=mode, incident=incident)
        if mode is ChannelMode.REVIEW or decision.action is Action.REVIEW:
            return Outcome(decision=decision, mode=mode, incident=incident, alert=new_incident)
        # mode REPLY and a confident assertion
        return await self._budgeted_card(msg, decision, tp, mode, server, now, incident)

    async def handle_edit(self, msg: IncomingMessage) -> Outcome:
        """An edited message: re-checked, never a second card for the same message, no duplicate incident.

        The message's incidents take the new text. Those whose talking point the new text no longer raises are
        closed (dismissed by :data:`SYSTEM_REVIEWER`, no verdict learned) if still open; one the bot closed
        that way is re-opened when an edit brings the claim back. A card whose talking point the new text no
        longer asserts or asks about is returned in ``Outcome.withdraw``: the adapter takes it down, then calls
        :meth:`withdraw_card`."""
        outcome = await self.handle_message(msg)
        if outcome.mode is ChannelMode.OFF or msg.author_is_bot:
            return outcome  # not examined: nothing to reconcile
        d = outcome.decision
        raised = outcome.incident.talking_point_id if outcome.incident is not None else None
        await self.incidents.update_message_content(msg.platform, msg.channel_id, msg.message_id, msg.text)
        incidents: list[Incident] = []
        for incident in await self.incidents.incidents_for_message(msg.platform, msg.channel_id, msg.message_id):
            auto_closed = incident.status is IncidentStatus.DISMISSED and incident.reviewer == SYSTEM_REVIEWER
            if incident.talking_point_id != raised and incident.status is IncidentStatus.OPEN:
                incident = await self.incidents.resolve_incident(
                    incident.id, IncidentStatus.DISMISSED, SYSTEM_REVIEWER, EDITED_NOTE) or incident
            elif incident.talking_point_id == raised and auto_closed:
                incident = await self.incidents.resolve_incident(
                    incident.id, IncidentStatus.OPEN, SYSTEM_REVIEWER, None) or incident
            incidents.append(incident)
        post = await self.live_card(msg.platform, msg.channel_id, msg.message_id)
        fits = post is not None and d.talking_point_id == post.talking_point_id and (d.is_incident or d.answer_question)
        return replace(outcome, withdraw=None if fits else post, edited=tuple(incidents))

    async def live_card(self, platform: str, channel_id: str, message_id: str) -> CardPost | None:
        """The card still up under a message (None if it has none, or it was withdrawn). For a deleted message
        the adapter takes it down, then calls :meth:`withdraw_card`."""
        post = await self.incidents.card_post_for_source(platform, channel_id, message_id)
        return None if post is None or post.retracted or is_pending(post) else post

    async def withdraw_card(self, post: CardPost) -> None:
        """The adapter took ``post`` down: the reply budget stops counting it."""
        await self.incidents.mark_card_retracted(post.id)

    async def handle_delete(self, platform: str, channel_id: str, message_id: str) -> int:
        """The source message was deleted: purge its stored content. Returns incidents changed."""
        changed = await self.incidents.purge_message_content(platform, channel_id, message_id)
        if self.campaigns is not None and hasattr(self.campaigns, "purge_message"):
            await self.campaigns.purge_message(platform, channel_id, message_id)
        store = self.narratives.repo if self.narratives is not None else self.narrative_store
        if store is not None:
            await store.purge_message(platform, channel_id, message_id)
        return changed

    async def _budgeted_card(
        self, msg, decision, tp, mode, server, now, incident, *, is_answer: bool = False
    ) -> Outcome:
        if hasattr(self.incidents, "reserve_card"):  # several processes may share the database: decide + reserve at once
            return await reserve_budgeted_card(self, msg, decision, tp, mode, server, now, incident, is_answer)
        existing, recent = await self.incidents.card_history(
            msg.platform, msg.channel_id, msg.message_id, now - history_window(server))
        if existing is not None:  # a redelivered or edited message never gets a second card
            if is_answer:
                return Outcome(decision=decision, mode=mode)
            return Outcome(decision=decision, mode=mode, incident=incident, suppressed="card already posted")
        reason = budget_refusal(now, recent, msg, tp.id, server)
        if reason is not None:
            await self.incidents.record_suppressed(
                SuppressedReply(msg.platform, msg.server_id, msg.channel_id, msg.message_id, tp.id, reason, now)
            )
            return Outcome(decision=decision, mode=mode, incident=incident, suppressed=reason, is_answer=is_answer)
        card = render_card(tp, decision.lang)
        return Outcome(decision=decision, mode=mode, incident=incident, card=card, is_answer=is_answer)

    async def card_posted(self, msg: IncomingMessage, outcome: Outcome, post_message_id: str) -> CardPost:
        """Record the card the adapter just posted (for the budget, feedback, edits and retraction)."""
        assert outcome.card is not None
        if outcome.reserved is not None:
            filled = await self.incidents.fill_card_post(outcome.reserved.id, post_message_id)  # type: ignore[attr-defined]
            if filled is not None:
                return filled
        return await self.incidents.record_card_post(
            CardPost(
                id=0,
                platform=msg.platform,
                server_id=msg.server_id,
                channel_id=msg.channel_id,
                thread_id=msg.thread_id,
                source_message_id=msg.message_id,
                post_message_id=post_message_id,
                talking_point_id=outcome.card.talking_point_id,
                author_id=msg.author_id,
                incident_id=outcome.incident.id if outcome.incident else None,
                lang=outcome.card.lang,
                pack_version=outcome.card.pack_version,
                created_at=self.clock(),
            )
        )

    async def card_not_posted(self, outcome: Outcome) -> None:
        """The adapter could not post ``outcome.card``: give its reserved budget slot back."""
        if outcome.reserved is not None:
            await self.incidents.release_card(outcome.reserved.id)  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ member commands

    async def check_text(self, text: str, lang: str | None = None, server_id: str | None = None,
                         platform: str | None = None) -> tuple[Decision, RenderedCard | None]:
        """/check and the context menu: a decision and the card, without logging anything."""
        disabled: tuple[str, ...] = ()
        if platform and server_id:
            disabled = (await self.settings.get_server_settings(platform, server_id)).disabled_packs
        decision = await self._decide(text, lang, server_id, disabled)
        tp = self.catalog.get(decision.talking_point_id) if decision.talking_point_id else None
        # A member asked explicitly, so any matched talking point gets its card, whatever the stance.
        return decision, (render_card(tp, decision.lang) if tp is not None else None)

    def context_card(self, topic: str, lang: str | None = None) -> RenderedCard | None:
        """/context topic: the card for a talking point id, or the best search hit."""
        tp = self.catalog.get(topic.strip())
        if tp is None:
            hits = self.catalog.search(topic, limit=1)
            tp = hits[0] if hits else None
        return render_card(tp, lang) if tp else None

    def search_topics(self, query: str, limit: int = 25) -> list[TalkingPoint]:
        return self.catalog.search(query, limit=limit)

    # ------------------------------------------------------------------ moderator actions

    async def resolve(self, incident_id: int, status: IncidentStatus, reviewer: str, note: str | None = None) -> Incident | None:
        """Record a moderator's verdict (from any platform); the verdict also teaches the detector."""
        incident, _ = await self.resolve_and_learn(incident_id, status, reviewer, note)
        return incident

    async def resolve_and_learn(self, incident_id: int, status: IncidentStatus, reviewer: str,
                                note: str | None = None) -> tuple[Incident | None, Any]:
        """:meth:`resolve`, also returning what the learner reports about the verdict (None without a learner
        or for an unknown incident), for callers that show it (the dashboard's audit log)."""
        incident = await self.incidents.resolve_incident(incident_id, status, reviewer, note)
        learned = None
        if incident is not None and self.learner is not None:
            learned = await self.learner.learn(incident, status, reviewer)
        return incident, learned

    async def record_feedback(self, platform: str, post_message_id: str, user_id: str, helpful: bool) -> bool:
        """A member rated a card. Returns False if the card is unknown or the vote did not change."""
        post = await self.incidents.card_post_by_post_id(platform, post_message_id)
        if post is None:
            return False
        return await self.incidents.record_feedback(post.id, user_id, helpful)
