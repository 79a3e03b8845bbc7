"""Where in a message to look: the author's own words, and sentence spans of long messages.

Two things a whole-message decision gets wrong:

- **Quotes.** ``> Bucha was staged`` followed by a rebuttal is the author's answer to someone else's claim. Lines
  that begin with ``>`` (Discord and Markdown quotes, Matrix's legacy reply fallback ``> <@user:hs> …``) are not
  the author's words: the detector decides on the rest. A message that is *only* a quote is decided as a whole,
  but can never earn a card (see :attr:`Scope.quote_only`).
- **Long messages.** A sentence embedding of 2,000 characters is an average of everything in it, so one
  assertion among ten unrelated sentences disappears. Long messages are also cut into sentence spans (single
  sentences, and neighbouring pairs of sentences that each pass the cheap gate: a claim spread over two
  sentences, never a claim plus small talk); the detector scores every span that passes the gate and decides
  on the best-matching one, reading the sentences around it for contrary cues.

Pure functions on raw text; the detector normalises what they return.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A message (own words, normalised) at least this long is also examined sentence by sentence. Shorter messages are
# decided whole, as they read (chat assertions are rarely longer).
SPAN_MIN_CHARS = 200
MAX_SPANS = 48  # at most this many spans are scored for one message (long texts: the first ones)
SPAN_SCAN_CHARS = 8000  # raw characters of a message looked at for spans
MIN_SENTENCE_CHARS = 25  # a shorter piece is joined to its neighbour ("Sure." "Lol.")

_QUOTE_LINE = re.compile(r"^\s*>")
# Quotation-mark pairs that can wrap a whole message (ASCII, English/Ukrainian/Russian/German typographic ones).
_WRAPPING_QUOTES = (('"', '"'), ("\u201c", "\u201d"), ("\u00ab", "\u00bb"), ("\u201e", "\u201c"), ("\u201e", "\u201d"),
                    ("\u00bb", "\u00ab"), ("\u2018", "\u2019"), ("\u201d", "\u201d"))
_QUOTE_CHARS = frozenset("".join(a + b for a, b in _WRAPPING_QUOTES))

# A sentence next to the matched span of a long message is read for contrary cues (negation, debunking,
# attribution, sarcasm, a question) only when it comments on the span's claim: it shares a content word with the
# span, uses the topic's vocabulary (passes the gate), or is a short reaction ("Not true." "Really?"). Small
# talk around a claim ("Does anyone know a soup recipe that does not take all day?") is not an argument with it.
# Debunking, attribution and sarcasm cues are rare in small talk and always count (precision first).
SHORT_NEIGHBOUR_CHARS = 60
NEIGHBOUR_ALWAYS_CONTRARY = ("debunk", "attribution", "sarcasm")
NEIGHBOUR_CONTRARY_IF_ON_CLAIM = ("negation", "question")
# Chat often runs sentences together without a full stop ("...most corrupt country in Europe The town library
# is..."): a capitalised pronoun, article or question word right after a lower-case word starts a new sentence
# (these words are written in lower case inside a sentence; "I" and the German "Sie" are left out: they are not).
_OPENERS = ("The|This|That|These|Those|My|Our|We|They|He|She|It|You|Does|Do|Did|Is|Are|Was|Were|What|Why|How|"
            "Someone|Somebody|Anyone|Anybody|Everyone|Everybody|Nobody|"
            "Я|Мы|Вы|Ты|Он|Она|Они|Это|Этот|Эта|Наш|Наша|Наше|Наши|Мой|Моя|Моё|Мое|Мои|Кто|Что|Почему|Зачем|"
            "Кто-нибудь|Кто-то|Никто|Все|Всем|"
            "Ми|Ви|Ти|Він|Вона|Вони|Це|Цей|Ця|Наші|Мій|Моє|Мої|Хто|Що|Чому|Навіщо|Хтось|Ніхто|Усі|Всі|Всім|"
            "Ich|Wir|Du|Er|Es|Der|Die|Das|Mein|Meine|Unser|Unsere|Warum|Wieso|Jemand|Niemand|Alle")
_SENTENCE_END = re.compile(r"(?<=[.!?…。])[\"'»“”)\]]*\s+|\n+"
                           rf"|(?<=[a-zäöüßа-яёіїєґ])[ \t]+(?=(?:{_OPENERS})\b)")


@dataclass(frozen=True)
class Scope:
    """The part of a raw message the author wrote themselves."""

    text: str  # the author's own lines (the whole message when it has no quote, or is only a quote; the words
    # inside the quotation marks when the whole message is wrapped in them)
    quoted: bool  # the message quoted someone
    quote_only: bool  # the message is nothing but a quote


def wrapped_in_quotes(raw: str) -> bool:
    """True if the whole message is one quotation: it opens and closes with a matching pair of quotation marks
    and no quotation mark stands inside (``"Bucha was staged"``, not ``"A" and "B"``)."""
    s = raw.strip()
    if len(s) < 3 or s[0] not in _QUOTE_CHARS:
        return False
    for left, right in _WRAPPING_QUOTES:
        if s[0] == left and s[-1] == right:
            return not any(c in _QUOTE_CHARS for c in s[1:-1]) and bool(s[1:-1].strip())
    return False


def own_words(raw: str) -> Scope:
    """Drop quoted lines (``>``) from ``raw``; keep everything when nothing else is left. A message wholly
    wrapped in quotation marks is someone quoting: decided on what it quotes (without the marks, so it is read
    as the words are), never a card (``quote_only``)."""
    if wrapped_in_quotes(raw):
        s = raw.strip()
        return Scope(s[1:-1].strip(), True, True)
    if ">" not in raw:
        return Scope(raw, False, False)
    lines = raw.splitlines()
    own = [ln for ln in lines if not _QUOTE_LINE.match(ln)]
    if len(own) == len(lines):
        return Scope(raw, False, False)
    text = "\n".join(own).strip()
    if not text:
        return Scope(raw, True, True)
    return Scope(text, True, False)


def sentences(raw: str, *, skip_quotes: bool = False) -> list[tuple[int, int]]:
    """Sentences of ``raw`` as (start, end) character offsets, split at sentence-final punctuation and line
    breaks; a short piece is joined to its neighbour, so every sentence says something on its own. With
    ``skip_quotes``, quoted lines (``>``) are left out."""
    out: list[list[int]] = []
    pos = 0
    for line in raw[:SPAN_SCAN_CHARS].splitlines(keepends=True):
        line_start, pos = pos, pos + len(line)
        if skip_quotes and _QUOTE_LINE.match(line):
            continue
        piece_start = 0
        for m in [*_SENTENCE_END.finditer(line), None]:
            piece_end = m.start() if m else len(line)
            piece = line[piece_start:piece_end]
            lead_ws = len(piece) - len(piece.lstrip())
            a, b = line_start + piece_start + lead_ws, line_start + piece_start + len(piece.rstrip())
            piece_start = m.end() if m else len(line)
            if b <= a:
                continue
            if out and (b - a < MIN_SENTENCE_CHARS or out[-1][1] - out[-1][0] < MIN_SENTENCE_CHARS):
                out[-1][1] = b
            else:
                out.append([a, b])
    return [(a, b) for a, b in out]


def candidate_spans(n: int) -> list[tuple[int, int]]:
    """Spans of ``n`` sentences as (first, last+1) sentence indices: every sentence, then every pair of
    neighbours (none for a single sentence: the whole message is that sentence)."""
    if n < 2:
        return []
    return [(i, i + 1) for i in range(n)] + [(i, i + 2) for i in range(n - 1)]


def comments_on_claim(span_stems: list[str], neighbour_stems: list[str], neighbour_chars: int, topical: bool) -> bool:
    """Whether a sentence next to a matched span comments on its claim (see :data:`SHORT_NEIGHBOUR_CHARS`):
    it is topical, short, or shares a content word (stem) with the span."""
    return topical or neighbour_chars <= SHORT_NEIGHBOUR_CHARS or bool(set(span_stems) & set(neighbour_stems))
