"""Text normalisation for matching: defeat evasion tricks, keep the meaning.

``normalize(text)`` turns a raw chat message into a :class:`NormalizedText` whose ``text`` is what the
lexical gate, the retriever and the encoder see. The pipeline, in order:

1. truncate to ``max_chars`` (before anything expensive), drop lone surrogates;
2. undo right-to-left-override reversal (``U+202E``), delete invisible characters (zero-width space/joiner,
   word joiner, soft hyphen, bidi controls, variation selectors, tag characters, Hangul fillers, ...);
   map "fancy" letters NFKC does not cover (small capitals, negative circled/squared letters) and
   apostrophe variants (``’ ʼ ´``) to plain ones; Unicode NFKC (fullwidth, mathematical bold/italic, circled
   letters, ligatures, compatibility spaces);
3. set URLs (``http(s)://``, ``www.``, bare ``t.me/...``-style domains, Discord ``<https://...>`` and
   ``[text](url)`` masked links - their text stays unless it only says "link", ``[source](url)`` -, e-mail
   addresses as ``mailto:``) and mentions (Discord ``<@1>``, ``<@!1>``,
   ``<@&1>``, ``<#1>``, ``@everyone``/``@here``, Matrix ``@user:server.org``, plain ``@name``) aside;
   slash commands keep only their name, Discord custom emoji ``<:name:id>`` and timestamps are dropped;
   then HTML: ``<script>``/``<style>``-like elements go with their content, tags of known HTML elements go
   and leave their text (``<b>NATO</b>`` -> ``NATO``; ``<sarcasm>`` is not HTML and stays); brackets left
   empty by a removed URL go too;
4. strip combining marks from words that carry leftover (uncomposed) marks - Zalgo text, overlay strokes,
   stress accents - re-composing Cyrillic й/ё/ї/ў (and capitals) so real Russian/Ukrainian survives. Words
   without leftover marks are untouched, so German ü/ß, French é etc. are kept;
5. remove Markdown noise (``** __ ~~ ` || \\``, code fence lines with their language tag, ``>`` quotes,
   ``#`` headings) but keep the words; drop junk tokens at either end of the message: footnotes and counters
   (``[1]``, ``(1/3)``, ``#12``), version or price tags (``(b1.00)``, ``(v2)``), bracketed dates and times
   (``(24.02.2022)``), a chat client's edit marker (``(edited)``, ``(изменено)``), an ellipsis standing apart
   (``... ``); a bracketed year ``(2014)`` or name ``(MH17)`` is text and stays;
6. join spaced-out letters (``N A T O``, ``n.a.t.o``, ``N-A-T-O``, ``N_A_T_O``, ``Б у ч а``): >= 3 single
   letters with one consistent separator (space, ``.``, ``-``, ``_`` or ``". "``). Runs made only of letters
   that are words on their own (``я и в``, ``a I``) are left alone when space-separated, and a
   lower->upper case change splits a run (``в Б у ч а`` -> ``в буча``);
7. homoglyphs, per word, only when the word mixes scripts: letters are mapped to the script that lets the
   whole word be written in one script, the word's majority script first (message majority on a tie):
   ``Ukrаine`` (Cyrillic а) -> ``ukraine``, ``прoпаганда`` (Latin o) -> ``пропаганда``, ``NАТО`` (Latin N,
   Cyrillic АТО; N has no Cyrillic twin) -> ``nato``. An all-capital Greek word made only of Latin look-alikes
   (``ΝΑΤΟ``) becomes Latin. Single-script Cyrillic words are never touched (``нато``, ``україна`` stay);
8. leetspeak inside words that also contain letters (``n4t0``, ``bi0l4bs``, ``$anctions``, ``z3l3nsky``,
   ``н@то`` with a Cyrillic table: 0->о 3->з 4->ч 6->б @->а). A word is only rewritten when it shows an
   *interior* substitution (letters on both sides of a one-character or doubled digit/symbol run, or a
   leading ``$`` not followed by an all-capital cashtag), so ``2014``, ``14,000``, ``1990s``, ``mh17``,
   ``covid19``, ``t90m``, ``4chan``, ``nato!``, ``$USD`` stay as written (``h1n1``-style strains and
   ``m1a1``-style tank names are protected explicitly). Underscores become spaces first;
9. ``str.casefold()`` (so ``ß`` -> ``ss``);
10. collapse whitespace, collapse runs of 4+ identical non-digit characters to two.

The names of the tricks found are returned in ``evasion`` (in this order): ``bidi``, ``zero_width``,
``fullwidth``, ``styled``, ``combining``, ``spaced``, ``homoglyph``, ``leet``, ``repeated``.

Speed: every pass is gated by a cheap test (``in``, ``str.isascii`` or a single-character-class search),
so a plain 100-character message only pays for a handful of C-level scans. ``normalize`` never raises: on
an unexpected internal error it falls back to a plain casefold. Nothing is built at import time except
small constant tables; the regular expressions are compiled on first use and the confusables table of
``confusable_homoglyphs`` is loaded the first time a mixed-script word needs it (``functools.cache``).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

__all__ = ["DEFAULT_MAX_CHARS", "NormalizedText", "normalize", "tokens", "warm_up"]

DEFAULT_MAX_CHARS = 4000


@dataclass(frozen=True, slots=True)
class NormalizedText:
    text: str  # normalised text for matching
    urls: tuple[str, ...] = ()
    mentions: tuple[str, ...] = ()
    truncated: bool = False
    evasion: tuple[str, ...] = ()  # names of the evasion tricks found


# ------------------------------------------------------------------------------------------ constant tables

# Invisible / formatting characters that carry no text (deleted). BMP part and astral part.
_INVISIBLE_BMP = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb"
)
_INVISIBLE_ASTRAL = "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e007f\U000e0100-\U000e01ef"
# Combining-mark blocks used for Zalgo / overlay / accent abuse (script-specific vowel signs are not here).
_MARKS = "\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_FULLWIDTH = "\uff10-\uff19\uff21-\uff3a\uff41-\uff5a"
_STYLED_BMP = (  # circled/parenthesized letters, small capitals, IPA look-alikes
    "\u24b6-\u24e9\u249c-\u24b5\u1d00-\u1d22\u0299\u029c\u026a\u029f\u0274\u0280\u028f\u0262\ua730\ua731\u0251\u0261"
)
_STYLED_ASTRAL = "\U0001d400-\U0001d7ff\U0001f130-\U0001f189"
_SPACING_ACCENTS = (  # spacing accents whose NFKC form is space + combining mark
    "\u00a8\u00af\u00b4\u00b8\u02d8-\u02dd\u0384\u0385\u1fbd-\u1fc1\u1fcd-\u1fcf\u1fdd-\u1fdf"
    "\u1fed-\u1fef\u1ffd\u1ffe\uffe3"
)
_PRE_BMP = "\u2018\u02b9\u00b4\u2032\u055a\u2800\u0130"  # other characters _PRE_TABLE rewrites

_LAT = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff"
_CYR = "\u0400-\u052f\u1c80-\u1c8f\u2de0-\u2dff\ua640-\ua69f"
_GRK = "\u0370-\u03ff\u1f00-\u1fff"
_OTH = f"[^\\W\\d_{_LAT}{_CYR}{_GRK}]"  # a letter of any other script

_PRE_TABLE: dict[int, str] = {
    # apostrophe variants -> ASCII apostrophe (Ukrainian п'ять, English don't); ’ and ʼ use str.replace
    **{ord(c): "'" for c in "\u2019\u2018\u02bc\u02b9\u00b4\u2032\u055a"},
    0x2800: " ",  # braille blank, used as an "invisible" space
    0x0130: "I",  # Turkish dotted capital I (casefolds to i + combining dot)
    # small capitals and IPA look-alikes that NFKC leaves alone
    **{
        ord(k): v
        for k, v in {
            "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ꜰ": "f", "ɢ": "g", "ʜ": "h", "ɪ": "i",
            "ᴊ": "j", "ᴋ": "k", "ʟ": "l", "ᴍ": "m", "ɴ": "n", "ᴏ": "o", "ᴘ": "p", "ʀ": "r", "ꜱ": "s",
            "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ʏ": "y", "ᴢ": "z", "ɑ": "a", "ɡ": "g",
        }.items()
    },
    # negative circled / negative squared capitals (NFKC has no decomposition for them)
    **{0x1F150 + i: chr(0x41 + i) for i in range(26)},
    **{0x1F170 + i: chr(0x41 + i) for i in range(26)},
}

_TLDS = (
    "com|org|net|info|biz|ru|su|ua|by|kz|de|uk|eu|io|me|tv|gov|edu|news|online|site|xyz|ly|gg|fr|pl|"
    "рф|укр"
)
_URL_TAIL = ".,;:!?'\"*_~|"
_KEEP_MARK = {"и": "\u0306", "И": "\u0306", "у": "\u0306", "У": "\u0306",
              "е": "\u0308", "Е": "\u0308", "і": "\u0308", "І": "\u0308"}
_COMMON_SINGLE = frozenset("aiouаивкосуяжбзйі")  # letters that are words on their own (en/ru/uk)
_MD_CHARS = "*~`|\\"

# HTML: elements dropped with their content; inline tags (removed without a space, so "Bu<b></b>cha" stays one
# word) and the other common tags (removed with a space). Only known tag names: "<sarcasm>" is text.
_HTML_BLOCKS = "script|style|iframe|noscript|template|textarea|object"
_HTML_INLINE = "a|abbr|b|big|cite|code|del|em|font|i|ins|kbd|mark|q|s|small|span|strike|strong|sub|sup|tt|u"
_HTML_OTHER = (
    "address|article|aside|audio|blockquote|body|br|button|caption|center|col|colgroup|dd|details|div|dl|dt|"
    "embed|fieldset|figcaption|figure|footer|form|h[1-6]|head|header|hr|html|img|input|label|legend|li|link|"
    "main|marquee|meta|mx-reply|nav|ol|option|p|param|picture|pre|section|select|source|summary|svg|table|"
    "tbody|td|tfoot|th|thead|title|tr|track|ul|video|wbr|" + _HTML_BLOCKS
)
# A junk token at either end of a message: a footnote or counter ("[1]", "(1/3)", "#12"), a version or price
# tag ("(b1.00)", "(v2)"), a date or time in brackets ("(24.02.2022)", "(12:30)"). A bare year "(2014)" or a
# name with digits "(MH17)" is text and stays.
# A chat client's edit marker copied along ("(edited)", "(изменено)", "(змінено)", "(bearbeitet)") and an ellipsis
# standing apart ("... ", " …") are junk too; an ellipsis written onto a word ("so...") stays.
_JUNK_TOKEN = (
    r"(?<!\S)(?:[(\[][ \t]?(?:[^\W\d_]?\d+(?:[.,:/\-]\d+)+|[^\W\d_]\d+|\d{1,3})[ \t]?[)\]]|#\d{1,6}"
    r"|[(\[](?i:edited|изменено|ред\.?|отредактировано|змінено|відредаговано|bearbeitet)[)\]]|\.{2,}|…+)(?!\S)"
)
_JUNK_MAX = 40  # longest junk token looked for
# A Markdown link whose visible text only says "a link is here" ("[source](https://...)") is a bare URL: set aside
# with its text. Any other link text is the author's words and stays ("[NATO provoked it](https://...)").
_LINK_LABELS = frozenset((
    "source", "sources", "link", "here", "more", "read more", "article", "video", "src",
    "источник", "источники", "ссылка", "тут", "здесь", "подробнее", "статья", "видео",
    "джерело", "джерела", "посилання", "детальніше", "стаття", "відео",
    "quelle", "quellen", "hier", "mehr", "artikel",
))

_CYR_TO_LAT = {
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T",
    "Х": "X", "У": "Y", "І": "I", "Ј": "J", "Ѕ": "S", "Ү": "Y", "Һ": "H", "Ԛ": "Q", "Ԝ": "W", "Ӏ": "I",
    "Ё": "Ë", "Ї": "Ï",
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s",
    "ԁ": "d", "һ": "h", "ԛ": "q", "ԝ": "w", "ӏ": "l", "ү": "y", "к": "k", "ё": "ë", "ї": "ï", "г": "r",
    "п": "n", "ь": "b",
}
_GRK_TO_LAT = {
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    "α": "a", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "υ": "u", "χ": "x", "ε": "e", "ϲ": "c",
    "ϳ": "j", "γ": "y", "τ": "t", "ω": "w",
}
_LAT_TO_CYR = {
    "A": "А", "B": "В", "C": "С", "E": "Е", "H": "Н", "K": "К", "M": "М", "O": "О", "P": "Р", "T": "Т",
    "X": "Х", "Y": "У", "I": "І", "Ë": "Ё", "Ï": "Ї",
    "a": "а", "c": "с", "e": "е", "o": "о", "p": "р", "x": "х", "y": "у", "i": "і", "k": "к", "n": "п",
    "r": "г", "b": "ь", "ë": "ё", "ï": "ї",
}
_GRK_TO_CYR = {
    "Α": "А", "Β": "В", "Ε": "Е", "Η": "Н", "Ι": "І", "Κ": "К", "Μ": "М", "Ο": "О", "Ρ": "Р", "Τ": "Т",
    "Υ": "У", "Χ": "Х", "Φ": "Ф", "Π": "П", "Γ": "Г",
    "α": "а", "ε": "е", "ο": "о", "ρ": "р", "κ": "к", "χ": "х", "π": "п", "φ": "ф", "ι": "і",
}
_LAT_LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
             "@": "a", "$": "s", "!": "i", "€": "e"}
_CYR_LEET = {"0": "о", "3": "з", "4": "ч", "6": "б", "@": "а", "$": "с"}
_LEET_SYMBOLS = "@$!€"
_LEET_MAX_TOKEN = 64


# ------------------------------------------------------------------------------------------ lazy build


class _Rx:
    """All regular expressions, compiled once on first use."""

    def __init__(self) -> None:
        c = re.compile
        self.surrogate = c("[\ud800-\udfff]")
        # one cheap scan that says "this non-ASCII text needs the careful pre-processing": surrogates,
        # invisibles, fancy letters, combining marks, spacing accents NFKC turns into marks, astral chars
        self.special = c(
            f"[\ud800-\udfff{_INVISIBLE_BMP}{_FULLWIDTH}{_STYLED_BMP}{_PRE_BMP}{_MARKS}{_SPACING_ACCENTS}"
            "\U00010000-\U0010ffff]"
        )
        self.pre_chars = c("[" + "".join(re.escape(chr(k)) for k in sorted(_PRE_TABLE)) + "]")
        self.rlo = c("\u202e([^\u202c\n]*)\u202c?")
        self.invisible = c(f"[{_INVISIBLE_BMP}{_INVISIBLE_ASTRAL}]+")
        self.invisible_in_word = c(
            f"[^\\W_][{_INVISIBLE_BMP}{_INVISIBLE_ASTRAL}]|[{_INVISIBLE_BMP}{_INVISIBLE_ASTRAL}][^\\W_]"
        )
        self.fullwidth = c(f"[{_FULLWIDTH}]")
        self.styled = c(f"[{_STYLED_BMP}{_STYLED_ASTRAL}]")

        # extraction passes (each gated by a substring test)
        self.masked = c(
            r"\[([^\[\]\n]{1,2000})\]\(\s*<?(https?://[^\s()<>]+(?:\([^\s()<>]*\)[^\s()<>]*)*)>?\s*\)", re.I
        )
        self.angle = c(
            r"<(?:(?P<url>https?://[^\s>]+)|(?P<dm>@[!&]?\d{1,25}|\#\d{1,25})|a?:(?P<emoji>\w{1,64}):\d{1,25}"
            r"|/(?P<cmd>[\w\- ]{1,64}):\d{1,25}|t:-?\d{1,20}(?::[a-z])?)>",
            re.I,
        )
        self.url = c(r"(?:https?://|www\.)[^\s<>\"]+", re.I)
        self.email_hint = c(r"\w@[a-z0-9\-]+\.[a-z]", re.I)
        self.email = c(r"(?<![\w.+\-])[\w.+\-]++@[a-z0-9\-]+(?:\.[a-z0-9\-]+)+", re.I)
        self.at = c(
            r"@(?<![\w@]@)(?:(?P<all>everyone|here)\b"
            r"|(?P<mx>[\w.=\-/+]+:(?:[a-z0-9\-]+(?:\.[a-z0-9\-]+)+|localhost|\[[0-9a-f:.]+\])(?::\d{1,5})?)"
            r"|(?P<at>\w+(?:[.\-]\w+)*))",
            re.I,
        )
        self.bare_hint = c(rf"\.(?:{_TLDS})(?![\w\-])", re.I)
        self.bare_path_hint = c(r"[^\W_]\.[a-z]{2,12}/", re.I)
        self.bare = c(
            rf"(?<![\w@.\-/])(?:[^\W_][\w\-]{{0,62}}\.)+"
            rf"(?:(?:{_TLDS})(?![\w\-])(?:[/?\#][^\s<>\"]*)?|[a-z]{{2,12}}/[^\s<>\"]*)",
            re.I,
        )

        self.marks = c(f"[{_MARKS}]")
        self.marked_word = c(f"(?<!\\S)(?=\\S*?[{_MARKS}])\\S++")
        self.mark_run = c(f"([^{_MARKS}]?)([{_MARKS}]+)", re.DOTALL)

        self.html_block = c(rf"<({_HTML_BLOCKS})\b[^<>]{{0,500}}>", re.I)
        self.html_tag = c(rf"</?(?:({_HTML_INLINE})|{_HTML_OTHER})\b(?:\s[^<>]{{0,500}})?/?>", re.I)
        self.empty_brackets = c(r"\(\s*\)|\[\s*\]")
        self.junk_end = c(rf"{_JUNK_TOKEN}$")
        self.junk_start = c(_JUNK_TOKEN)
        self.fence = c(r"^[ \t]*```[\w+#.\-]{0,32}[ \t]*$", re.MULTILINE)
        self.line_md = c(r"^[ \t]*(?:>{1,3}|#{1,3}|-#)(?:[ \t]+|$)", re.MULTILINE)
        self.md = c(r"[*~`|\\]+|_{2,}")

        self.spaced_hint = c(r"[\W_][^\W\d_](?:[ ._\-]|\. )[^\W\d_](?:[ ._\-]|\. )[^\W\d_](?![^\W_])")
        self.spaced = c(r"(?<![^\W_])([^\W\d_])([ ._\-]|\. )(?:[^\W\d_]\2)+[^\W\d_](?![^\W_])")

        self.not_lat_cyr = c(
            "[^\\W\\d_\\x00-\u024f\u0400-\u052f\u1c80-\u1c8f\u1e00-\u1eff\u2de0-\u2dff\ua640-\ua69f]"
        )
        self.lat_char = c(f"[{_LAT}]")
        self.cyr_char = c(f"[{_CYR}]")
        self.grk_char = c(f"[{_GRK}]")
        self.mixed = c(
            f"[{_LAT}](?=[{_CYR}{_GRK}]|{_OTH})|[{_CYR}](?=[{_LAT}{_GRK}]|{_OTH})"
            f"|[{_GRK}](?=[{_LAT}{_CYR}]|{_OTH})|{_OTH}(?=[{_LAT}{_CYR}{_GRK}])"
        )
        self.mixed_lat_cyr = c(f"[{_LAT}][{_CYR}]|[{_CYR}][{_LAT}]")
        self.greek_caps = c(r"(?<![^\W_])[\u0391-\u03a9]{2,}(?![^\W_])")

        self.leet_hint = c(r"[0-9@$€](?:(?<=[^\W\d_].)|(?=[^\W\d_]))|!(?=[^\W\d_])")
        self.leet_run = c(r"[0-9@$!€]+")
        self.leet_protect = c(r"h\d{1,2}n\d{1,2}|m\d{1,3}a\d{1,2}", re.I)  # flu strains, M1A1/M1A2 tanks

        self.repeat_hint = c(r"(.)\1\1\1")
        self.repeat = c(r"([^\d\s])\1{3,}")


@functools.cache
def _rx() -> _Rx:
    return _Rx()


def _script(ch: str) -> str:
    o = ord(ch)
    if o < 0x250 or 0x1E00 <= o <= 0x1EFF:
        return "lat"
    if 0x400 <= o <= 0x52F or 0x1C80 <= o <= 0x1C8F or 0x2DE0 <= o <= 0x2DFF or 0xA640 <= o <= 0xA69F:
        return "cyr"
    if 0x370 <= o <= 0x3FF or 0x1F00 <= o <= 0x1FFF:
        return "grk"
    return "oth"


@functools.cache
def _to_latin() -> dict[str, str]:
    """Any non-Latin letter -> ASCII look-alike: Unicode confusables data (from the confusable_homoglyphs
    package), overridden by the explicit Cyrillic/Greek tables."""
    table: dict[str, str] = {}
    try:
        from confusable_homoglyphs import utils as _cu

        for k, entries in _cu.load("confusables.json").items():
            if len(k) != 1 or not k.isalpha() or _script(k) == "lat":
                continue
            for e in entries:
                c = e.get("c", "")
                if len(c) == 1 and c.isascii() and c.isalpha():
                    table[k] = c
                    break
    except Exception:  # pragma: no cover - package missing or data unreadable: explicit tables only
        table = {}
    table.update(_CYR_TO_LAT)
    table.update(_GRK_TO_LAT)
    return table


@functools.cache
def _to_cyrillic() -> dict[str, str]:
    table = {k: _LAT_TO_CYR[v] for k, v in _to_latin().items() if _script(k) == "oth" and v in _LAT_TO_CYR}
    table.update(_GRK_TO_CYR)
    table.update(_LAT_TO_CYR)
    return table


def warm_up() -> None:
    """Compile the regexes and build the homoglyph tables now (keeps the first message fast)."""
    _rx()
    _to_latin()
    _to_cyrillic()


# ------------------------------------------------------------------------------------------ steps


def _preprocess(rx: _Rx, s: str, evasion: list[str]) -> tuple[str, bool]:
    """Non-ASCII input: surrogates, bidi, invisibles, fancy letters, apostrophes, NFKC.

    Returns the text and whether it may hold combining marks (the one pre-scan says no for clean text)."""
    if "\u2019" in s:
        s = s.replace("\u2019", "'")
    if "\u02bc" in s:
        s = s.replace("\u02bc", "'")
    if not rx.special.search(s):  # clean text: one scan, then NFKC
        return unicodedata.normalize("NFKC", s), False
    s = rx.surrogate.sub("", s)
    if "\u202e" in s:
        s = rx.rlo.sub(lambda m: m.group(1)[::-1], s)
        evasion.append("bidi")
    if rx.invisible.search(s):
        if rx.invisible_in_word.search(s):
            evasion.append("zero_width")
        s = rx.invisible.sub("", s)
    if rx.fullwidth.search(s):
        evasion.append("fullwidth")
    if rx.styled.search(s):
        evasion.append("styled")
    if rx.pre_chars.search(s):
        s = s.translate(_PRE_TABLE)
    s = unicodedata.normalize("NFKC", s)
    return s, rx.marks.search(s) is not None


def _extract(rx: _Rx, s: str, urls: list[str], mentions: list[str]) -> str:
    """Set URLs and mentions aside. Every replacement has the length of what it replaces, so positions stay
    valid across the passes and both lists come out in message order."""
    found_urls: list[tuple[int, str]] = []
    found_mentions: list[tuple[int, str]] = []

    def blank(m: re.Match[str], keep: str = "") -> str:
        return f" {keep} ".ljust(len(m.group(0)))[: len(m.group(0))] if keep else " " * len(m.group(0))

    def url_repl(m: re.Match[str]) -> str:
        url = m.group(0)
        while url and (url[-1] in _URL_TAIL or (url[-1] == ")" and url.count("(") < url.count(")"))):
            url = url[:-1]
        found_urls.append((m.start(), url))
        return " " * len(url) + m.group(0)[len(url):]

    if "](" in s:
        def masked(m: re.Match[str]) -> str:
            found_urls.append((m.start(), m.group(2)))
            label = m.group(1)
            return blank(m) if label.strip(" \t.:!*_").casefold() in _LINK_LABELS else blank(m, label)

        s = rx.masked.sub(masked, s)
    if "<" in s:
        def angle(m: re.Match[str]) -> str:
            g = m.group
            if g("url") is not None:
                found_urls.append((m.start(), g("url")))
            elif g("dm") is not None:
                found_mentions.append((m.start(), m.group(0)))
            elif g("cmd") is not None:
                return blank(m, g("cmd"))
            return blank(m)  # url, mention or timestamp

        s = rx.angle.sub(angle, s)
    if "://" in s or "www." in s or "WWW." in s:
        s = rx.url.sub(url_repl, s)
    if "@" in s:
        if rx.email_hint.search(s):
            def email(m: re.Match[str]) -> str:
                found_urls.append((m.start(), "mailto:" + m.group(0)))
                return blank(m)

            s = rx.email.sub(email, s)

        def at(m: re.Match[str]) -> str:
            found_mentions.append((m.start(), m.group(0)))
            return blank(m)

        s = rx.at.sub(at, s)
    if "." in s and (rx.bare_hint.search(s) or ("/" in s and rx.bare_path_hint.search(s))):
        s = rx.bare.sub(url_repl, s)
    if found_urls:
        found_urls.sort(key=lambda x: x[0])
        urls.extend(u for _, u in found_urls)
    if found_mentions:
        found_mentions.sort(key=lambda x: x[0])
        mentions.extend(u for _, u in found_mentions)
    return s


def _strip_html(rx: _Rx, s: str) -> str:
    """Drop script-like elements with their content, then the tags of known HTML elements (keeping their
    text). The closing tag of an element is found with ``str.find`` (no backtracking); once a closing tag is
    missing, later openings of that element only lose the tag itself."""
    if rx.html_block.search(s):
        lower = s.lower()
        out: list[str] = []
        pos = 0
        unclosed: set[str] = set()
        for m in rx.html_block.finditer(s):
            if m.start() < pos:
                continue
            name = m.group(1).lower()
            close = -1 if name in unclosed or len(lower) != len(s) else lower.find("</" + name, m.end())
            end = s.find(">", close) + 1 if close >= 0 else 0
            if end <= 0:
                unclosed.add(name)
                end = m.end()
            out.append(s[pos:m.start()])
            out.append(" ")
            pos = end
        out.append(s[pos:])
        s = "".join(out)
    return rx.html_tag.sub(lambda m: "" if m.group(1) else " ", s)


def _strip_junk(rx: _Rx, s: str) -> str:
    """Drop junk tokens (``_JUNK_TOKEN``) at the end and at the start of the message, one by one. Each match
    runs on a short slice, so long runs of spaces or brackets cost nothing."""
    s = s.strip()
    a, b = 0, len(s)  # s[a:b] is what is left
    while b > a and s[b - 1] in ")]0123456789.…":
        m = rx.junk_end.search(s, max(a, b - _JUNK_MAX), b)
        if m is None:
            break
        b = m.start()
        while b > a and s[b - 1].isspace():
            b -= 1
    while a < b and s[a] in "([#.…":
        m = rx.junk_start.match(s, a, min(b, a + _JUNK_MAX))
        if m is None:
            break
        a = m.end()
        while a < b and s[a].isspace():
            a += 1
    return s[a:b]


def _strip_marks(rx: _Rx, s: str, evasion: list[str]) -> str:
    suspicious = False

    def mark_run(m: re.Match[str]) -> str:
        nonlocal suspicious
        base, marks = m.group(1), m.group(2)
        if not (len(marks) == 1 and marks in "\u0300\u0301" and base.isalpha()):
            suspicious = True  # a lone grave/acute (stress mark) is legitimate; anything else is not
        keep = _KEEP_MARK.get(base)
        return base + keep if keep and keep in marks else base

    def word(m: re.Match[str]) -> str:
        w = unicodedata.normalize("NFD", m.group(0))
        return unicodedata.normalize("NFC", rx.mark_run.sub(mark_run, w))

    out = rx.marked_word.sub(word, s)
    if suspicious:
        evasion.append("combining")
    return out


def _join_spaced(rx: _Rx, s: str, evasion: list[str]) -> str:
    joined = False

    def repl(m: re.Match[str]) -> str:
        nonlocal joined
        run, sep = m.group(0), m.group(2)
        letters = run[:: len(sep) + 1]
        upper = sum(c.isupper() for c in letters)
        pieces: list[str] = []
        start = 0
        for i in range(1, len(letters)):
            a, b = letters[i - 1], letters[i]
            if (a.islower() and b.isupper()) or (upper >= 2 and a.isupper() and b.islower()):
                pieces.append(letters[start:i])
                start = i
        pieces.append(letters[start:])
        out = []
        for p in pieces:
            if len(p) >= 3 and (sep != " " or len(p) >= 5 or any(c.lower() not in _COMMON_SINGLE for c in p)):
                out.append(p)
                joined = True
            else:
                out.append(sep.join(p))
        return " ".join(out)

    out = rx.spaced.sub(repl, s)
    if joined:
        evasion.append("spaced")
    return out


def _fix_homoglyphs(rx: _Rx, s: str, evasion: list[str], mixed: re.Pattern[str] | None, greek: bool) -> str:
    """Rewrite the words found by ``mixed`` (a script change inside a word) and all-capital Greek words."""
    prefer: list[str] = []  # message-level majority script, computed on first tie

    def majority_script() -> str:
        if not prefer:
            cyr, lat = len(rx.cyr_char.findall(s)), len(rx.lat_char.findall(s))
            prefer.append("cyr" if cyr > lat else "lat")
        return prefer[0]

    def fix(w: str) -> str:
        scripts = [_script(c) for c in w]
        counts = {"lat": 0, "cyr": 0, "grk": 0, "oth": 0}
        for sc in scripts:
            counts[sc] += 1
        if max(counts.values()) == len(w):  # single script: only all-capital Greek look-alikes change
            if counts["grk"] and len(w) >= 2 and w.isupper() and all(c in _GRK_TO_LAT for c in w):
                return "".join(_GRK_TO_LAT[c] for c in w)
            return w
        lat, cyr = counts["lat"], counts["cyr"]
        if lat == cyr:
            order = ("cyr", "lat") if majority_script() == "cyr" else ("lat", "cyr")
        else:
            order = ("lat", "cyr") if lat > cyr else ("cyr", "lat")
        for target in order:
            table = _to_latin() if target == "lat" else _to_cyrillic()
            out = []
            for c, sc in zip(w, scripts):
                if sc == target:
                    out.append(c)
                elif c in table:
                    out.append(table[c])
                else:
                    break
            else:
                return "".join(out)
        target = order[0]  # no full mapping: map what can be mapped towards the majority script
        if counts[target] == 0:
            return w
        table = _to_latin() if target == "lat" else _to_cyrillic()
        return "".join(c if sc == target else table.get(c, c) for c, sc in zip(w, scripts))

    n = len(s)
    spans: list[tuple[int, int]] = []
    if mixed is not None:
        for m in mixed.finditer(s):
            a = m.start()
            while a > 0 and s[a - 1].isalpha():
                a -= 1
            b = m.end()
            while b < n and s[b].isalpha():
                b += 1
            if not spans or a >= spans[-1][1]:
                spans.append((a, b))
    if greek and rx.grk_char.search(s):
        caps = [m.span() for m in rx.greek_caps.finditer(s)]
        if caps:
            spans = sorted(set(spans).union(caps))
    out: list[str] = []
    pos = 0
    changed = False
    for a, b in spans:
        if a < pos:
            continue
        w = s[a:b]
        new = fix(w)
        if new != w:
            changed = True
        out.append(s[pos:a])
        out.append(new)
        pos = b
    if not changed:
        return s
    out.append(s[pos:])
    evasion.append("homoglyph")
    return "".join(out)


def _is_token_char(c: str) -> bool:
    return c.isalnum() or c in _LEET_SYMBOLS


def _leet_token(rx: _Rx, tok: str) -> str:
    n = len(tok)
    letters = sum(c.isalpha() for c in tok)
    if letters < 2 or rx.leet_protect.fullmatch(tok):
        return tok
    cyr = len(rx.cyr_char.findall(tok))
    table = _CYR_LEET if cyr and cyr * 2 >= letters else _LAT_LEET
    runs = []
    evidence = False
    for r in rx.leet_run.finditer(tok):
        a, b = r.span()
        run = r.group(0)
        before = a > 0 and tok[a - 1].isalpha()
        after = b < n and tok[b].isalpha()
        # one character, or a doubled one ("g00gle", "ru$$ia"); longer runs are numbers or punctuation
        mappable = (len(run) == 1 or (len(run) == 2 and run[0] == run[1])) and run[0] in table
        if run[0] == "!" and not (before and after and tok[a - 1].islower() and tok[b].islower()):
            mappable = False  # "h!tler" yes, "Thanks!See" no
        if mappable and (
            (before and after)
            or (a == 0 and run == "$" and after and letters >= 4 and not tok[1:].isupper())  # not "$USD"
        ):
            evidence = True
        runs.append((a, b, run, mappable and (before or after) and not (b == n and run[0] == "!")))
    if not evidence:
        return tok
    out = []
    pos = 0
    for a, b, run, convert in runs:
        out.append(tok[pos:a])
        out.append("".join(table[c] for c in run) if convert else run)
        pos = b
    out.append(tok[pos:])
    return "".join(out)


def _fix_leet(rx: _Rx, s: str, evasion: list[str]) -> str:
    """Rewrite only the tokens around leet hints (a digit/symbol touching a letter)."""
    n = len(s)
    out: list[str] = []
    done = 0  # s[:done] is already in out
    changed = False
    for m in rx.leet_hint.finditer(s):
        pos = m.start()
        if pos < done:
            continue
        a = pos
        while a > done and pos - a < _LEET_MAX_TOKEN and _is_token_char(s[a - 1]):
            a -= 1
        b = pos + 1
        while b < n and b - pos < _LEET_MAX_TOKEN and _is_token_char(s[b]):
            b += 1
        if pos - a >= _LEET_MAX_TOKEN or b - pos >= _LEET_MAX_TOKEN or (a > 0 and _is_token_char(s[a - 1])):
            while b < n and _is_token_char(s[b]):  # not a word: skip the whole run
                b += 1
            out.append(s[done:b])
            done = b
            continue
        tok = s[a:b]
        new = _leet_token(rx, tok)
        if new != tok:
            changed = True
        out.append(s[done:a])
        out.append(new)
        done = b
    if not changed:
        return s
    out.append(s[done:])
    evasion.append("leet")
    return "".join(out)


def _collapse_repeats(rx: _Rx, s: str, evasion: list[str]) -> str:
    letters = False

    def repl(m: re.Match[str]) -> str:
        nonlocal letters
        if m.group(1).isalpha():
            letters = True
        return m.group(1) * 2

    out = rx.repeat.sub(repl, s)
    if letters:
        evasion.append("repeated")
    return out


# ------------------------------------------------------------------------------------------ public API


def _normalize(text: str, max_chars: int | None) -> NormalizedText:
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    truncated = False
    if max_chars is not None and max_chars > 0 and len(text) > max_chars:
        text = text[:max_chars]
        truncated = True
    if not text:
        return NormalizedText(text="", truncated=truncated)
    rx = _rx()
    evasion: list[str] = []
    s = text
    ascii_only = s.isascii()
    maybe_marks = False
    if not ascii_only:
        s, maybe_marks = _preprocess(rx, s, evasion)
        ascii_only = s.isascii()

    urls: list[str] = []
    mentions: list[str] = []
    if "<" in s or "@" in s or "." in s or "](" in s:
        s = _extract(rx, s, urls, mentions)

    if "<" in s:
        s = _strip_html(rx, s)
    if (urls or mentions) and ("(" in s or "[" in s):
        s = rx.empty_brackets.sub(" ", s)  # "(https://...)" leaves no "( )" behind

    if maybe_marks:
        s = _strip_marks(rx, s, evasion)  # only words with leftover marks are touched
    if "```" in s:
        s = rx.fence.sub("", s)  # a fence line, with its language tag
    if ">" in s or "#" in s:
        s = rx.line_md.sub("", s)
    if "*" in s or "~" in s or "`" in s or "|" in s or "\\" in s or "__" in s:
        s = rx.md.sub(" ", s)
    if ")" in s or "]" in s or "#" in s or ".." in s or "…" in s:
        s = _strip_junk(rx, s)
    if rx.spaced_hint.search(" " + s):
        s = _join_spaced(rx, s, evasion)
    if not ascii_only:
        has_lat = rx.lat_char.search(s) is not None
        has_cyr = rx.cyr_char.search(s) is not None
        has_other = rx.not_lat_cyr.search(s) is not None  # Greek or any other script
        if has_other:
            s = _fix_homoglyphs(rx, s, evasion, rx.mixed if has_lat or has_cyr else None, greek=True)
        elif has_lat and has_cyr:
            s = _fix_homoglyphs(rx, s, evasion, rx.mixed_lat_cyr, greek=False)
    if "_" in s:
        s = s.replace("_", " ")
    if rx.leet_hint.search(s):
        s = _fix_leet(rx, s, evasion)  # before casefold: a leading "$" is leet in "$anctions", not in "$USD"
    s = s.casefold()
    s = " ".join(s.split())
    if rx.repeat_hint.search(s):
        s = _collapse_repeats(rx, s, evasion)
    return NormalizedText(s, tuple(urls), tuple(mentions), truncated, tuple(evasion))


def normalize(text: str, *, max_chars: int | None = DEFAULT_MAX_CHARS) -> NormalizedText:
    """Normalise ``text`` for matching (see the module docstring). Never raises.

    ``max_chars`` caps the input length before any processing (``truncated=True`` when it cut);
    ``None`` or a value < 1 means no limit.
    """
    try:
        return _normalize(text, max_chars)
    except Exception:  # pragma: no cover - defensive: the bot must never crash on a message
        try:
            s = text if isinstance(text, str) else str(text)
            cut = max_chars is not None and max_chars > 0 and len(s) > max_chars
            s = re.sub("[\ud800-\udfff]", "", s[:max_chars] if cut else s)
            return NormalizedText(text=" ".join(s.casefold().split()), truncated=cut)
        except Exception:
            return NormalizedText(text="")


_TOKEN_RE_SRC = r"[^\W_]+(?:['’ʼ][^\W_]+)*"


@functools.cache
def _token_re() -> re.Pattern[str]:
    return re.compile(_TOKEN_RE_SRC)


def tokens(text: str) -> list[str]:
    """Word tokens of a (normalised) text: runs of Unicode letters/digits, inner apostrophes kept
    (``п'ять``, ``don't``). Underscores and other punctuation separate tokens."""
    try:
        return _token_re().findall(text)
    except Exception:  # pragma: no cover - non-str input
        return []
