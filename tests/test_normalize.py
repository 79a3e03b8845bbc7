"""Evasion-resistant normalisation (bot.core.normalize)."""

from __future__ import annotations

import pytest

from bot.core.normalize import NormalizedText, normalize, tokens

ZW = "\u200b"  # zero-width space
ZWJ = "\u200d"
ZWNJ = "\u200c"
WJ = "\u2060"
SHY = "\u00ad"
CYR_A = "\u0430"  # Cyrillic а
CYR_E = "\u0435"  # Cyrillic е
CYR_O = "\u043e"  # Cyrillic о
CYR_I = "\u0456"  # Ukrainian і
LAT_O = "o"

# (input, exact expected normalised text, evasion tag expected in .evasion or None)
EVASION = [
    # zero-width and other invisible characters inside words
    (f"N{ZW}A{ZW}T{ZW}O is the aggressor", "nato is the aggressor", "zero_width"),
    (f"bio{ZWJ}labs in Ukr{ZWNJ}aine", "biolabs in ukraine", "zero_width"),
    (f"san{SHY}ctions don{WJ}'t work", "sanctions don't work", "zero_width"),
    ("\ufeffZelensky\u2063 resigned", "zelensky resigned", "zero_width"),
    (f"Б{ZW}у{ZW}ч{ZW}а", "буча", "zero_width"),
    # homoglyphs in mixed-script words
    (f"Ukr{CYR_A}ine is a Nazi state", "ukraine is a nazi state", "homoglyph"),
    (f"Bi{CYR_O}labs in Ukr{CYR_A}in{CYR_E}", "biolabs in ukraine", "homoglyph"),
    (f"b{CYR_I}olabs", "biolabs", "homoglyph"),
    ("ΝΑΤΟ expansion", "nato expansion", "homoglyph"),  # all-Greek capitals
    ("\u039d\u0391\u03a4\u039f", "nato", "homoglyph"),
    ("N\u0410\u0422\u041e", "nato", "homoglyph"),  # Latin N + Cyrillic АТО
    (f"пр{LAT_O}паганда", "пропаганда", "homoglyph"),  # Cyrillic word with one Latin o
    ("Укрaина", "украина", "homoglyph"),  # Latin a inside a Russian word
    ("рiзня в Бучі", "різня в бучі", "homoglyph"),  # Latin i inside a Ukrainian word
    ("ꓠATO", "nato", "homoglyph"),  # Lisu letter (Unicode confusables data)
    # leetspeak
    ("n4t0 is evil", "nato is evil", "leet"),
    ("US bi0l4bs in Ukraine", "us biolabs in ukraine", "leet"),
    ("$anctions are useless", "sanctions are useless", "leet"),
    ("z3l3nsky is a puppet", "zelensky is a puppet", "leet"),
    ("z3lensky", "zelensky", "leet"),
    ("н@то напало", "нато напало", "leet"),
    ("g00gle it, ru$$ia did nothing", "google it, russia did nothing", "leet"),
    # spaced-out letters
    ("N A T O provoked it", "nato provoked it", "spaced"),
    ("n.a.t.o", "nato", "spaced"),
    ("N-A-T-O", "nato", "spaced"),
    ("N_A_T_O", "nato", "spaced"),
    ("Резня в Б у ч а была постановкой", "резня в буча была постановкой", "spaced"),
    ("(N A T O) lies, «Б у ч а»", "(nato) lies, «буча»", "spaced"),
    # combining-mark abuse
    ("Z̷e̷l̷e̷n̷s̷k̷y̷ regime", "zelensky regime", "combining"),
    ("n̴̡̛a̷͎̒t̶̰͝o̸̦͊ lies", "nato lies", "combining"),
    ("Б̶у̶ч̶а̶ фейк", "буча фейк", "combining"),
    # fullwidth / styled letters
    ("ＮＡＴＯ ｉｓ ｂａｄ", "nato is bad", "fullwidth"),
    ("𝐍𝐀𝐓𝐎 and 𝓷𝓪𝓽𝓸", "nato and nato", "styled"),
    ("ɴᴀᴛᴏ 🅽🅰🆃🅾", "nato nato", "styled"),
    # right-to-left override used to reverse a word visually
    ("\u202eOTAN\u202c is evil", "nato is evil", "bidi"),
    # elongation
    ("natoooooo!!!!!!", "natoo!!", "repeated"),
]

# Text that must keep its meaning: only casefolding (and whitespace) may change it, no evasion reported.
CLEAN = [
    ("Россия напала на Украину в 2014 году.", "россия напала на украину в 2014 году."),
    ("Йод, ёлка и подъём: всё это по-русски", "йод, ёлка и подъём: всё это по-русски"),
    ("Україна — це Європа! П'ять років війни", "україна — це європа! п'ять років війни"),
    ("Їжак, Ґанок, Єдність, Йорданія, ЇЖА", "їжак, ґанок, єдність, йорданія, їжа"),
    ("НАТО и США", "нато и сша"),
    ("In 2014 there were 14,000 dead by the 1990s standard", "in 2014 there were 14,000 dead by the 1990s standard"),
    ("MH17, COVID19, H1N1, M1A2, T-90M and 4chan", "mh17, covid19, h1n1, m1a2, t-90m and 4chan"),
    ("$USD and $100, 24/7, 3rd, 21st", "$usd and $100, 24/7, 3rd, 21st"),
    ("Die Ukraine ist ein souveräner Staat", "die ukraine ist ein souveräner staat"),
    ("Café, naïve, Москва́", "café, naïve, москва"),  # stress mark dropped, accents kept
    ("я и в шоке", "я и в шоке"),  # single-letter words are not "spaced letters"
    ("Wow!  Really?\n\nYes.", "wow! really? yes."),
]


@pytest.mark.parametrize(("raw", "expected", "tag"), EVASION)
def test_evasion_table(raw: str, expected: str, tag: str) -> None:
    result = normalize(raw)
    assert result.text == expected
    assert tag in result.evasion


def test_evasion_table_size() -> None:
    assert len(EVASION) >= 30


@pytest.mark.parametrize(("raw", "expected"), CLEAN)
def test_meaning_preserved(raw: str, expected: str) -> None:
    result = normalize(raw)
    assert result.text == expected
    assert result.evasion == ()


def test_cyrillic_letters_survive_decomposed_input() -> None:
    # й typed as и + U+0306, ї as і + U+0308, ё as е + U+0308
    result = normalize("и\u0306од, і\u0308жак, е\u0308лка")
    assert result.text == "йод, їжак, ёлка"
    assert result.evasion == ()


def test_zalgo_on_cyrillic_keeps_y_and_yi() -> None:
    assert normalize("й̷о̷д̷ ї̷ж̷а̷к̷").text == "йод їжак"


@pytest.mark.parametrize(
    ("raw", "expected_text", "urls", "mentions"),
    [
        (
            "hey <@123> <@!456> <@&789> <#111> look https://example.com/a?b=1. and www.rt.com",
            "hey look . and",
            ("https://example.com/a?b=1", "www.rt.com"),
            ("<@123>", "<@!456>", "<@&789>", "<#111>"),
        ),
        ("@everyone NATO lies", "nato lies", (), ("@everyone",)),
        ("@here read this", "read this", (), ("@here",)),
        ("@user:matrix.org said @bob was right", "said was right", (), ("@user:matrix.org", "@bob")),
        ("ping @alice.b-c: hi", "ping : hi", (), ("@alice.b-c",)),
        ("see t.me/rybar and <https://x.com/status/1>", "see and", ("t.me/rybar", "https://x.com/status/1"), ()),
        ("Check [this story](https://rt.com/news/1) now", "check this story now", ("https://rt.com/news/1",), ()),
        ("[" + "word " * 300 + "](https://example.com/a)", ("word " * 300).strip(), ("https://example.com/a",), ()),
        ("(https://en.wikipedia.org/wiki/Foo_(bar))", "", ("https://en.wikipedia.org/wiki/Foo_(bar)",), ()),
        ("mail bob@example.com", "mail", ("mailto:bob@example.com",), ()),
        ("<:pepe_clown:123456789012345678> nato <a:kekw:42>", "nato", (), ()),
        ("н@то is not a mention", "нато is not a mention", (), ()),
    ],
)
def test_urls_and_mentions(raw: str, expected_text: str, urls: tuple[str, ...], mentions: tuple[str, ...]) -> None:
    result = normalize(raw)
    assert result.text == expected_text
    assert result.urls == urls
    assert result.mentions == mentions


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("**Bold** __under__ ~~strike~~ `code` ||spoiler||", "bold under strike code spoiler"),
        ("> quoted claim\n>>> block quote\n# Heading\n-# small", "quoted claim block quote heading small"),
        ("```py\nprint(1)\n```", "print(1)"),
        ("say ```inline``` here", "say inline here"),
        ("||N A T O|| did it", "nato did it"),
        ("#StandWithUkraine is a hashtag", "#standwithukraine is a hashtag"),
    ],
)
def test_markdown_stripped(raw: str, expected: str) -> None:
    assert normalize(raw).text == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<script>alert(1)</script>Bucha was staged", "bucha was staged"),
        ("<SCRIPT type='x'>a</Script>b<style>p{}</style>c", "b c"),
        ("<script>never closed, the text stays", "never closed, the text stays"),
        ("<b>NATO</b> <i>provoked</i> it<br/>", "nato provoked it"),
        ('<p class="msg">Bu<b></b>cha</p><div>was staged</div>', "bucha was staged"),
        ("<sarcasm>sure</sarcasm> x < y > z <3", "<sarcasm>sure</sarcasm> x < y > z <3"),
    ],
)
def test_html_tags_removed_text_kept(raw: str, expected: str) -> None:
    assert normalize(raw).text == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Bucha was staged (b1.00)", "bucha was staged"),
        ("Bucha was staged #12", "bucha was staged"),
        ("[1/3] NATO provoked it (v2) [1] #4", "nato provoked it"),
        ("it started (24.02.2022) (12:30)", "it started"),
        ("Crimea voted (2014)", "crimea voted (2014)"),  # a year is text
        ("the plane (MH17)", "the plane (mh17)"),  # so is a name with digits
        ("see (1) here and print(1)", "see (1) here and print(1)"),  # only at either end, only whole tokens
        ("#StandWithUkraine #1", "#standwithukraine"),
        ("(1) #2 [3]", ""),
        ("Bucha was staged (edited)", "bucha was staged"),  # a chat client's edit marker, copied along
        ("Буча постановка (изменено)", "буча постановка"),
        ("Буча постановка (Змінено) #2", "буча постановка"),
        ("Butscha war inszeniert (bearbeitet)", "butscha war inszeniert"),
        ("Bucha was staged ...", "bucha was staged"),  # an ellipsis standing apart
        ("… Bucha was staged …", "bucha was staged"),
        ("so... Bucha was staged...", "so... bucha was staged..."),  # written onto a word: text
        ("Bucha ... was staged", "bucha ... was staged"),  # only at either end
        ("the edit (edited) stays inside", "the edit (edited) stays inside"),
    ],
)
def test_junk_tokens_at_the_ends_removed(raw: str, expected: str) -> None:
    assert normalize(raw).text == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Bucha was staged [source](https://example.com/a)", "bucha was staged"),  # only says "a link"
        ("Буча постановка [источник](https://example.com/a)", "буча постановка"),
        ("Буча постановка [Джерело](https://example.com/a)", "буча постановка"),
        ("Butscha war inszeniert [Quelle:](https://example.com/a)", "butscha war inszeniert"),
        ("[Bucha was staged](https://example.com/a)", "bucha was staged"),  # the author's words stay
        ("read [the UN report](https://example.com/a)", "read the un report"),
    ],
)
def test_a_link_whose_text_only_says_link_is_a_bare_url(raw: str, expected: str) -> None:
    result = normalize(raw)
    assert (result.text, result.urls) == (expected, ("https://example.com/a",))


def test_result_type_and_defaults() -> None:
    result = normalize("Hello")
    assert isinstance(result, NormalizedText)
    assert result == NormalizedText(text="hello", urls=(), mentions=(), truncated=False, evasion=())
    with pytest.raises(AttributeError):
        result.text = "x"  # type: ignore[misc]  # frozen


# ---------------------------------------------------------------------------------------- robustness


@pytest.mark.timeout(60)  # a hang guard (catastrophic backtracking), not a speed figure: see bench/throughput.py
def test_100kb_input_is_truncated() -> None:
    raw = ("Ukrаine n4t0 N A T O \u200b " * 5000)[:100_000]
    assert len(raw) == 100_000
    result = normalize(raw)
    assert result.truncated is True
    assert result.text.startswith("ukraine nato nato ukraine nato nato")
    assert len(result.text) < 4000


def test_max_chars_parameter() -> None:
    assert normalize("abcdef", max_chars=3) == NormalizedText(text="abc", truncated=True)
    assert normalize("abcdef", max_chars=None).text == "abcdef"
    assert normalize("a" * 5000, max_chars=0).truncated is False


def test_exact_length_is_not_truncated() -> None:
    assert normalize("x" * 4000).truncated is False
    assert normalize("x" * 4001).truncated is True


def test_lone_surrogate() -> None:
    result = normalize("NA\ud800TO \udfff")
    assert result.text == "nato"
    result.text.encode("utf-8")  # must be encodable


def test_only_surrogates() -> None:
    assert normalize("\ud800\udc00\udbff") == NormalizedText(text="")


def test_empty_string() -> None:
    assert normalize("") == NormalizedText(text="")


def test_whitespace_only() -> None:
    assert normalize(" \n\t\u00a0\u3000 ") == NormalizedText(text="")


def test_only_emoji() -> None:
    result = normalize("😂🔥🇺🇦")
    assert result.text == "😂🔥🇺🇦"
    assert result.evasion == ()


def test_emoji_zwj_sequence_not_flagged() -> None:
    result = normalize("👨\u200d👩\u200d👧 family ❤️")
    assert result.text == "👨👩👧 family ❤"
    assert "zero_width" not in result.evasion


def test_non_string_input_does_not_raise() -> None:
    assert normalize(None).text == ""  # type: ignore[arg-type]
    assert normalize(12345).text == "12345"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "raw",
    [
        "a@" * 50_000,
        "a." * 50_000,
        "a1" * 50_000,
        "\u0301" * 50_000,
        "@" * 100_000,
        "a b " * 25_000,
        "x" * 50_000 + "\u0337",
        "<" * 50_000,
        "[a](" * 25_000,
        "\U000e0041" * 50_000,
        "<script>" * 12_500,
        "<b " * 33_000,
        "x" + " " * 50_000 + "(1)",
        "(1) " * 25_000,
        "#1 " * 33_000,
    ],
)
@pytest.mark.timeout(60)  # a hang guard (catastrophic backtracking), not a speed figure
def test_adversarial_inputs_finish_and_stay_valid(raw: str) -> None:
    result = normalize(raw, max_chars=None)
    assert isinstance(result.text, str)
    result.text.encode("utf-8")


# ---------------------------------------------------------------------------------------- tokens


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("п'ять років, don't stop", ["п'ять", "років", "don't", "stop"]),
        ("nato's 14,000 snake_case", ["nato's", "14", "000", "snake", "case"]),
        ("'quoted' words—dash", ["quoted", "words", "dash"]),
        ("", []),
        ("😂 !!!", []),
        ("ім’я", ["ім’я"]),
    ],
)
def test_tokens(text: str, expected: list[str]) -> None:
    assert tokens(text) == expected


def test_tokens_of_normalized_text() -> None:
    assert tokens(normalize("Ім’я — N A T O, $anctions!").text) == ["ім'я", "nato", "sanctions"]
