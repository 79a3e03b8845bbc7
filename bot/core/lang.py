"""Tiny, dependency-free language guess for short chat messages.

``detect_language(text)`` returns ``"en"``, ``"ru"``, ``"uk"``, ``"de"`` or ``"other"``. No model: one pass
over the whitespace-separated words plus a few C-level letter scans, built for 5-15 word messages (about
10-20 µs each). Never raises (falls back to ``"en"``).

Rules, in order:

1. URLs, mentions, Discord markup and HTML tags (with their attributes) are ignored; the text is lower-cased
   (first 2000 characters only).
2. Script: each word (punctuation and digits stripped) counts its length towards the script of its first
   letter - Latin, Cyrillic or other. No letters at all (emoji, numbers, empty) -> ``"other"``.
   Other scripts (Greek, Arabic, CJK, ...) outnumbering Latin + Cyrillic -> ``"other"``. Otherwise
   Cyrillic >= Latin goes to the Cyrillic branch, else to the Latin branch.
3. Cyrillic branch. Belarusian ``ў`` or Serbian/Macedonian letters (``ђ ј љ њ ћ џ ѓ ќ ѕ``) -> ``"other"``.
   Otherwise Ukrainian and Russian are scored:

   * letters: ``і ї є ґ`` (+3 each) and the apostrophe inside a Cyrillic word (``п'ять``, +2) for ``uk``;
     ``ы э ъ ё`` (+3 each) for ``ru``;
   * function words that exist in only one of the two languages (uk ``що це як та від але ми ви він
     вони де хто чи ні з його ...``; ru ``что это как и он она от но да нет мы вы где кто с его ...``),
     +2 (+1 for weaker ones); words shared by both (``не для на в до по так все``) count for neither;
   * endings: ``-ння``, ``-ськ-``/``-цьк-``, ``-ються`` for uk; ``-ия``/``-ие`` (``Россия``), ``-ая``, ``-ое``,
     ``-ется``/``-ются``/``-ится``/``-ятся`` for ru (+1).

   The higher score wins; a tie (including no evidence at all) -> ``"ru"``, the more common Cyrillic
   language in international chats. Short Ukrainian without ``і ї є ґ`` is usually caught by its function
   words (``Що ти кажеш?``, ``Ми переможемо``, ``Вони брешуть``).
4. Latin branch: English, German and "other Latin" (French, Spanish, Italian, Portuguese, Dutch, Polish,
   Czech function words; letters like ``é ñ ł ą ç ø ş``) are scored:

   * ``ä ö ü ß`` +2 each for ``de``; other-language letters +2 for ``other``;
   * function words, +2 strong / +1 weak. Words that are common in both English and German (``in an so
     also was will war man am``) count for neither, so German with English loanwords (``Das ist Fake News,
     check mal die Fakten``) is decided by its German function words;
   * endings: ``-ung(en)``, ``-keit``, ``-heit``, ``-lich``, ``-isch``, ``sch`` for ``de``; ``-ing``, ``-ly``,
     ``'s``/``n't`` for ``en``.

   ``other`` wins only with a score >= 2 that beats both ``en`` and ``de``; ``de`` wins when it beats
   ``en``; everything else - including Latin text with no evidence at all (``lol ok``) - is ``"en"``.
"""

from __future__ import annotations

import functools
import re

__all__ = ["LANGUAGES", "detect_language"]

LANGUAGES = ("en", "ru", "uk", "de", "other")

_MAX_CHARS = 2000

# --------------------------------------------------------------------------------------- word tables

# Cyrillic: word -> (uk, ru)
_UK_STRONG = (
    "що це цей ця ці цього цьому цих цим та від але або ще вже ми ви він вона воно вони його її їх їм цю "
    "який яка яке які якого якої якщо коли чому де хто чи ні немає нема бути мене мені тобі собі "
    "щоб після проти навіть також тільки лише дуже можна треба потрібно зараз завжди нічого щось "
    "хтось отже адже бо з із зі під між свій своє своїх наші наша наше наших мій моя моє всі усі "
    "той ті тих є має мають був була були буде будуть кажуть каже кажеш кажу знаю знаєш знаєте думаю "
    "хоче хочуть росія росії україна україни україні війна війни війну путін зеленський й як"
)
_UK_WEAK = "мало брехня слава тобто ось тому тепер"
_RU_STRONG = (
    "что это этот эта эти этого этом этих как и он она оно они ее её их от но да нет уже еще ещё "
    "только или если когда почему потому где кто мы вы был была были быть есть меня мне тебе себя ли "
    "чтобы после против даже также очень можно надо нужно сейчас теперь всегда ничего тоже с со под "
    "между свой своя свои наши какой какая какие который которая которые которых его него ему чем "
    "чего будет будут сказал говорит говорят знаю знаешь думаю хочет хотят россия россии украина "
    "украины украине война войны войну путин зеленский вот здесь бы ни из"
)
_RU_WEAK = "же ложь"
# words spelled the same in both: never evidence
_CYR_SHARED = "не для на в у до по за про без при через над все нас нам вам так там тут ну люди правда"

# Latin: word -> (en, de, other)
_EN_STRONG = (
    "the and is are were of to it that this you he she they we not for with on at by from have has had "
    "be been do does did but or what why who how there their about just if would can can't don't "
    "doesn't didn't isn't aren't wasn't won't i'm it's that's there's yes my your our me him them "
    "as more than then only which when because into over its should could people like get know think "
    "any some these those every nobody anyone everyone never ever really very much many i"
)
_EN_WEAK = "a no all one up out see said"
_DE_STRONG = (
    "und der die das ist sind nicht ein eine einen einem einer eines ich du er sie wir ihr mit von zu "
    "zum zur auf für den dem des im auch sich aber noch wie wenn dass doch schon nur hat haben wird "
    "werden wurde wurden kann können muss müssen kein keine keinen mehr oder wer warum weil hier jetzt "
    "sehr gibt uns euch mich mir dir ja nein alle diese dieser dieses immer heute gegen ohne über "
    "unsere unser bei nach aus vom als bin bist seid wo mal halt eben gesagt sagen nichts etwas viel "
    "viele ganz klar lest lesen glaube stimmt wollte wollen sowas dann denn da ob"
)
_DE_WEAK = "es um er wegen"
_OTHER_WORDS = (
    # French
    "le la les est et des une du pas pour dans qui que ce cette avec sont je vous nous il elle ils "
    "c'est n'est l'otan mais ou très aussi de en "
    # Spanish / Portuguese / Italian
    "el los las y por para con una está del lo su sus muy pero como más todo mundo sobre hay fue ser eso "
    "esto ni não é uma e gli hanno nel dei delle degli della "
    "ao à il che di sono questo questa anche "
    # Dutch
    "het een van niet zijn dat wat ook maar wel geen "
    # Polish / Czech / Slovak
    "jest się że są jak czy już być który która jsou není také"
)
_SHARED_LAT = "in an so also was will war man am"  # common in both English and German

# word endings (checked on words longer than 4 letters for Latin, 3 for Cyrillic); "-ung" also covers "-ungen"
_DE_END4 = frozenset(("keit", "heit", "lich", "isch", "ngen", "haft", "chen"))
_EN_END3 = frozenset(("ing", "n't"))
_EN_END2 = frozenset(("ly", "'s"))
_RU_END2 = frozenset(("ия", "ие", "ая", "ое"))
_RU_END4 = frozenset(("ется", "ются", "ится", "ятся"))


@functools.cache
def _tables() -> tuple[dict[str, tuple[int, int]], dict[str, tuple[int, int, int]], re.Pattern[str]]:
    cyr: dict[str, tuple[int, int]] = {}
    for words, weight in ((_UK_WEAK, (1, 0)), (_UK_STRONG, (2, 0))):
        for w in words.split():
            cyr[w] = weight
    for words, weight in ((_RU_WEAK, (0, 1)), (_RU_STRONG, (0, 2))):
        for w in words.split():
            old = cyr.get(w, (0, 0))
            cyr[w] = (old[0], weight[1])
    for w in _CYR_SHARED.split():
        cyr.pop(w, None)
    # a word listed for both languages (e.g. "знаю", "думаю") is no evidence either
    cyr = {w: v for w, v in cyr.items() if not (v[0] and v[1])}

    lat: dict[str, tuple[int, int, int]] = {}
    for words, idx, weight in (
        (_OTHER_WORDS, 2, 1),
        (_EN_WEAK, 0, 1),
        (_DE_WEAK, 1, 1),
        (_EN_STRONG, 0, 2),
        (_DE_STRONG, 1, 2),
    ):
        for w in words.split():
            v = list(lat.get(w, (0, 0, 0)))
            v[idx] = weight
            lat[w] = (v[0], v[1], v[2])
    for w in _SHARED_LAT.split():
        lat.pop(w, None)

    strip = re.compile(
        r"https?://\S+|www\.\S+|<[@#:/a]?[!&]?[\w:\-]*>|</?[a-z][\w\-]*(?:\s[^<>]{0,200})?/?>|@[\w.:\-]+", re.I
    )
    return cyr, lat, strip


_CYR_RANGE = "\u0400-\u052f"
_PUNCT = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~0123456789«»„“”‘’ʼ‚‹›—–…¿¡·•°№§"
_UK_APOSTROPHE_RE = re.compile(f"[{_CYR_RANGE}]['’ʼ][{_CYR_RANGE}]")
_CYR_OTHER_RE = re.compile("[ўђјљњћџѓќѕ]")
_UK_LETTERS_RE = re.compile("[іїєґ]")
_RU_LETTERS_RE = re.compile("[ыэъё]")
_DE_LETTERS_RE = re.compile("[äöüß]")
_OTHER_LATIN_RE = re.compile("[éèêëàâçñãõåøæœłąęśżźćńčřěůşğıőűíóúìòùîôû]")


def detect_language(text: str) -> str:
    """Guess the language of a short chat message: "en", "ru", "uk", "de" or "other" (see module doc)."""
    try:
        return _detect(text)
    except Exception:  # pragma: no cover - never let language detection break message handling
        return "en"


def _detect(text: str) -> str:
    if not isinstance(text, str) or not text:
        return "other"
    cyr_words, lat_words, strip = _tables()
    s = text[:_MAX_CHARS]
    if "://" in s or "www." in s or "@" in s or "<" in s:
        s = strip.sub(" ", s)
    s = s.lower()

    # one pass over the words: script sizes (letters, approximated by word length) and word evidence
    n_cyr = n_lat = n_other = 0
    uk = ru = en = de = other = 0
    for w in s.split():
        if not w.isalpha():
            w = w.strip(_PUNCT)
            if not w:
                continue
        c = w[0]
        if "\u0400" <= c <= "\u052f":
            n_cyr += len(w)
            v = cyr_words.get(w)
            if v is not None:
                uk += v[0]
                ru += v[1]
            if len(w) > 3:
                if w[-2:] in _RU_END2 or w[-4:] in _RU_END4:
                    ru += 1
                elif w[-3:] == "ння" or w[-5:] == "ються" or "ськ" in w or "цьк" in w:
                    uk += 1
        elif c <= "\u024f" and c.isalpha():
            n_lat += len(w)
            v = lat_words.get(w)
            if v is not None:
                en += v[0]
                de += v[1]
                other += v[2]
            if len(w) > 4:
                if w[-3:] == "ung" or w[-4:] in _DE_END4 or "sch" in w:
                    de += 1
                elif w[-3:] in _EN_END3 or w[-2:] in _EN_END2:
                    en += 1
        elif c.isalpha():
            n_other += len(w)
    if n_cyr + n_lat + n_other == 0 or n_other > n_cyr + n_lat:
        return "other"

    if n_cyr and n_cyr >= n_lat:
        if _CYR_OTHER_RE.search(s):
            return "other"
        uk += 3 * len(_UK_LETTERS_RE.findall(s))
        ru += 3 * len(_RU_LETTERS_RE.findall(s))
        if "'" in s or "’" in s or "ʼ" in s:
            uk += 2 * len(_UK_APOSTROPHE_RE.findall(s))
        return "uk" if uk > ru else "ru"

    if not s.isascii():
        de += 2 * len(_DE_LETTERS_RE.findall(s))
        other += 2 * len(_OTHER_LATIN_RE.findall(s))
    if other >= 2 and other > en and other > de:
        return "other"
    if de > en:
        return "de"
    return "en"
