"""Perturbation suite (issue #13, point 3): does noise that a human reader ignores change the decision?

For every labelled assertion and refutation in data/devset.jsonl the suite makes perturbed variants, decides
original and variants with the real detector, and prints

* the share of decisions whose (action, talking point) flips - overall, per perturbation, per level, per
  language and per gold label - with the kinds of flip (``reply->review``, ``none->review``, ...);
* the worst flips (a refutation that gets a card first, then a reply lost, then a point lost or changed);
* the "buried assertion" figure: each labelled assertion embedded in neutral filler text of its own language
  (several sentences before and after) so the message is about N characters long, and how often it is still
  found (action reply or review with the right talking point).

Targets (issue #13): flip rate <= 2 %; an assertion buried in a 2,000-character message found >= 90 % of the
time (also reported up to 4,000 characters, the normaliser's input cap).

Every perturbation is a small pure function ``(text, lang, rng) -> text`` registered in :data:`PERTURBATIONS`
with a *level*: ``markup`` is noise the normaliser makes invisible (junk codes such as ``(b1.00)`` and
``#12``, URLs, Markdown links read as their visible text, HTML, code fences, Discord markup, case); ``text`` is
what a reader does see and the detector has to weigh (``lol``, ``...``, emoji, quotation marks, a link labelled
"source", punctuation, typos, filler sentences). The random generator is seeded per (seed, message id,
perturbation), so a variant does not depend on which other perturbations run. tests/test_perturbation.py
imports the functions from here.

    python bench/perturb.py [--devset data/devset.jsonl] [--seed 13] [--worst 15] [--sizes 500 2000 4000]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

ROOT = Path(__file__).resolve().parents[1]

PerturbFn = Callable[[str, str, random.Random], str]


@dataclass(frozen=True)
class Perturbation:
    name: str
    level: str  # "markup" (the normaliser's business) or "text" (words and signs a reader sees: the detector's)
    fn: PerturbFn

    def __call__(self, text: str, lang: str, rng: random.Random) -> str:
        return self.fn(text, lang, rng)


PERTURBATIONS: dict[str, Perturbation] = {}


def perturbation(level: str) -> Callable[[PerturbFn], PerturbFn]:
    def register(fn: PerturbFn) -> PerturbFn:
        PERTURBATIONS[fn.__name__] = Perturbation(fn.__name__, level, fn)
        return fn

    return register


# Perturbations after which a change of decision is the correct behaviour: name -> the expected outcome given the
# original's. A message wholly wrapped in quotation marks is someone quoting the claim, not asserting it: it may
# reach a moderator but never earns a card (bot.core.spans.own_words), so a reply is expected to become review.
Outcome = tuple[str, "str | None"]
EXPECTED: dict[str, Callable[[Outcome], Outcome]] = {
    "quoted": lambda before: ("review", before[1]) if before[0] == "reply" else before,
}


def expected_outcome(name: str, before: Outcome) -> Outcome:
    """What the perturbed message should be decided as, given the original's (action, talking point)."""
    fn = EXPECTED.get(name)
    return fn(before) if fn is not None else before


def rng_for(seed: int, message_id: str, name: str) -> random.Random:
    """The generator for one (message, perturbation): string seeds are hashed with SHA-512, so this is the
    same in every run and independent of the order the variants are made in."""
    return random.Random(f"{seed}:{message_id}:{name}")


# ------------------------------------------------------------------------------------------ filler text
# Written for this bench: everyday small talk, nothing about the war, politics or the news.

FILLERS: dict[str, tuple[str, ...]] = {
    "en": (
        "Morning all, the coffee machine on our floor is finally fixed.",
        "I spent most of the weekend repainting the kitchen, and the colour came out lighter than on the card.",
        "My sister recommended a new bakery near the station, their rye bread is excellent.",
        "The bus was twenty minutes late again, so I walked the last part.",
        "We are planning a small hiking trip next month if the weather holds.",
        "Does anyone know a lentil soup recipe that does not take all afternoon?",
        "The latest game update changed the map rotation and I am not sure I like it.",
        "Our cat has decided that the laundry basket is her new bed.",
        "I finally finished that long novel everyone was talking about last year.",
        "The town library extended its opening hours, which is great for students.",
        "It rained all day yesterday, but the garden clearly needed it.",
        "I am learning to play the guitar and my fingers hurt after ten minutes.",
        "The football match on Saturday was dull until the last ten minutes.",
        "Remember to back up your files before you install the new operating system.",
        "We had pancakes for breakfast and the kids ate every single one.",
        "The concert tickets sold out in less than an hour.",
        "My neighbour is building a treehouse and the whole street can hear the hammering.",
        "I switched to a standing desk and my back feels a lot better.",
        "Somebody left a very polite note about parking in front of our building.",
        "The museum has a new exhibition about old maps and sailing ships.",
    ),
    "ru": (
        "Всем доброе утро, кофемашину на нашем этаже наконец починили.",
        "Все выходные перекрашивал кухню, цвет получился светлее, чем на образце.",
        "Сестра посоветовала новую пекарню у вокзала, ржаной хлеб там отличный.",
        "Автобус опять опоздал на двадцать минут, так что последний кусок я прошёл пешком.",
        "В следующем месяце собираемся в небольшой поход, если погода не подведёт.",
        "Кто-нибудь знает рецепт чечевичного супа, который не занимает полдня?",
        "В последнем обновлении игры поменяли порядок карт, и я пока не понял, нравится ли мне.",
        "Наша кошка решила, что корзина для белья теперь её кровать.",
        "Наконец дочитал тот длинный роман, о котором все говорили в прошлом году.",
        "Городская библиотека теперь работает дольше, студентам это очень удобно.",
        "Вчера весь день шёл дождь, но огороду он был явно нужен.",
        "Учусь играть на гитаре, через десять минут уже болят пальцы.",
        "Футбольный матч в субботу был скучным до последних десяти минут.",
        "Не забудьте сделать резервную копию файлов перед установкой новой системы.",
        "На завтрак были блины, и дети съели всё до последнего.",
        "Билеты на концерт разошлись меньше чем за час.",
        "Сосед строит домик на дереве, и стук молотка слышит вся улица.",
        "Я перешёл на стол для работы стоя, и спина болит гораздо меньше.",
        "Кто-то оставил очень вежливую записку про парковку у нашего подъезда.",
        "В музее открылась новая выставка старинных карт и парусников.",
    ),
    "uk": (
        "Всім доброго ранку, кавоварку на нашому поверсі нарешті полагодили.",
        "Усі вихідні перефарбовував кухню, колір вийшов світлішим, ніж на зразку.",
        "Сестра порадила нову пекарню біля вокзалу, житній хліб там чудовий.",
        "Автобус знову запізнився на двадцять хвилин, тож останню частину я пройшов пішки.",
        "Наступного місяця плануємо невеликий похід, якщо погода дозволить.",
        "Хтось знає рецепт супу з сочевиці, який не забирає пів дня?",
        "В останньому оновленні гри змінили порядок мап, і я ще не вирішив, чи мені це подобається.",
        "Наша кішка вирішила, що кошик для білизни тепер її ліжко.",
        "Нарешті дочитав той довгий роман, про який усі говорили торік.",
        "Міська бібліотека тепер працює довше, для студентів це дуже зручно.",
        "Учора цілий день ішов дощ, але городу він був явно потрібен.",
        "Вчуся грати на гітарі, за десять хвилин уже болять пальці.",
        "Футбольний матч у суботу був нудним до останніх десяти хвилин.",
        "Не забудьте зробити резервну копію файлів перед встановленням нової системи.",
        "На сніданок були млинці, і діти з'їли все до останнього.",
        "Квитки на концерт розкупили менш ніж за годину.",
        "Сусід будує будиночок на дереві, і стукіт молотка чує вся вулиця.",
        "Я перейшов на стіл для роботи стоячи, і спина болить значно менше.",
        "Хтось залишив дуже ввічливу записку про паркування біля нашого під'їзду.",
        "У музеї відкрилася нова виставка старовинних мап і вітрильників.",
    ),
    "de": (
        "Guten Morgen zusammen, die Kaffeemaschine auf unserem Stockwerk geht endlich wieder.",
        "Ich habe fast das ganze Wochenende die Küche gestrichen, die Farbe ist heller als auf der Karte.",
        "Meine Schwester hat mir eine neue Bäckerei am Bahnhof empfohlen, das Roggenbrot ist super.",
        "Der Bus hatte wieder zwanzig Minuten Verspätung, also bin ich das letzte Stück gelaufen.",
        "Wir planen nächsten Monat eine kleine Wanderung, wenn das Wetter mitspielt.",
        "Kennt jemand ein Rezept für Linsensuppe, das nicht den ganzen Nachmittag dauert?",
        "Das letzte Spiel-Update hat die Kartenrotation geändert, und ich weiß nicht, ob ich das mag.",
        "Unsere Katze hat beschlossen, dass der Wäschekorb jetzt ihr Bett ist.",
        "Ich habe endlich den langen Roman ausgelesen, über den letztes Jahr alle geredet haben.",
        "Die Stadtbibliothek hat jetzt länger geöffnet, das ist toll für Studierende.",
        "Gestern hat es den ganzen Tag geregnet, aber der Garten hatte es nötig.",
        "Ich lerne gerade Gitarre, nach zehn Minuten tun mir die Finger weh.",
        "Das Fußballspiel am Samstag war langweilig bis zu den letzten zehn Minuten.",
        "Denkt daran, eure Dateien zu sichern, bevor ihr das neue Betriebssystem installiert.",
        "Zum Frühstück gab es Pfannkuchen, und die Kinder haben alle aufgegessen.",
        "Die Konzertkarten waren in weniger als einer Stunde ausverkauft.",
        "Mein Nachbar baut ein Baumhaus, und die ganze Straße hört das Hämmern.",
        "Ich arbeite jetzt an einem Stehschreibtisch, und mein Rücken fühlt sich viel besser an.",
        "Jemand hat einen sehr höflichen Zettel wegen des Parkens vor unserem Haus hinterlassen.",
        "Im Museum gibt es eine neue Ausstellung über alte Landkarten und Segelschiffe.",
    ),
}

_LINK_WORD = {"en": "source", "ru": "источник", "uk": "джерело", "de": "Quelle"}
_QUOTES = {"en": ("\u201c", "\u201d"), "ru": ("\u00ab", "\u00bb"), "uk": ("\u00ab", "\u00bb"), "de": ("\u201e", "\u201c")}
_EMOJI = ("😂", "🤔", "👍", "🔥", "🙄", "💯", "😡", "👀", "🤷", "😅")
# example.com / example.org are reserved for documentation (RFC 2606): never a real source
_URLS = (
    "https://example.com/news/2023/03/article-4821",
    "https://www.example.org/p/7731?utm_source=share",
    "http://example.com/watch?v=Qx81kLm",
)


def _fillers(lang: str) -> tuple[str, ...]:
    return FILLERS.get(lang, FILLERS["en"])


def _url(rng: random.Random) -> str:
    return rng.choice(_URLS)


# ------------------------------------------------------------------------------------------ both levels


@perturbation("markup")
def junk_b100(text: str, lang: str, rng: random.Random) -> str:
    """A version/price tag at the end (the issue's known failure)."""
    return f"{text} (b1.00)"


@perturbation("markup")
def junk_hash(text: str, lang: str, rng: random.Random) -> str:
    return f"{text} #{rng.randint(2, 99)}"


@perturbation("text")
def junk_lol(text: str, lang: str, rng: random.Random) -> str:
    return f"{text} lol"


@perturbation("text")
def junk_dots(text: str, lang: str, rng: random.Random) -> str:
    return f"{text} ..."


@perturbation("text")
def junk_edited(text: str, lang: str, rng: random.Random) -> str:
    return f"{text} (edited)"


@perturbation("markup")
def url_after(text: str, lang: str, rng: random.Random) -> str:
    return f"{text} {_url(rng)}"


@perturbation("markup")
def url_before(text: str, lang: str, rng: random.Random) -> str:
    return f"{_url(rng)}\n{text}"


@perturbation("markup")
def md_link_wrap(text: str, lang: str, rng: random.Random) -> str:
    """The whole message is the visible text of a Markdown link."""
    return f"[{text}]({_url(rng)})"


@perturbation("text")
def md_link_after(text: str, lang: str, rng: random.Random) -> str:
    return f"{text} [{_LINK_WORD.get(lang, 'source')}]({_url(rng)})"


@perturbation("markup")
def html_script(text: str, lang: str, rng: random.Random) -> str:
    """A script tag in front (the issue's known failure)."""
    return f"<script>alert({rng.randint(1, 9)})</script>{text}"


@perturbation("markup")
def html_bold(text: str, lang: str, rng: random.Random) -> str:
    return f"<b>{text}</b>"


@perturbation("markup")
def html_paragraph(text: str, lang: str, rng: random.Random) -> str:
    return f'<p class="msg">{text}</p><br/>'


@perturbation("markup")
def code_fence(text: str, lang: str, rng: random.Random) -> str:
    return f"```\n{text}\n```"


@perturbation("markup")
def discord_markup(text: str, lang: str, rng: random.Random) -> str:
    """A user mention in front and a custom emoji behind, as Discord delivers them."""
    return f"<@{rng.randrange(10**17, 10**18)}> {text} <:kekw:{rng.randrange(10**17, 10**18)}>"


@perturbation("text")
def emoji_after(text: str, lang: str, rng: random.Random) -> str:
    return f"{text} {''.join(rng.choice(_EMOJI) for _ in range(rng.randint(1, 3)))}"


@perturbation("text")
def emoji_before(text: str, lang: str, rng: random.Random) -> str:
    return f"{rng.choice(_EMOJI)} {text}"


@perturbation("text")
def quoted(text: str, lang: str, rng: random.Random) -> str:
    """The message in quotation marks: ASCII or the language's typographic ones."""
    left, right = rng.choice([('"', '"'), _QUOTES.get(lang, ('"', '"'))])
    return f"{left}{text}{right}"


@perturbation("markup")
def upper_case(text: str, lang: str, rng: random.Random) -> str:
    return text.upper()


@perturbation("markup")
def lower_case(text: str, lang: str, rng: random.Random) -> str:
    return text.lower()


# ------------------------------------------------------------------------------------------ text level

_DROP_PUNCT = re.compile(r"[.,;:!\u2026\u2014\u2013]|(?<=\s)-(?=\s)")
_END_PUNCT = re.compile(r"[\s.!\u2026]*$")
_WORD = re.compile(r"[^\W\d_]{4,}")


@perturbation("text")
def drop_punctuation(text: str, lang: str, rng: random.Random) -> str:
    """Commas, full stops, colons, dashes and exclamation marks gone (question marks and apostrophes kept)."""
    return " ".join(_DROP_PUNCT.sub(" ", text).split())


@perturbation("text")
def add_punctuation(text: str, lang: str, rng: random.Random) -> str:
    """An emphatic ending: ``!!!`` or ``!!1`` instead of the full stop."""
    return _END_PUNCT.sub("", text) + rng.choice(("!!!", "!!1", "!!"))


def _typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)  # an inner letter: first and last stay, as in real slips
    if rng.random() < 0.5 and word[i] != word[i + 1]:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]  # swap with the next letter
    return word[:i] + word[i + 1:]  # drop it


def _typos(text: str, rng: random.Random, n: int) -> str:
    words = list(_WORD.finditer(text))
    if not words:
        return text
    picked = sorted(rng.sample(words, min(n, len(words) - 1) or 1), key=lambda m: m.start())
    out, pos = [], 0
    for m in picked:
        out.append(text[pos:m.start()])
        out.append(_typo(m.group(0), rng))
        pos = m.end()
    out.append(text[pos:])
    return "".join(out)


@perturbation("text")
def typo_one(text: str, lang: str, rng: random.Random) -> str:
    return _typos(text, rng, 1)


@perturbation("text")
def typo_two(text: str, lang: str, rng: random.Random) -> str:
    """Two words with a slip (never every word: a message of two long words gets one)."""
    return _typos(text, rng, 2)


@perturbation("text")
def filler_around(text: str, lang: str, rng: random.Random) -> str:
    """One neutral sentence of small talk before the message and one after, in its language."""
    before, after = rng.sample(_fillers(lang), 2)
    return f"{before} {text} {after}"


def bury(text: str, lang: str, rng: random.Random, size: int) -> str:
    """``text`` as one sentence among neutral filler sentences of its language, about ``size`` characters in
    all (never more), with at least two filler sentences before and two after when ``size`` allows. A full
    stop is added when ``text`` does not end a sentence, so it reads as a sentence of its own."""
    if not text.rstrip().endswith((".", "!", "?", "…")):
        text = text.rstrip() + "."
    pool: list[str] = []
    budget = size - len(text)
    sentences: list[str] = []
    used = 0
    while True:
        if not pool:  # every filler sentence once before any comes again
            pool = list(_fillers(lang))
            rng.shuffle(pool)
        s = pool.pop()
        if used + len(s) + 2 > budget:  # 2: the widest separator ("\n\n")
            break
        sentences.append(s)
        used += len(s) + 2
    if not sentences:
        return text
    lo, hi = (2, len(sentences) - 2) if len(sentences) >= 4 else (0, len(sentences))
    cut = rng.randint(lo, hi)
    # paragraphs of a few sentences, as a long chat message is written
    parts = sentences[:cut] + [text] + sentences[cut:]
    out, line = [], []
    for p in parts:
        line.append(p)
        if len(line) >= rng.randint(3, 5):
            out.append(" ".join(line))
            line = []
    if line:
        out.append(" ".join(line))
    return "\n\n".join(out)


def variants(row: dict, seed: int, names: Iterable[str] | None = None) -> list[tuple[str, str]]:
    """(perturbation name, perturbed text) for one devset row."""
    out = []
    for name in names or PERTURBATIONS:
        p = PERTURBATIONS[name]
        out.append((name, p(row["text"], row["lang"], rng_for(seed, row["id"], name))))
    return out


# ------------------------------------------------------------------------------------------ measuring


def outcome(decision) -> tuple[str, str | None]:
    """What a flip is measured on: (action, talking point). With action "none" nobody sees a talking point,
    so the closest one the detector considered does not count."""
    action = decision.action.value
    return action, decision.talking_point_id if action != "none" else None


def _stance(decision) -> str | None:
    return decision.stance.value if decision.stance is not None else None


def _decide_all(detector, texts: Sequence[str], batch: int = 256) -> dict[str, object]:
    unique = list(dict.fromkeys(texts))
    out: dict[str, object] = {}
    for i in range(0, len(unique), batch):
        chunk = unique[i:i + batch]
        out.update(zip(chunk, detector.check_many(chunk)))
    return out


def severity(label: str, before: tuple[str, str | None], after: tuple[str, str | None], gold: str | None) -> int:
    """How bad a flip is, for ordering the worst examples (higher first)."""
    if label == "refute" and after[0] == "reply":
        return 5  # a card on a refutation
    if label == "assert":
        right_before = before[1] == gold and before[0] != "none"
        right_after = after[1] == gold and after[0] != "none"
        if before[0] == "reply" and right_before and not right_after:
            return 4  # a correct card lost altogether
        if before[0] == "reply" and right_before:
            return 3  # reply demoted to review
        if right_before and not right_after:
            return 2  # a found assertion lost
    if label == "refute" and after[0] == "review" and before[0] == "none":
        return 1  # a new false alert
    return 0


@dataclass(frozen=True)
class Flip:
    row: dict
    name: str
    text: str
    before: tuple[str, str | None]
    after: tuple[str, str | None]

    @property
    def severity(self) -> int:
        return severity(self.row["label"], self.before, self.after, self.row["talking_point"])


def _kind(before: tuple[str, str | None], after: tuple[str, str | None]) -> str:
    if before[0] != after[0]:
        return f"{before[0]}->{after[0]}"
    return f"{before[0]}: other point"


def _rate(flips: int, n: int) -> str:
    return f"{flips:>5}/{n:<5} {flips / max(1, n):>7.2%}"


def flip_report(rows: list[dict], detector, seed: int, names: Sequence[str], worst: int) -> dict[str, float]:
    # a variant equal to its original (lower case of a lower-case message) cannot flip: left out of the counts
    plan = [(r, name, text) for r in rows for name, text in variants(r, seed, names) if text != r["text"]]
    t0 = time.perf_counter()
    decided = _decide_all(detector, [r["text"] for r in rows] + [text for _, _, text in plan])
    print(f"decided {len(rows)} messages and {len(plan)} variants in {time.perf_counter() - t0:.1f} s")

    per_name: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    per_level: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    per_lang: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    per_label: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    kinds: dict[str, Counter] = defaultdict(Counter)
    lang_changed: Counter = Counter()  # the card's language comes from the detected language
    to_refute: Counter = Counter()  # an assertion read as an assertion, its variant as a refutation
    d_match: dict[str, list[float]] = defaultdict(list)  # which part moves: retrieval score ...
    d_assert: dict[str, list[float]] = defaultdict(list)  # ... or P(assert), when both were scored
    flips: list[Flip] = []
    for r, name, text in plan:
        before, after = expected_outcome(name, outcome(decided[r["text"]])), outcome(decided[text])
        lang_changed[name] += decided[r["text"]].lang != decided[text].lang
        if r["label"] == "assert" and _stance(decided[r["text"]]) == "assert" and _stance(decided[text]) == "refute":
            to_refute[name] += 1
        e0, e1 = decided[r["text"]].explanation, decided[text].explanation
        d_match[name].append(e1.match_score - e0.match_score)
        if "assert" in e0.stance_probs and "assert" in e1.stance_probs:
            d_assert[name].append(e1.stance_probs["assert"] - e0.stance_probs["assert"])
        flipped = before != after
        level = PERTURBATIONS[name].level
        for table, key in ((per_name, name), (per_level, level), (per_lang, r["lang"]), (per_label, r["label"])):
            table[key][0] += flipped
            table[key][1] += 1
        if flipped:
            kinds[name][_kind(before, after)] += 1
            flips.append(Flip(r, name, text, before, after))

    total = len(flips), len(plan)
    print(f"\n=== flip rate: (action, talking point) changed by the perturbation; target <= 2 % ===")
    for name in names:
        if name in EXPECTED:
            print(f"({name}: a change is expected here and not counted as a flip - a reply becomes review; "
                  f"a flip is a decision other than that)")
    print(f"overall {_rate(*total)}")
    for title, table in (("level", per_level), ("language", per_lang), ("gold label", per_label)):
        print(f"\nby {title}:")
        for key in sorted(table):
            print(f"  {key:<10} {_rate(*table[key])}")
    print("\nby perturbation (lang: detected language changed; a>r: an assertion's stance turned to refute;\n"
          "dm, dp: mean change of the match score and, where both were scored, of P(assert)):\n"
          f"  {'name':<18} {'level':<8} {'flips/n':>11} {'rate':>7} {'lang':>5} {'a>r':>4} {'dm':>6} {'dp':>6}  kinds")
    for name in names:
        f, n = per_name[name]
        dm, dp = (sum(v) / max(1, len(v)) for v in (d_match[name], d_assert[name]))
        print(f"  {name:<18} {PERTURBATIONS[name].level:<8} {_rate(f, n)} {lang_changed[name]:>5} {to_refute[name]:>4} "
              f"{dm:>+6.3f} {dp:>+6.3f}  "
              + ", ".join(f"{k} {v}" for k, v in kinds[name].most_common()))

    flips.sort(key=lambda f: (-f.severity, f.name, f.row["id"]))
    if worst:  # the most severe first, at most two per perturbation so that one does not fill the list
        shown: list[Flip] = []
        per: Counter = Counter()
        for f in flips:
            if per[f.name] < 2 and len(shown) < worst:
                shown.append(f)
                per[f.name] += 1
        print(f"\nworst flips ({len(shown)} of {len(flips)}; severity 5 refutation -> reply, 4 reply lost, "
              f"3 reply -> review, 2 assertion lost, 1 new alert on a refutation):")
        for f in shown:
            print(f"  {f.severity} [{f.row['id']} {f.row['lang']} {f.row['label']} {f.row['talking_point']}] {f.name}: "
                  f"{f.before[0]} {f.before[1]} -> {f.after[0]} {f.after[1]}")
            print(f"      {_clip(f.text)}")

    out = {"flip_rate": total[0] / max(1, total[1])}
    out.update({f"flip_rate_{k}": v[0] / max(1, v[1]) for k, v in per_level.items()})
    out.update({f"flip_rate_{k}": v[0] / max(1, v[1]) for k, v in per_lang.items()})
    out["severe_flips"] = sum(f.severity >= 3 for f in flips)
    out["language_changed"] = sum(lang_changed.values()) / max(1, len(plan))
    out["assert_to_refute"] = sum(to_refute.values()) / max(1, len(plan))
    return out


def _clip(text: str, n: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def buried_report(rows: list[dict], detector, seed: int, sizes: Sequence[int]) -> dict[str, float]:
    asserts = [r for r in rows if r["label"] == "assert"]
    plain = _decide_all(detector, [r["text"] for r in asserts])

    def found(d, r) -> bool:
        return d.action.value in ("reply", "review") and d.talking_point_id == r["talking_point"]

    base = [found(plain[r["text"]], r) for r in asserts]
    print(f"\n=== buried assertion: the assertion among neutral filler sentences (its language); target >= 90 % "
          f"at 2,000 characters ===")
    print(f"{'chars':>6} {'n':>4} {'found':>7} {'of found alone':>15} {'reply':>7}   " + "  ".join(
        f"{lang:>5}" for lang in sorted({r['lang'] for r in asserts})))
    print(f"{'alone':>6} {len(asserts):>4} {sum(base) / len(asserts):>7.1%} {'':>15} "
          f"{sum(plain[r['text']].action.value == 'reply' and found(plain[r['text']], r) for r in asserts) / len(asserts):>7.1%}")
    out = {"found_alone": sum(base) / len(asserts)}
    for size in sizes:
        texts = [bury(r["text"], r["lang"], rng_for(seed, r["id"], f"bury{size}"), size) for r in asserts]
        decided = _decide_all(detector, texts, batch=64)
        hits = [found(decided[t], r) for t, r in zip(texts, asserts)]
        replies = [h and decided[t].action.value == "reply" for h, t in zip(hits, texts)]
        kept = sum(h for h, b in zip(hits, base) if b) / max(1, sum(base))
        by_lang = defaultdict(list)
        for h, r in zip(hits, asserts):
            by_lang[r["lang"]].append(h)
        mean = sum(len(t) for t in texts) / len(texts)
        print(f"{size:>6} {len(asserts):>4} {sum(hits) / len(hits):>7.1%} {kept:>15.1%} {sum(replies) / len(hits):>7.1%}   "
              + "  ".join(f"{sum(v) / len(v):>5.0%}" for _, v in sorted(by_lang.items()))
              + f"   (mean length {mean:.0f})")
        out[f"buried_{size}"] = sum(hits) / len(hits)
        out[f"buried_{size}_of_found_alone"] = kept
        for half, parity in (("tune", 1), ("check", 0)):  # dev set halves: choose on the tuning half only
            sel = [h for h, r in zip(hits, asserts) if int(r["id"].rsplit("-", 1)[1]) % 2 == parity]
            out[f"buried_{size}_{half}"] = sum(sel) / max(1, len(sel))
    return out


def load_devset(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from bot.config import DetectorConfig
    from bot.core.detector import Detector
    from bot.core.packs import PackRegistry

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--devset", type=Path, default=ROOT / "data" / "devset.jsonl")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--worst", type=int, default=15, help="how many of the worst flips to list")
    ap.add_argument("--sizes", type=int, nargs="*", default=[500, 2000, 4000], help="buried-assertion lengths")
    ap.add_argument("--only", nargs="*", default=None, help="perturbation names (default: all)")
    args = ap.parse_args()
    names = args.only or list(PERTURBATIONS)
    unknown = [n for n in names if n not in PERTURBATIONS]
    if unknown:
        ap.error(f"unknown perturbation(s) {unknown}; known: {', '.join(PERTURBATIONS)}")

    rows = [r for r in load_devset(args.devset) if r["label"] in ("assert", "refute")]
    t0 = time.perf_counter()
    detector = Detector.build(PackRegistry.load(), DetectorConfig())
    print(f"detector ready in {time.perf_counter() - t0:.1f} s; {len(rows)} labelled assertions and refutations, "
          f"{len(names)} perturbations, seed {args.seed}")
    summary = flip_report(rows, detector, args.seed, names, args.worst)
    if args.sizes:
        summary.update(buried_report(rows, detector, args.seed, args.sizes))
    print("\nsummary:", json.dumps({k: round(v, 4) for k, v in summary.items()}, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
