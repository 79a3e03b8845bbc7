"""The sample texts the encoder's caches check themselves against the library with (one home, so
:mod:`bot.core.encoders` and :mod:`bot.core.token_states` need not import each other for them)."""

from __future__ import annotations

# Texts the encoder's caches (SegmentCachedTokenizer, TokenStateCache) must handle exactly like the library
# before they are used.
SELF_CHECK_TEXTS = (
    "NATO expansion forced Russia's hand!!", "Расширение НАТО вынудило Россию — это факт?",
    "Захід використовує перемир'я, щоб переозброїти Україну", "Die Sanktionen schaden nur Europa…",
    "  spaced   out\ttabs\nand lines  ", "ＦＵＬＬ width ｔｅｘｔ and ½ ligatures ﬁ", "emoji 🤔🇺🇦 https://example.org/a?b=c",
    "U+00A0\u00a0nbsp and\u2003em space", "", " ", "@everyone <@123> **bold** `code`", "x" * 300,
)
