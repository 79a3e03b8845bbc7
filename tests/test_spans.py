"""Where the detector looks: the author's own words (quotes left out) and sentence spans of long messages."""

from __future__ import annotations

import pytest

from bot.core.models import Action
from bot.core.detector import Prepared
from bot.core.spans import candidate_spans, comments_on_claim, own_words, sentences, wrapped_in_quotes

FILLER = ("I spent the morning repairing the fence in the garden and then walked the dog along the river. "
          "The weather was grey but pleasant, and the bakery on the corner had fresh rye bread again. "
          "My sister called to talk about her new job at the library, which she enjoys a lot. ")
ASSERTION = "Bucha was staged, the bodies were brought in after the Russians left, all for Western cameras."


@pytest.mark.parametrize("raw,own,quoted,quote_only", [
    ("plain text", "plain text", False, False),
    ("> Bucha was staged\n\nNo, satellite images show otherwise.", "No, satellite images show otherwise.", True, False),
    ("> <@alice:example.org> Bucha was staged\n\n!cb check this", "!cb check this", True, False),
    ("> only a quote", "> only a quote", True, True),
    ("a > b is not a quote", "a > b is not a quote", False, False),
])
def test_own_words_leave_quoted_lines_out(raw, own, quoted, quote_only):
    scope = own_words(raw)
    assert (scope.text, scope.quoted, scope.quote_only) == (own, quoted, quote_only)


def test_sentences_are_offsets_that_join_short_pieces_and_skip_quotes():
    raw = "Sure. That is a long enough sentence to stand alone!\n> a quoted line\nAnother line here that is long enough"
    assert [raw[a:b] for a, b in sentences(raw)] == [  # the short quoted line joins the sentence before it
        "Sure. That is a long enough sentence to stand alone!\n> a quoted line", "Another line here that is long enough"]
    assert [raw[a:b] for a, b in sentences(raw, skip_quotes=True)] == [
        "Sure. That is a long enough sentence to stand alone!", "Another line here that is long enough"]


@pytest.mark.parametrize("raw,expected", [
    ("everyone knows Ukraine is the most corrupt country in Europe The town library extended its opening hours",
     ["everyone knows Ukraine is the most corrupt country in Europe", "The town library extended its opening hours"]),
    ("у них на ЧАЭС всё готово для грязной бомбы Наша кошка решила, что корзина теперь её кровать",
     ["у них на ЧАЭС всё готово для грязной бомбы", "Наша кошка решила, что корзина теперь её кровать"]),
    ("нас просто посварили політики з Заходу Хтось знає рецепт супу з сочевиці на вечір",
     ["нас просто посварили політики з Заходу", "Хтось знає рецепт супу з сочевиці на вечір"]),
    ("In Kiew regieren seit Jahren die Nazis, das weiß jeder Die Bahn war heute wieder viel zu spät",
     ["In Kiew regieren seit Jahren die Nazis, das weiß jeder", "Die Bahn war heute wieder viel zu spät"]),
    # "I", a word after a capital, a name do not start a sentence; a short piece is joined back ("The Guardian")
    ("this whole story was reported yesterday by The Guardian", ["this whole story was reported yesterday by The Guardian"]),
    ("what I think is that NATO provoked the whole war in Ukraine", ["what I think is that NATO provoked the whole war in Ukraine"]),
    ("NATO Kept Creeping East, everyone knows it", ["NATO Kept Creeping East, everyone knows it"]),
])
def test_sentences_run_together_without_a_full_stop_are_split(raw, expected):
    assert [raw[a:b] for a, b in sentences(raw)] == expected


def test_spans_are_sentences_then_neighbouring_pairs():
    assert candidate_spans(3) == [(0, 1), (1, 2), (2, 3), (0, 2), (1, 3)]
    assert candidate_spans(1) == []


@pytest.mark.parametrize("before,after", [(FILLER * 3, FILLER * 3), ("", FILLER * 4), (FILLER * 6, "")])
def test_an_assertion_buried_in_a_long_message_is_found_and_its_span_named(detector, before, after):
    text = before + ASSERTION + " " + after
    assert len(text) >= 1000
    d = detector.check(text)
    assert d.action is not Action.NONE and d.talking_point_id == "bucha-staged"
    a, b = d.explanation.span
    assert "Bucha was staged" in text[a:b] and b - a < 300
    assert f"{a}-{b}" in d.explanation.reason


def test_a_quoted_claim_followed_by_a_rebuttal_is_not_an_assertion(detector):
    text = f"> {ASSERTION}\n\nNo. The satellite images show the bodies there while Russian troops held the town."
    d = detector.check(text)
    assert d.action is not Action.REPLY
    whole = detector.check(ASSERTION)
    assert whole.talking_point_id == "bucha-staged"


def test_a_message_that_only_quotes_never_gets_a_card(detector):
    d = detector.check(f"> {ASSERTION}")
    assert d.action is not Action.REPLY
    assert detector.check(ASSERTION).talking_point_id == "bucha-staged"


@pytest.mark.parametrize("wrap", ['"{}"', "«{}»", "> {}"])
def test_a_bare_quote_of_an_assertion_goes_to_review(detector, wrap):
    """Someone posting a talking point in quotation marks, with no word of their own, may be spreading it: a moderator
    sees it. The quoted words are not the author's rebuttal of themselves (the stance calibrator once read them as
    "a quote and then an answer" and dropped the review)."""
    plain = detector.check(ASSERTION)
    assert plain.action is not Action.NONE and plain.talking_point_id == "bucha-staged"
    d = detector.check(wrap.format(ASSERTION))
    assert (d.action, d.talking_point_id) == (Action.REVIEW, "bucha-staged")


@pytest.mark.parametrize("quoted,quote_only,answers", [(False, False, False), (True, False, True), (True, True, False)])
def test_only_a_message_with_its_own_words_answers_a_quote(quoted, quote_only, answers):
    assert Prepared("text", "en", [], True, quoted=quoted, quote_only=quote_only).answers_quote is answers


def test_a_rebuttal_next_to_the_matched_sentence_keeps_the_card_back(detector):
    text = (FILLER + "Some people still say that " + ASSERTION[0].lower() + ASSERTION[1:]
            + " That is a lie and it was debunked long ago. " + FILLER)
    d = detector.check(text)
    assert d.action is not Action.REPLY


@pytest.mark.parametrize("raw,quote_only", [
    ('"Bucha was staged for the cameras."', True),
    ("\u201cBucha was staged for the cameras.\u201d", True),
    ("\u00abБуча \u2014 постановка для камер.\u00bb", True),
    ("\u201eButscha war inszeniert.\u201c", True),
    ('  "Bucha was staged for the cameras."  ', True),
    ('"Bucha" was staged for the "cameras"', False),  # quotation marks inside: not one quotation
    ('Bucha was staged for the cameras.', False),
    ('"Bucha was staged for the cameras.', False),  # never closed
    ('""', False),
])
def test_a_message_wholly_in_quotation_marks_is_a_quote(raw, quote_only):
    scope = own_words(raw)
    assert (scope.quote_only, scope.quoted) == (quote_only, quote_only)
    assert wrapped_in_quotes(raw) is quote_only
    # a quote is read as the words it quotes; anything else is left as written
    assert scope.text == (raw.strip()[1:-1] if quote_only else raw)


@pytest.mark.parametrize("span,neighbour,topical,comments", [
    (["bucha", "stage"], ["soup", "recip", "afternoon"], False,  # small talk, long, no shared word: not about it
     False),
    (["bucha", "stage"], ["bucha", "satellit"], False, True),  # shares a word with the claim
    (["bucha", "stage"], ["russia", "troop"], True, True),  # uses the topic's vocabulary
    (["bucha", "stage"], ["lie"], False, True),  # a short reaction ("That is a lie.") is about the claim
])
def test_a_neighbour_comments_on_the_claim_only_when_related(span, neighbour, topical, comments):
    chars = 20 if neighbour == ["lie"] else 90
    assert comments_on_claim(span, neighbour, chars, topical) is comments


SMALL_TALK_SARCASM = "Of course the bus was late again this morning, as always on a Monday, and it rained the whole way. "
REBUTTAL = "That is a lie, satellite images show the bodies on the street while Russian troops held Bucha. "


@pytest.mark.parametrize("before,after,reads_rebuttal,reads_small_talk", [
    (FILLER + SMALL_TALK_SARCASM, FILLER, False, False),  # unrelated small talk around the claim is not read
    (FILLER, REBUTTAL + FILLER, True, False),  # the rebuttal next to the claim is, after it
    (REBUTTAL, FILLER + SMALL_TALK_SARCASM, True, False),  # ... or before it
])
def test_the_calibrator_reads_the_matched_span_with_the_sentences_that_comment_on_it(
        detector, before, after, reads_rebuttal, reads_small_talk):
    from bot.core.stance import CUES

    p = detector.prepare(before + ASSERTION + " " + after)
    span = next(s for s in p.spans if s.single and "staged" in s.text)
    named = {f"cue_{name}": 0.0 for name, _ in CUES}
    seen, text = detector.calibrator_view(p, span, named)
    assert span.text in text
    assert ("that is a lie" in text) is reads_rebuttal
    assert ("of course" in text) is reads_small_talk
    assert (seen["cue_debunk"] > 0) is reads_rebuttal  # the cue counts are the text's
    if reads_rebuttal:  # in reading order
        assert (text.index("that is a lie") < text.index(span.text)) is (before == REBUTTAL)
    assert detector.calibrator_view(p, None, named) == (named, p.text)  # a whole-message decision reads the message
