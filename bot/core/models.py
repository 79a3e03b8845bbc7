"""Platform-neutral data model shared by every part of contextbot.

Everything here is an immutable value (frozen dataclasses, tuples), so the core can hand results to adapters
without anyone mutating shared state. Nothing in ``bot.core`` imports discord, nio or aiosqlite.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping


class Stance(str, enum.Enum):
    """What the author of a message does with a talking point."""

    ASSERT = "assert"  # states the talking point as true
    REFUTE = "refute"  # argues against it / debunks it
    REPORT = "report"  # reports that someone said it ("Lavrov claimed ...")
    ASK = "ask"  # asks whether it is true
    OTHER = "other"  # mentions the topic without taking a position

    def __str__(self) -> str:  # so f-strings print "assert", not "Stance.ASSERT"
        return self.value


class Action(str, enum.Enum):
    """What the bot does with a message."""

    REPLY = "reply"  # post the context card
    REVIEW = "review"  # log an incident and ask a moderator
    NONE = "none"  # nothing

    def __str__(self) -> str:
        return self.value


class IncidentStatus(str, enum.Enum):
    OPEN = "open"
    CONFIRMED = "confirmed"
    FALSE_POSITIVE = "false_positive"
    DISMISSED = "dismissed"

    def __str__(self) -> str:
        return self.value


class ChannelMode(str, enum.Enum):
    """Per-channel behaviour set by moderators (shared by Discord and Matrix)."""

    OFF = "off"  # ignore the channel
    LOG = "log"  # incidents only
    REVIEW = "review"  # incidents + moderator alert (the safe default)
    REPLY = "reply"  # card replies for confident assertions, review for the rest

    def __str__(self) -> str:
        return self.value


# --------------------------------------------------------------------------------------------- packs


@dataclass(frozen=True)
class Source:
    publisher: str
    title: str
    url: str  # "" when the pack marks it "not confirmed" (a primary source named without a confirmed URL)
    date: str  # free text as published ("12 Dec 2017", "2015", "not shown")


@dataclass(frozen=True)
class KeyFact:
    """One key fact of a card and what supports it."""

    text: str
    sources: tuple[int, ...]  # numbers (from 1, as readers see them) of the talking point's sources
    as_of: str = ""  # "YYYY", "YYYY-MM" or "YYYY-MM-DD" for a figure that changes; "" when it does not


@dataclass(frozen=True)
class CardText:
    """The human-written card for one talking point in one language."""

    title: str
    summary: str  # <= 600 characters
    key_facts: tuple[KeyFact, ...]  # 2-4 items
    why_it_matters: str


@dataclass(frozen=True)
class Exemplar:
    """A labelled example message for a talking point."""

    text: str
    stance: Stance
    lang: str  # ISO 639-1 ("en", "ru", "uk", "de", ...)


@dataclass(frozen=True)
class TalkingPoint:
    id: str
    claim: str  # the claim in one sentence (English)
    cards: Mapping[str, CardText]  # language -> card; "en" always present
    sources: tuple[Source, ...]
    exemplars: tuple[Exemplar, ...]
    keywords: tuple[str, ...] = ()  # optional lexical hints for the cheap gate (any language)
    pack_id: str = ""
    pack_version: str = ""
    reviewed: str = ""  # ISO date of the last fact-check of the cards ("" when the pack does not say)

    @property
    def title(self) -> str:
        return self.cards["en"].title

    def title_in(self, lang: str | None) -> str:
        """The title in ``lang`` when the pack has it, else English (as :meth:`card_for` picks)."""
        return self.card_for(lang)[1].title

    def card_for(self, lang: str | None) -> tuple[str, CardText]:
        """The card in ``lang`` when the pack has it, else English. Returns (language, card)."""
        if lang and lang in self.cards:
            return lang, self.cards[lang]
        return "en", self.cards["en"]


@dataclass(frozen=True)
class Pack:
    id: str
    version: str
    name: str
    description: str
    languages: tuple[str, ...]
    talking_points: tuple[TalkingPoint, ...]
    origin: str = ""  # file or directory it was loaded from
    claimreview: Mapping[str, Any] | None = None  # pack.yaml's optional ClaimReview publishing settings
    # words of the topic's background vocabulary (pack.yaml ``background``): words its genuine news and discussion
    # use all the time ("Russia", "invaded", "NATO", "sanctions"), which never carry a match on their own
    background: tuple[str, ...] = ()

    def get(self, talking_point_id: str) -> TalkingPoint | None:
        for tp in self.talking_points:
            if tp.id == talking_point_id:
                return tp
        return None


# ------------------------------------------------------------------------------------------ messages


@dataclass(frozen=True)
class IncomingMessage:
    """A chat message converted from a platform event by an adapter."""

    platform: str  # "discord", "matrix", "console"
    server_id: str  # guild id / space or homeserver-scoped id; "" for DMs
    channel_id: str  # channel / room id
    message_id: str
    author_id: str
    text: str
    link: str = ""  # jump URL / matrix.to permalink
    thread_id: str = ""  # Discord thread or Matrix thread root, "" if none
    lang: str | None = None  # if the platform knows it; otherwise detected
    created_at: datetime | None = None
    author_is_bot: bool = False
    is_edit: bool = False
    author_created_at: datetime | None = None  # account age, where the platform gives it (campaign alerts)
    author_joined_at: datetime | None = None  # when the author joined the server, where known


# ------------------------------------------------------------------------------------------ decisions


@dataclass(frozen=True)
class Explanation:
    """Why the detector decided what it did. Always present on a Decision."""

    talking_point_id: str | None
    stance: Stance | None
    stance_probs: Mapping[str, float]  # stance value -> probability
    semantic_score: float  # best cosine similarity to the talking point (0-1)
    lexical_score: float  # best lexical (BM25-like, squashed to 0-1) score
    match_score: float  # combined retrieval score (0-1)
    nearest_exemplar: str | None  # text of the nearest exemplar
    nearest_exemplar_stance: Stance | None
    gated: bool  # True when the cheap gate kept the message away from the encoder
    reason: str  # one human-readable sentence
    language: str  # detected / given language of the message
    # the sentence(s) of a long message the decision rests on, as character offsets into the message text (None: the
    # whole message). Offsets, not text: when the message content is purged, nothing of it is left here.
    span: tuple[int, int] | None = None
    signals: Mapping[str, float] = field(default_factory=dict)  # the claim verifier's inputs (bot.core.verifier)


@dataclass(frozen=True)
class Decision:
    action: Action
    talking_point_id: str | None
    stance: Stance | None
    score: float  # 0-1: confidence that this message asserts the talking point (or match score)
    explanation: Explanation
    lang: str = "en"
    is_incident: bool = False  # questions may get a card but are not incidents against the author
    answer_question: bool = False  # a clear question about a clearly matched point: the card may answer it
    candidates: tuple[tuple[str, float], ...] = field(default_factory=tuple)  # (tp id, match score), best first
    # the whole message's sentence vector when the detector computed one (campaign near-duplicate grouping)
    vector: Any = field(default=None, compare=False, repr=False)
    # emerging narratives (bot.core.narratives): for an on-topic message that matched no talking point, when the
    # detector is asked to (Detector.narratives), the vector of the sentence decided on and calibrated P(assert)
    claim_vector: Any = field(default=None, compare=False, repr=False)
    p_assert: float | None = None


@dataclass(frozen=True)
class RenderedCard:
    """A card ready for a platform adapter to format (embed, HTML, console text)."""

    talking_point_id: str
    lang: str
    title: str
    summary: str  # cites its sources inline as footnote numbers: "... 25 were killed [1]."
    key_facts: tuple[str, ...]  # each ends with its footnote numbers (and "as of" date), see core.cards.fact_line
    why_it_matters: str
    sources: tuple[Source, ...]  # footnote [n] is sources[n - 1]
    footer: str  # pack id/version and "why am I seeing this?"
    pack_version: str


# ------------------------------------------------------------------------------------------ incidents


@dataclass(frozen=True)
class Incident:
    id: int
    platform: str
    server_id: str
    channel_id: str
    message_id: str
    message_link: str
    author_id: str
    content: str | None  # None once purged
    talking_point_id: str
    stance: Stance
    score: float
    match_score: float
    action: Action
    status: IncidentStatus
    reviewer: str | None
    note: str | None
    created_at: datetime
    updated_at: datetime
    group_id: int | None = None  # incidents by the same author on the same point within a window share it
    hit_count: int = 1
    explanation_json: str = "{}"
    resolved_at: datetime | None = None
