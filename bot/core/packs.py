"""Load and validate talking-point packs (see docs/pack-format.md) and keep the loaded set in a registry.

A pack is a directory (``pack.yaml`` + ``talking_points/<id>.yaml``) or a single YAML file holding the pack keys
plus ``talking_points:`` as a list. :func:`load_pack` checks every rule of the format and raises one
:class:`PackError` that lists *all* problems of the pack, each naming the file (and line), the talking point and
the field, e.g.::

    bot/packs/x/talking_points/foo.yaml:14: talking point 'foo': cards.en.summary: 731 characters (max 600)

Only PyYAML and the standard library are used here (no discord, nio, aiosqlite or httpx).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Collection, Iterable, Mapping, Sequence
from urllib.parse import urlsplit

import yaml

from .models import CardText, Exemplar, KeyFact, Pack, Source, Stance, TalkingPoint

__all__ = [
    "SCHEMA_VERSION",
    "RATINGS",
    "DEFAULT_RATING",
    "PackError",
    "PackTalkingPoint",
    "FrozenDict",
    "load_pack",
    "load_packs",
    "default_pack_dirs",
    "rating_of",
    "pack_to_dict",
    "pack_warnings",
    "citations",
    "URL_NOT_CONFIRMED",
    "DEFAULT_MAX_FACT_AGE_DAYS",
    "PackRegistry",
]

SCHEMA_VERSION = 1

# ----------------------------------------------------------------------------------------------- limits

MAX_ID = 80  # Discord autocomplete choice values are limited to 100 characters
MAX_CLAIM = 300
MAX_TITLE = 120
MAX_SUMMARY = 600
MIN_KEY_FACTS, MAX_KEY_FACTS = 2, 4
MAX_KEY_FACT = 300
MAX_WHY = 400
MIN_SOURCES = 2
MAX_EXEMPLAR = 2000  # a Discord message
MIN_ASSERT, MIN_ASSERT_LANGS = 8, 3
MIN_REFUTE = 4
MIN_REPORT = 2

#: allowed values of the optional per-talking-point ``rating`` (schema.org ClaimReview ``alternateName``)
RATINGS = ("False", "Mostly false", "Misleading", "Missing context", "Unsupported")
DEFAULT_RATING = "Misleading"

PACK_KEYS = {"schema", "id", "version", "name", "description", "languages", "talking_points", "claimreview",
             "background"}
TP_KEYS = {"id", "claim", "keywords", "cards", "sources", "exemplars", "rating", "draft", "reviewed", "claimreview"}
CARD_KEYS = ("title", "summary", "key_facts", "why_it_matters")
KEY_FACT_KEYS = ("text", "sources", "as_of")
SOURCE_KEYS = ("publisher", "title", "url", "date")

#: a source's ``url`` when the pack names a primary source whose page could not be confirmed to exist
URL_NOT_CONFIRMED = "not confirmed"
#: ``packs validate`` warns about "as of" dates older than this (``[packs] max_fact_age_days``)
DEFAULT_MAX_FACT_AGE_DAYS = 730

# footnote numbers in card text: "[1]", "[2][4]"
_CITATION = re.compile(r"\[(\d+)\]")
# a sentence ends at . ! ? (after an optional closing quote or bracket) followed by white space; a period right
# after a digit does not end one (German ordinals "16. März"), so such text is read as one longer sentence
_SENTENCE_END = re.compile(r"(?<!\d)[.!?][»\"”’)]?\s+")
# a number as a word of its own ("14,000", "83.9 %", "2014"), not a digit inside a name ("MH17", "5G", "COVID-19")
_NUMBER = re.compile(r"(?<![\w-])\d+(?!\d)(?![^\W\d_])")
_ISO_DATE = re.compile(r"^\d{4}(?:-(0[1-9]|1[0-2])(?:-(0[1-9]|[12]\d|3[01]))?)?$")
EXEMPLAR_KEYS = {"text", "lang"}

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

# ISO 639-1 two-letter codes
ISO_639_1 = frozenset(
    """aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de dv dz ee
    el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik io is
    it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms
    mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk
    sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi
    yo za zh zu""".split()
)
# country codes that people write instead of the language code
_LANG_HINTS = {"ua": "uk", "by": "be", "cz": "cs", "gr": "el", "jp": "ja", "cn": "zh", "dk": "da", "ge": "ka",
               "kz": "kk", "rs": "sr", "al": "sq", "md": "ro"}

DRAFT_HELP = (
    "this talking point is an unfinished draft imported from ClaimReview; a pack author must complete it "
    "(write the labelled exemplars, the cards in every pack language, the key facts, check the sources) and "
    "then delete the 'draft' key - see docs/pack-format.md, 'Importing ClaimReview'"
)


# ------------------------------------------------------------------------------------------- errors


class PackError(ValueError):
    """A pack (or a set of packs) failed to load. ``errors`` holds one self-contained line per problem."""

    def __init__(self, errors: str | Sequence[str]):
        self.errors: list[str] = [errors] if isinstance(errors, str) else list(errors)
        super().__init__("\n".join(self.errors))


# ------------------------------------------------------------------------------------ frozen values


class FrozenDict(dict):
    """A read-only, hashable dict (used for ``TalkingPoint.cards``). Pickles and deep-copies like a dict."""

    def _readonly(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"{type(self).__name__} is read-only")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _readonly  # type: ignore

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self.items())))

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (dict(self),))

    def __repr__(self) -> str:
        return f"FrozenDict({dict.__repr__(self)})"


@dataclass(frozen=True)
class PackTalkingPoint(TalkingPoint):
    """A :class:`~bot.core.models.TalkingPoint` as loaded from a pack, plus the optional ClaimReview rating.

    It *is* a ``TalkingPoint`` (subclass); code that only knows the base model keeps working.
    """

    rating: str = DEFAULT_RATING
    claimreview: Mapping[str, Any] = FrozenDict()  # optional ClaimReview metadata (see _validate_claimreview)


def rating_of(tp: TalkingPoint) -> str:
    """The ClaimReview rating of ``tp`` (``DEFAULT_RATING`` for talking points built without one)."""
    return getattr(tp, "rating", None) or DEFAULT_RATING


# --------------------------------------------------------------------------------------------- YAML


class _Dict(dict):
    """dict that remembers the 1-based line of each key (for error messages)."""

    lines: dict[Any, int]


class _List(list):
    """list that remembers the 1-based line of each item."""

    lines: list[int]


class _Loader(yaml.SafeLoader):
    """Safe loader that rejects duplicate keys, records line numbers, and resolves only true/false as booleans
    (so ``lang: no`` stays the string "no") and never turns dates into ``datetime.date`` objects."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> _Dict:
    loader.flatten_mapping(node)
    data = _Dict()
    data.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, "found an unhashable key", key_node.start_mark
            ) from None
        if key in data:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, f"found duplicate key {key!r}", key_node.start_mark
            )
        data[key] = loader.construct_object(value_node, deep=True)
        data.lines[key] = key_node.start_mark.line + 1
    return data


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> _List:
    data = _List(loader.construct_object(child, deep=True) for child in node.value)
    data.lines = [child.start_mark.line + 1 for child in node.value]
    return data


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def _display(path: Path) -> str:
    """``path`` relative to the working directory when it lies inside it (shorter, clickable messages)."""
    try:
        resolved = path.resolve()
        cwd = Path.cwd().resolve()
        if resolved.is_relative_to(cwd):
            return os.path.relpath(resolved, cwd)
    except (OSError, ValueError):
        pass
    return str(path)


_FAILED = object()


def _read_yaml(path: Path, errors: list[str], label: str = "") -> Any:
    """Parse ``path``; on failure append an error naming file and line and return ``_FAILED``.

    An empty file is reported too (it would otherwise parse as ``None``)."""
    shown = _display(path)
    prefix = f"talking point '{label}': " if label else ""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        errors.append(f"{shown}: {prefix}not valid UTF-8 ({exc.reason} at byte {exc.start})")
        return _FAILED
    except OSError as exc:
        errors.append(f"{shown}: {prefix}cannot read file ({exc.strerror or exc})")
        return _FAILED
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{shown}:{mark.line + 1}" if mark else shown
        col = f", column {mark.column + 1}" if mark else ""
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        line_word = f"line {mark.line + 1}{col}: " if mark else ""
        errors.append(f"{where}: {prefix}YAML syntax error: {line_word}{problem}")
        return _FAILED
    except yaml.YAMLError as exc:
        errors.append(f"{shown}: {prefix}YAML syntax error: {exc}")
        return _FAILED
    if data is None:
        errors.append(f"{shown}: {prefix}the file is empty")
        return _FAILED
    return data


# ---------------------------------------------------------------------------------------- validation


class _Ctx:
    """Where we are: file, talking point, and an error sink."""

    def __init__(self, path: Path, errors: list[str], tp: str | None = None):
        self.path = path
        self.shown = _display(path)
        self.errors = errors
        self.tp = tp

    def err(self, field: str, message: str, line: int | None = None) -> None:
        where = f"{self.shown}:{line}" if line else self.shown
        who = f" talking point '{self.tp}':" if self.tp is not None else ""
        fld = f" {field}:" if field else ""
        self.errors.append(f"{where}:{who}{fld} {message}")


def _line(container: Any, key: Any) -> int | None:
    lines = getattr(container, "lines", None)
    if lines is None:
        return None
    try:
        return lines[key]
    except (KeyError, IndexError, TypeError):
        return None


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    for kind, name in ((bool, "a boolean"), (dict, "a mapping"), (list, "a list"), (str, "a string"),
                       ((int, float), "a number")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def _check_keys(ctx: _Ctx, data: Mapping[Any, Any], allowed: Collection[str], field: str) -> None:
    for key in data:
        if key not in allowed:
            hint = _closest(str(key), allowed)
            hint_text = f" (did you mean '{hint}'?)" if hint else ""
            allowed_text = ", ".join(sorted(allowed))
            path = f"{field}.{key}" if field else str(key)
            ctx.err(path, f"unknown key{hint_text}; allowed: {allowed_text}", _line(data, key))


def _closest(word: str, candidates: Iterable[str]) -> str | None:
    match = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return match[0] if match else None


def _text(
    ctx: _Ctx,
    data: Mapping[Any, Any],
    key: str,
    field: str,
    *,
    required: bool = True,
    **rules: Any,
) -> str | None:
    """A string field of a mapping: present (when ``required``) and valid per :func:`_text_value`."""
    if key not in data:
        if required:
            ctx.err(field, "missing")
        return None
    if data[key] is None and not required:
        return None
    return _text_value(ctx, data[key], field, _line(data, key), **rules)


def _text_value(
    ctx: _Ctx,
    value: Any,
    field: str,
    line: int | None,
    *,
    max_len: int | None = None,
    one_line: bool = False,
    allow_empty: bool = False,
    coerce: bool = False,
) -> str | None:
    """A string: a string (numbers too when ``coerce``), non-empty, within ``max_len``; else report it."""
    if value is None:
        ctx.err(field, "empty", line)
        return None
    if coerce and isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        ctx.err(field, f"must be a string, got {_type_name(value)} (quote it)", line)
        return None
    value = value.strip()
    if not value and not allow_empty:
        ctx.err(field, "empty", line)
        return None
    if max_len is not None and len(value) > max_len:
        ctx.err(field, f"{len(value)} characters (max {max_len})", line)
    if one_line and "\n" in value:
        ctx.err(field, "must be a single line", line)
    return value


def _lang_problem(code: Any) -> str | None:
    if not isinstance(code, str):
        return f"language code must be a string, got {_type_name(code)}"
    if code in ISO_639_1:
        return None
    hint = _LANG_HINTS.get(code)
    suffix = f" (did you mean '{hint}'?)" if hint else ""
    return f"'{code}' is not an ISO 639-1 language code{suffix}"


def _slug_problem(value: str) -> str | None:
    if not _SLUG.match(value):
        return f"'{value}' is not a slug (lowercase letters, digits and single hyphens: [a-z0-9-])"
    if len(value) > MAX_ID:
        return f"{len(value)} characters (max {MAX_ID})"
    return None


def _validate_pack_meta(ctx: _Ctx, data: Mapping[Any, Any], *, single_file: bool) -> dict[str, Any] | None:
    if "talking_points" in data and not single_file:
        ctx.err("talking_points", "not allowed in pack.yaml of a pack directory; put each talking point in "
                "talking_points/<id>.yaml", _line(data, "talking_points"))
    _check_keys(ctx, data, PACK_KEYS, "")
    ok = True
    schema = data.get("schema")
    if "schema" not in data:
        ctx.err("schema", f"missing (must be {SCHEMA_VERSION})")
        ok = False
    elif type(schema) is not int or schema != SCHEMA_VERSION:
        ctx.err("schema", f"unsupported schema {schema!r} (this contextbot reads schema {SCHEMA_VERSION})",
                _line(data, "schema"))
        ok = False
    pack_id = _text(ctx, data, "id", "id")
    if pack_id is not None and (problem := _slug_problem(pack_id)):
        ctx.err("id", problem, _line(data, "id"))
        pack_id = None
    # not coerced: an unquoted 2026.10 would silently become 2026.1
    version = _text(ctx, data, "version", "version", one_line=True)
    if version is not None and version.casefold() == "draft":
        ctx.err("version", "'draft' marks an imported pack that is not finished; give the pack a release version "
                "(such as 2026.12.1) once every talking point is complete", _line(data, "version"))
        version = None
    name = _text(ctx, data, "name", "name", one_line=True)
    description = _text(ctx, data, "description", "description", required=False, allow_empty=True) or ""
    languages: list[str] = []
    raw_langs = data.get("languages")
    if "languages" not in data:
        ctx.err("languages", "missing (list of ISO 639-1 codes, must include 'en')")
    elif not isinstance(raw_langs, list) or not raw_langs:
        ctx.err("languages", "must be a non-empty list of ISO 639-1 codes", _line(data, "languages"))
    else:
        for i, code in enumerate(raw_langs):
            if problem := _lang_problem(code):
                ctx.err(f"languages[{i}]", problem, _line(raw_langs, i))
            elif code in languages:
                ctx.err(f"languages[{i}]", f"'{code}' listed twice", _line(raw_langs, i))
            else:
                languages.append(code)
        if "en" not in languages:
            ctx.err("languages", "must include 'en'", _line(data, "languages"))
    claimreview = _validate_claimreview(ctx, data, PACK_CLAIMREVIEW_KEYS)
    background = _validate_background(ctx, data)
    if not ok or None in (pack_id, version, name, claimreview, background):
        return None
    return {"id": pack_id, "version": version, "name": name, "description": description,
            "languages": tuple(languages), "claimreview": claimreview, "background": background}


def _validate_background(ctx: _Ctx, data: Mapping[Any, Any]) -> tuple[str, ...] | None:
    """The optional ``background`` list of pack.yaml: single words (the topic's background vocabulary)."""
    raw = data.get("background")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        ctx.err("background", f"must be a list of words, got {_type_name(raw)}", _line(data, "background"))
        return None
    words: list[str] = []
    for i, word in enumerate(raw):
        if not isinstance(word, str) or not word.strip() or len(word.split()) != 1:
            ctx.err(f"background[{i}]", f"must be a single word, got {word!r}", _line(raw, i))
            return None
        words.append(word.strip())
    return tuple(words)


def _validate_card(ctx: _Ctx, card: Any, field: str, line: int | None) -> CardText | None:
    if not isinstance(card, dict):
        ctx.err(field, f"must be a mapping with {', '.join(CARD_KEYS)}, got {_type_name(card)}", line)
        return None
    _check_keys(ctx, card, CARD_KEYS, field)
    title = _text(ctx, card, "title", f"{field}.title", max_len=MAX_TITLE, one_line=True)
    summary = _text(ctx, card, "summary", f"{field}.summary", max_len=MAX_SUMMARY)
    why = _text(ctx, card, "why_it_matters", f"{field}.why_it_matters", max_len=MAX_WHY)
    facts: list[KeyFact] = []
    facts_ok = False
    raw = card.get("key_facts")
    kf_line = _line(card, "key_facts")
    if "key_facts" not in card:
        ctx.err(f"{field}.key_facts", f"missing ({MIN_KEY_FACTS}-{MAX_KEY_FACTS} items)")
    elif not isinstance(raw, list):
        ctx.err(f"{field}.key_facts", f"must be a list of {MIN_KEY_FACTS}-{MAX_KEY_FACTS} facts, "
                f"got {_type_name(raw)}", kf_line)
    else:
        facts_ok = MIN_KEY_FACTS <= len(raw) <= MAX_KEY_FACTS
        if not facts_ok:
            ctx.err(f"{field}.key_facts", f"{len(raw)} item{'s' if len(raw) != 1 else ''} "
                    f"(need {MIN_KEY_FACTS}-{MAX_KEY_FACTS})", kf_line)
        for i, item in enumerate(raw):
            fact = _key_fact(ctx, item, f"{field}.key_facts[{i}]", _line(raw, i))
            if fact is None:
                facts_ok = False
            else:
                facts.append(fact)
    if None in (title, summary, why) or not facts_ok:
        return None
    return CardText(title=title, summary=summary, key_facts=tuple(facts), why_it_matters=why)  # type: ignore[arg-type]


def _date_value(ctx: _Ctx, value: Any, field: str, line: int | None) -> str | None:
    """An ISO date "YYYY-MM-DD", "YYYY-MM" or "YYYY" (unquoted YAML dates and years are accepted)."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = value.isoformat()
    elif isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    text = value.strip() if isinstance(value, str) else None
    if text is None or not _ISO_DATE.match(text):
        ctx.err(field, f"{value!r} is not a date: write YYYY-MM-DD, YYYY-MM or YYYY", line)
        return None
    if len(text) == 10:
        try:
            dt.date.fromisoformat(text)
        except ValueError:
            ctx.err(field, f"{text} is not a date in the calendar", line)
            return None
    return text


def _key_fact(ctx: _Ctx, item: Any, field: str, line: int | None) -> KeyFact | None:
    """``{text: ..., sources: [n, ...], as_of: YYYY-MM-DD}``: every key fact names the sources that support it."""
    if isinstance(item, str):
        ctx.err(field, "names no source: write {text: \"...\", sources: [n]} with the numbers (from 1) of the "
                "sources that support it", line)
        return None
    if not isinstance(item, dict):
        ctx.err(field, f"must be a mapping with text and sources, got {_type_name(item)}", line)
        return None
    _check_keys(ctx, item, KEY_FACT_KEYS, field)
    text = _text(ctx, item, "text", f"{field}.text", max_len=MAX_KEY_FACT)
    if text is not None and _CITATION.search(text):
        ctx.err(f"{field}.text", "footnote numbers go in 'sources', not in the text", _line(item, "text"))
    numbers: list[int] = []
    raw = item.get("sources")
    if "sources" not in item or raw in (None, []):
        ctx.err(f"{field}.sources", "names no source: list the numbers (from 1) of the sources that support "
                "this fact", _line(item, "sources") or line)
    elif not isinstance(raw, list) or not all(type(n) is int and n >= 1 for n in raw):
        ctx.err(f"{field}.sources", f"must be a list of source numbers (1, 2, ...), got {raw!r}",
                _line(item, "sources"))
    elif len(set(raw)) != len(raw):
        ctx.err(f"{field}.sources", f"a source is listed twice: {raw!r}", _line(item, "sources"))
    else:
        numbers = list(raw)
    as_of = ""
    if "as_of" in item:
        as_of = _date_value(ctx, item["as_of"], f"{field}.as_of", _line(item, "as_of")) or ""
        if not as_of:
            return None
    if text is None or not numbers:
        return None
    return KeyFact(text=text, sources=tuple(numbers), as_of=as_of)


def citations(text: str) -> list[int]:
    """The footnote numbers cited in ``text``, in order ("[2] ... [1][3]" -> [2, 1, 3])."""
    return [int(n) for n in _CITATION.findall(text)]


def _sentences(text: str) -> list[str]:
    return [part for part in _SENTENCE_END.split(text) if part.strip()]


def _check_citations(ctx: _Ctx, raw_cards: Mapping[Any, Any], cards: Mapping[str, CardText], count: int) -> bool:
    """Every footnote names one of the ``count`` sources; every summary sentence with a number cites one."""
    ok = True

    def bad(field: str, message: str, line: int | None) -> None:
        nonlocal ok
        ctx.err(field, message, line)
        ok = False

    for lang, card in cards.items():
        raw = raw_cards[lang]
        field = f"cards.{lang}"
        for n in citations(card.summary):
            if not 1 <= n <= count:
                bad(f"{field}.summary", f"[{n}] cites no source (this talking point has {count})",
                    _line(raw, "summary"))
        for sentence in _sentences(card.summary):
            if _NUMBER.search(_CITATION.sub("", sentence)) and not _CITATION.search(sentence):
                bad(f"{field}.summary", f"a sentence with a number cites no source: "
                    f"\"{sentence.strip()}\" (add [n] with the number of the source)", _line(raw, "summary"))
        raw_facts = raw.get("key_facts")
        for i, fact in enumerate(card.key_facts):
            for n in fact.sources:
                if not 1 <= n <= count:
                    bad(f"{field}.key_facts[{i}].sources", f"{n} is not a source number (this talking point has "
                        f"{count}, numbered from 1)", _line(raw_facts, i))
    return ok


def _validate_url(url: str) -> str | None:
    if any(ch.isspace() for ch in url):
        return f"'{url}' contains whitespace"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        return f"'{url}' is not a valid URL ({exc})"
    if parts.scheme not in ("https", "http"):
        # http is allowed for confirmed pages that have no https copy (older news archives); https preferred
        return f"'{url}' must use https:// (or http://)"
    if not host or "." not in host.strip("."):
        return f"'{url}' has no valid host"
    return None


def _validate_sources(ctx: _Ctx, data: Mapping[Any, Any]) -> tuple[Source, ...] | None:
    raw = data.get("sources")
    line = _line(data, "sources")
    if "sources" not in data:
        ctx.err("sources", f"missing (need >= {MIN_SOURCES})")
        return None
    if not isinstance(raw, list):
        ctx.err("sources", f"must be a list, got {_type_name(raw)}", line)
        return None
    if len(raw) < MIN_SOURCES:
        ctx.err("sources", f"{len(raw)} source{'s' if len(raw) != 1 else ''} (need >= {MIN_SOURCES})", line)
    sources: list[Source] = []
    seen: dict[str, int] = {}
    ok = True
    for i, item in enumerate(raw):
        field = f"sources[{i}]"
        if not isinstance(item, dict):
            ctx.err(field, f"must be a mapping with {', '.join(SOURCE_KEYS)}, got {_type_name(item)}",
                    _line(raw, i))
            ok = False
            continue
        _check_keys(ctx, item, SOURCE_KEYS, field)
        publisher = _text(ctx, item, "publisher", f"{field}.publisher", one_line=True)
        title = _text(ctx, item, "title", f"{field}.title")
        url = _text(ctx, item, "url", f"{field}.url")
        date = _text(ctx, item, "date", f"{field}.date", coerce=True, one_line=True)
        if url is not None and url.casefold() == URL_NOT_CONFIRMED:
            url = ""  # a primary source named without a URL: none could be confirmed to exist
        elif url is not None:
            if problem := _validate_url(url):
                ctx.err(f"{field}.url", problem, _line(item, "url"))
                url = None
            elif url in seen:
                ctx.err(f"{field}.url", f"same URL as sources[{seen[url]}]", _line(item, "url"))
            else:
                seen[url] = i
        if None in (publisher, title, url, date):
            ok = False
            continue
        sources.append(Source(publisher=publisher, title=title, url=url, date=date))  # type: ignore[arg-type]
    if ok and sources and not any(s.url for s in sources):
        ctx.err("sources", f"no source has a URL (at most some may be '{URL_NOT_CONFIRMED}')", line)
        ok = False
    return tuple(sources) if ok and len(sources) >= MIN_SOURCES else None


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def _validate_exemplars(ctx: _Ctx, data: Mapping[Any, Any], draft: bool) -> tuple[Exemplar, ...] | None:
    raw = data.get("exemplars")
    line = _line(data, "exemplars")
    stances = [s.value for s in Stance]
    draft_note = " (imported draft: a pack author must write the labelled exemplars)" if draft else ""
    if "exemplars" not in data or raw is None:
        ctx.err("exemplars", f"missing (need >= {MIN_ASSERT} assert across >= {MIN_ASSERT_LANGS} languages, "
                f">= {MIN_REFUTE} refute, >= {MIN_REPORT} report){draft_note}", line)
        return None
    if not isinstance(raw, dict):
        ctx.err("exemplars", f"must be a mapping of stance -> list of {{text, lang}}, got {_type_name(raw)}", line)
        return None
    ok = True
    for key in raw:
        if key not in stances:
            hint = _closest(str(key), stances)
            hint_text = f" (did you mean '{hint}'?)" if hint else ""
            ctx.err(f"exemplars.{key}", f"unknown stance{hint_text}; allowed: {', '.join(stances)}", _line(raw, key))
            ok = False
    exemplars: list[Exemplar] = []
    seen: dict[str, str] = {}
    counts = {s: 0 for s in stances}
    assert_langs: set[str] = set()
    for stance in stances:
        if stance not in raw:
            continue
        items = raw[stance]
        field = f"exemplars.{stance}"
        if items is None:
            items = []
        if not isinstance(items, list):
            ctx.err(field, f"must be a list of {{text, lang}}, got {_type_name(items)}", _line(raw, stance))
            ok = False
            continue
        for i, item in enumerate(items):
            ifield = f"{field}[{i}]"
            if not isinstance(item, dict):
                ctx.err(ifield, f"must be a mapping {{text: ..., lang: ..}}, got {_type_name(item)}", _line(items, i))
                ok = False
                continue
            _check_keys(ctx, item, EXEMPLAR_KEYS, ifield)
            text = _text(ctx, item, "text", f"{ifield}.text", max_len=MAX_EXEMPLAR, coerce=True)
            lang = item.get("lang")
            if "lang" not in item:
                ctx.err(f"{ifield}.lang", "missing", _line(items, i))
                lang = None
            elif problem := _lang_problem(lang):
                ctx.err(f"{ifield}.lang", problem, _line(item, "lang"))
                lang = None
            if text is None or lang is None:
                ok = False
                continue
            key = _norm(text)
            if key in seen:
                ctx.err(f"{ifield}.text", f"duplicate exemplar (same text as {seen[key]})", _line(item, "text"))
                ok = False
                continue
            seen[key] = ifield
            counts[stance] += 1
            if stance == Stance.ASSERT.value:
                assert_langs.add(lang)
            exemplars.append(Exemplar(text=text, stance=Stance(stance), lang=lang))
    for stance, minimum in (("assert", MIN_ASSERT), ("refute", MIN_REFUTE), ("report", MIN_REPORT)):
        if counts[stance] < minimum:
            ctx.err(f"exemplars.{stance}", f"{counts[stance]} exemplar{'s' if counts[stance] != 1 else ''} "
                    f"(need >= {minimum}){draft_note}", _line(raw, stance) or line)
            ok = False
    if counts["assert"] and len(assert_langs) < MIN_ASSERT_LANGS:
        langs = ", ".join(sorted(assert_langs))
        ctx.err("exemplars.assert", f"{len(assert_langs)} language{'s' if len(assert_langs) != 1 else ''} "
                f"({langs}); need >= {MIN_ASSERT_LANGS}", _line(raw, "assert"))
        ok = False
    return tuple(exemplars) if ok else None


def _validate_talking_point(
    ctx: _Ctx, data: Any, *, meta: Mapping[str, Any] | None, expected_id: str | None, line: int | None = None
) -> PackTalkingPoint | None:
    if not isinstance(data, dict):
        ctx.err("", f"a talking point must be a mapping, got {_type_name(data)}", line)
        return None
    # name the talking point as early as possible so every later message carries it
    raw_id = data.get("id")
    if isinstance(raw_id, str) and raw_id.strip():
        ctx.tp = raw_id.strip()
    elif expected_id:
        ctx.tp = expected_id
    _check_keys(ctx, data, TP_KEYS, "")
    tp_id = _text(ctx, data, "id", "id", one_line=True)
    if tp_id is not None:
        if problem := _slug_problem(tp_id):
            ctx.err("id", problem, _line(data, "id"))
            tp_id = None
        elif expected_id is not None and tp_id != expected_id:
            ctx.err("id", f"'{tp_id}' does not match the file name '{ctx.path.name}' (must be {tp_id}.yaml)",
                    _line(data, "id"))
    draft = "draft" in data
    if draft:
        ctx.err("draft", DRAFT_HELP, _line(data, "draft"))
    claim = _text(ctx, data, "claim", "claim", max_len=MAX_CLAIM, one_line=True)

    keywords: list[str] = []
    if "keywords" in data and data["keywords"] is not None:
        raw_kw = data["keywords"]
        if not isinstance(raw_kw, list):
            ctx.err("keywords", f"must be a list of strings, got {_type_name(raw_kw)}", _line(data, "keywords"))
        else:
            for i, item in enumerate(raw_kw):
                kw = _text_value(ctx, item, f"keywords[{i}]", _line(raw_kw, i), coerce=True, one_line=True,
                                 max_len=100)
                if kw is not None and kw not in keywords:
                    keywords.append(kw)

    rating = DEFAULT_RATING
    if "rating" in data:
        raw_rating = data["rating"]
        canonical = {r.casefold(): r for r in RATINGS}
        if isinstance(raw_rating, bool):  # YAML `false` -> bool; accept it as the rating "False"
            raw_rating = "False" if raw_rating is False else raw_rating
        if not isinstance(raw_rating, str) or raw_rating.strip().casefold() not in canonical:
            ctx.err("rating", f"{raw_rating!r} is not a rating; allowed: {', '.join(RATINGS)}", _line(data, "rating"))
        else:
            rating = canonical[raw_rating.strip().casefold()]

    cards: dict[str, CardText] = {}
    cards_ok = True
    raw_cards = data.get("cards")
    languages = tuple(meta["languages"]) if meta else ()
    if "cards" not in data or raw_cards is None:
        ctx.err("cards", f"missing (need en{''.join(', ' + l for l in languages if l != 'en')})",
                _line(data, "cards"))
        cards_ok = False
    elif not isinstance(raw_cards, dict):
        ctx.err("cards", f"must be a mapping of language -> card, got {_type_name(raw_cards)}", _line(data, "cards"))
        cards_ok = False
    else:
        for lang, card in raw_cards.items():
            field = f"cards.{lang}"
            if problem := _lang_problem(lang):
                ctx.err(field, problem, _line(raw_cards, lang))
                cards_ok = False
                continue
            if meta and lang not in languages:
                ctx.err(field, f"language '{lang}' is not in the pack's languages ({', '.join(languages)})",
                        _line(raw_cards, lang))
                cards_ok = False
            parsed = _validate_card(ctx, card, field, _line(raw_cards, lang))
            if parsed is None:
                cards_ok = False
            else:
                cards[lang] = parsed
        required = ["en"] + [lang for lang in languages if lang != "en"]
        for lang in required:
            if lang not in raw_cards:
                ctx.err(f"cards.{lang}", "missing" + (" (the pack lists this language)" if lang != "en" else ""),
                        _line(data, "cards"))
                cards_ok = False

    reviewed = ""
    if "reviewed" in data:
        reviewed = _date_value(ctx, data["reviewed"], "reviewed", _line(data, "reviewed")) or ""
    sources = _validate_sources(ctx, data)
    if sources is not None and isinstance(raw_cards, dict):
        cards_ok = _check_citations(ctx, raw_cards, cards, len(sources)) and cards_ok
    exemplars = _validate_exemplars(ctx, data, draft)
    claimreview = _validate_claimreview(ctx, data, TP_CLAIMREVIEW_KEYS)
    if draft or not cards_ok or None in (tp_id, claim, sources, exemplars, claimreview) or meta is None:
        return None
    ordered = {lang: cards[lang] for lang in ["en", *[l for l in languages if l != "en"], *cards] if lang in cards}
    return PackTalkingPoint(
        id=tp_id,  # type: ignore[arg-type]
        claim=claim,  # type: ignore[arg-type]
        cards=FrozenDict(ordered),
        sources=sources,  # type: ignore[arg-type]
        exemplars=exemplars,  # type: ignore[arg-type]
        keywords=tuple(keywords),
        pack_id=meta["id"],
        pack_version=meta["version"],
        rating=rating,
        claimreview=claimreview,
        reviewed=reviewed,
    )


# -------------------------------------------------------------------------------- ClaimReview metadata
#
# Optional ``claimreview:`` mappings say how a pack is published as schema.org ClaimReview
# (bot.core.claimreview): in pack.yaml the publisher and the fact-check page URL pattern, in a talking point the
# page's own URL or date and what is known of the claim itself (itemReviewed). Nothing here affects detection.

_ISO_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
#: key -> kind; a dict is a nested mapping. Kinds: text, url, date, urls (list), pattern (URL with {id}/{lang}),
#: lang_urls (a URL with an optional {lang}, or a mapping language -> URL), author_type (Person/Organization).
PACK_CLAIMREVIEW_KEYS: dict[str, Any] = {
    "publisher": {"name": "text", "url": "url", "logo": "url"},
    "url": "pattern",
    "date_published": "date",
}
TP_CLAIMREVIEW_KEYS: dict[str, Any] = {
    "url": "lang_urls",
    "date_published": "date",
    "item_reviewed": {"author": "text", "author_type": "author_type", "date": "date", "first_appearance": "url",
                      "appearances": "urls"},
}


def _plain(value: Any) -> Any:
    """FrozenDict/tuple values as plain dict/list (JSON-ready)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _url_with_fields(url: str, allowed: set[str]) -> str | None:
    """Problems of a URL pattern: its ``{fields}`` must be among ``allowed``; the rest must be a valid URL."""
    fields = set(re.findall(r"{([^{}]*)}", url))
    if unknown := fields - allowed:
        return f"'{url}': unknown field {{{sorted(unknown)[0]}}} (allowed: {', '.join('{' + a + '}' for a in sorted(allowed))})"
    return _validate_url(re.sub(r"{[^{}]*}", "x", url))


def _validate_claimreview(ctx: _Ctx, data: Mapping[Any, Any], spec: Mapping[str, Any],
                          field: str = "claimreview") -> FrozenDict | None:
    """The optional ``claimreview`` mapping of ``data`` checked against ``spec``; FrozenDict() when absent,
    None after reporting a problem."""
    key = field.rsplit(".", 1)[-1]
    if key not in data or data[key] is None:
        return FrozenDict()
    raw, line = data[key], _line(data, key)
    if not isinstance(raw, dict):
        ctx.err(field, f"must be a mapping, got {_type_name(raw)}", line)
        return None
    _check_keys(ctx, raw, spec, field)
    ok = not (set(raw) - set(spec))
    out: dict[str, Any] = {}
    for name, kind in spec.items():
        if name not in raw or raw[name] is None:
            continue
        sub, sub_line, value = f"{field}.{name}", _line(raw, name), raw[name]
        if isinstance(kind, dict):
            nested = _validate_claimreview(ctx, raw, kind, sub)
            if nested is None:
                ok = False
            elif nested:
                out[name] = nested
            continue
        if kind == "urls":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                ctx.err(sub, "must be a list of URLs", sub_line)
                ok = False
                continue
            problems = [p for v in value if (p := _validate_url(v.strip()))]
            for problem in problems:
                ctx.err(sub, problem, sub_line)
            ok = ok and not problems
            out[name] = tuple(v.strip() for v in value)
            continue
        if kind == "lang_urls" and isinstance(value, dict):
            urls: dict[str, str] = {}
            for lang, url in value.items():
                problem = _lang_problem(lang) or (None if isinstance(url, str) else "must be a URL")
                problem = problem or _validate_url(url.strip())
                if problem:
                    ctx.err(f"{sub}.{lang}", problem, _line(value, lang))
                    ok = False
                else:
                    urls[lang] = url.strip()
            out[name] = FrozenDict(urls)
            continue
        text = _text_value(ctx, value, sub, sub_line, one_line=True, coerce=kind == "date")
        if text is None:
            ok = False
            continue
        problem = None
        if kind == "url":
            problem = _validate_url(text)
        elif kind == "pattern":
            problem = _url_with_fields(text, {"id", "lang"})
            if problem is None and "{id}" not in text:
                problem = f"'{text}' must contain {{id}} (the talking point's id), e.g. https://example.org/checks/{{id}}"
        elif kind == "lang_urls":
            problem = _url_with_fields(text, {"lang"})
        elif kind == "date" and not _ISO_DATE.match(text):
            problem = f"'{text}' is not an ISO 8601 date (YYYY-MM-DD)"
        elif kind == "author_type" and text not in ("Person", "Organization"):
            problem = f"'{text}' must be Person or Organization"
        if problem:
            ctx.err(sub, problem, sub_line)
            ok = False
        else:
            out[name] = text
    return FrozenDict(out) if ok else None


# -------------------------------------------------------------------------------------------- loading


def load_pack(path: Path | str) -> Pack:
    """Load and validate one pack: a directory with ``pack.yaml`` or a single YAML file.

    Raises :class:`PackError` listing every problem found (one per line).
    """
    path = Path(path)
    errors: list[str] = []
    talking_points: list[PackTalkingPoint] = []
    meta: dict[str, Any] | None = None

    if path.is_dir():
        meta_file = path / "pack.yaml"
        if not meta_file.is_file():
            raise PackError(f"{_display(path)}: not a pack: pack.yaml is missing")
        ctx = _Ctx(meta_file, errors)
        data = _read_yaml(meta_file, errors)
        if data is not _FAILED and not isinstance(data, dict):
            ctx.err("", f"pack.yaml must be a mapping of pack keys, got {_type_name(data)}")
        elif isinstance(data, dict):
            meta = _validate_pack_meta(ctx, data, single_file=False)
        tp_dir = path / "talking_points"
        files = sorted(
            p for p in (tp_dir.iterdir() if tp_dir.is_dir() else ())
            if p.is_file() and p.suffix in (".yaml", ".yml") and not p.name.startswith(".")
        )
        if not tp_dir.is_dir():
            errors.append(f"{_display(tp_dir)}: talking_points directory is missing")
        elif not files:
            errors.append(f"{_display(tp_dir)}: no talking points (expected talking_points/<id>.yaml files)")
        for file in files:
            tp_data = _read_yaml(file, errors, label=file.stem)
            if tp_data is _FAILED:
                continue
            tp = _validate_talking_point(_Ctx(file, errors), tp_data, meta=meta, expected_id=file.stem)
            if tp is not None:
                talking_points.append(tp)
    elif path.is_file():
        data = _read_yaml(path, errors)
        ctx = _Ctx(path, errors)
        if data is not _FAILED and not isinstance(data, dict):
            ctx.err("", f"a pack file must be a mapping of pack keys plus talking_points, got {_type_name(data)}")
        elif isinstance(data, dict):
            meta = _validate_pack_meta(ctx, data, single_file=True)
            raw_tps = data.get("talking_points")
            if "talking_points" not in data:
                ctx.err("talking_points", "missing (a single-file pack lists its talking points here)")
            elif not isinstance(raw_tps, list) or not raw_tps:
                ctx.err("talking_points", "must be a non-empty list of talking points", _line(data, "talking_points"))
            else:
                for i, tp_data in enumerate(raw_tps):
                    tp_ctx = _Ctx(path, errors, tp=f"#{i + 1}")
                    tp = _validate_talking_point(tp_ctx, tp_data, meta=meta, expected_id=None, line=_line(raw_tps, i))
                    if tp is not None:
                        talking_points.append(tp)
    else:
        raise PackError(f"{_display(path)}: no such pack (expected a directory with pack.yaml or a YAML file)")

    seen: set[str] = set()
    for tp in talking_points:
        if tp.id in seen:
            errors.append(f"{_display(path)}: talking point '{tp.id}': id: used by more than one talking point")
        seen.add(tp.id)
    if errors:
        raise PackError(errors)
    assert meta is not None
    return Pack(
        id=meta["id"],
        version=meta["version"],
        name=meta["name"],
        description=meta["description"],
        languages=meta["languages"],
        talking_points=tuple(talking_points),
        origin=str(path),
        claimreview=meta["claimreview"],
        background=meta["background"],
    )


def load_packs(paths: Iterable[Path | str]) -> list[Pack]:
    """Load several packs, collecting the errors of all of them into one :class:`PackError`."""
    packs: list[Pack] = []
    errors: list[str] = []
    for path in paths:
        try:
            packs.append(load_pack(Path(path)))
        except PackError as exc:
            errors.extend(exc.errors)
    if errors:
        raise PackError(errors)
    return packs


def default_pack_dirs() -> list[Path]:
    """The packs shipped inside the package: every directory under ``bot/packs/`` holding a ``pack.yaml``."""
    root = Path(__file__).resolve().parent.parent / "packs"
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / "pack.yaml").is_file())


# ------------------------------------------------------------------------------------------ canonical form


def _tp_to_dict(tp: TalkingPoint) -> dict[str, Any]:
    return {
        "id": tp.id,
        "claim": tp.claim,
        "rating": rating_of(tp),
        "keywords": list(tp.keywords),
        "cards": {
            lang: {"title": c.title, "summary": c.summary,
                   "key_facts": [{"text": f.text, "sources": list(f.sources), "as_of": f.as_of} for f in c.key_facts],
                   "why_it_matters": c.why_it_matters}
            for lang, c in tp.cards.items()
        },
        "sources": [dataclasses.asdict(s) for s in tp.sources],
        "reviewed": tp.reviewed,
        "exemplars": [{"text": e.text, "stance": str(e.stance.value), "lang": e.lang} for e in tp.exemplars],
        **({"claimreview": _plain(tp.claimreview)} if getattr(tp, "claimreview", None) else {}),
    }


def pack_to_dict(pack: Pack) -> dict[str, Any]:
    """A JSON-ready dict of the pack's content (without ``origin``, which says where it was loaded from)."""
    return {
        "schema": SCHEMA_VERSION,
        "id": pack.id,
        "version": pack.version,
        "name": pack.name,
        "description": pack.description,
        "languages": list(pack.languages),
        "talking_points": [_tp_to_dict(tp) for tp in pack.talking_points],
        **({"claimreview": _plain(pack.claimreview)} if pack.claimreview else {}),
        **({"background": list(pack.background)} if pack.background else {}),
    }


# ------------------------------------------------------------------------------------------- registry


def _search_norm(text: str) -> str:
    return " ".join(text.casefold().replace("-", " ").replace("_", " ").split())


class PackRegistry:
    """The set of loaded packs. Talking-point ids are unique across all of them."""

    def __init__(self, packs: Iterable[Pack]):
        self._packs: tuple[Pack, ...] = tuple(packs)
        errors: list[str] = []
        by_pack: dict[str, Pack] = {}
        self._tp: dict[str, TalkingPoint] = {}
        self._pack_of: dict[str, Pack] = {}
        for pack in self._packs:
            if pack.id in by_pack:
                errors.append(f"{pack.origin or pack.id}: id: pack '{pack.id}' is loaded twice "
                              f"(also from {by_pack[pack.id].origin or '?'})")
                continue
            by_pack[pack.id] = pack
            for tp in pack.talking_points:
                if tp.id in self._tp:
                    other = self._pack_of[tp.id]
                    errors.append(
                        f"{_tp_origin(pack, tp)}: talking point '{tp.id}': id: duplicate talking point id; "
                        f"pack '{other.id}' already defines it ({_tp_origin(other, tp)})"
                    )
                    continue
                self._tp[tp.id] = tp
                self._pack_of[tp.id] = pack
        if errors:
            raise PackError(errors)
        self._by_pack = by_pack
        # search haystacks: (id, en title, claim, other titles) normalised once
        self._haystacks: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
            tp.id: (
                _search_norm(tp.id),
                _search_norm(tp.cards["en"].title) if "en" in tp.cards else "",
                _search_norm(tp.claim),
                tuple(_search_norm(c.title) for lang, c in tp.cards.items() if lang != "en"),
            )
            for tp in self._tp.values()
        }

    @classmethod
    def load(cls, paths: Iterable[Path | str] | None = None) -> "PackRegistry":
        """Load packs from ``paths`` (default: the packs shipped in ``bot/packs``)."""
        return cls(load_packs(default_pack_dirs() if paths is None else paths))

    @property
    def packs(self) -> tuple[Pack, ...]:
        return self._packs

    def pack(self, pack_id: str) -> Pack | None:
        return self._by_pack.get(pack_id)

    def talking_points(self, enabled_packs: Collection[str] | None = None) -> list[TalkingPoint]:
        """All talking points in load order, or only those of ``enabled_packs`` (pack ids; unknown ids ignored)."""
        return [
            tp for pack in self._packs if enabled_packs is None or pack.id in enabled_packs
            for tp in pack.talking_points
        ]

    def get(self, tp_id: str) -> TalkingPoint | None:
        return self._tp.get(tp_id)

    def pack_of(self, tp_id: str) -> Pack | None:
        return self._pack_of.get(tp_id)

    def __contains__(self, tp_id: object) -> bool:
        return tp_id in self._tp

    def __len__(self) -> int:
        return len(self._tp)

    def search(self, query: str, limit: int = 25) -> list[TalkingPoint]:
        """Talking points matching ``query`` for autocomplete, best first.

        Case-insensitive over the id, the English title, the claim and the titles in other languages.
        Order: exact id, then prefix matches (id or any title), then word-prefix matches, then substrings,
        then matches where every word of the query occurs somewhere. An empty query lists everything.
        """
        if limit <= 0:
            return []
        q = _search_norm(query)
        if not q:
            return list(self._tp.values())[:limit]
        words = q.split()
        ranked: list[tuple[int, int, TalkingPoint]] = []
        for order, tp in enumerate(self._tp.values()):
            tp_id, en_title, claim, other_titles = self._haystacks[tp.id]
            titles = (en_title, *other_titles)
            fields = (tp_id, *titles, claim)
            if tp_id == q:
                tier = 0
            elif tp_id.startswith(q) or any(t.startswith(q) for t in titles):
                tier = 1
            elif claim.startswith(q) or any(f" {q}" in f" {f}" for f in fields):
                tier = 2
            elif any(q in f for f in fields):
                tier = 3
            elif all(any(w in f for f in fields) for w in words):
                tier = 4
            else:
                continue
            ranked.append((tier, order, tp))
        ranked.sort(key=lambda item: (item[0], item[1]))
        return [tp for _, _, tp in ranked[:limit]]

    def fingerprint(self) -> str:
        """sha256 (hex) over a canonical JSON of all loaded packs' content; changes whenever any pack changes.

        Independent of where the packs were loaded from and of the order they were given in.
        """
        payload = [pack_to_dict(p) for p in sorted(self._packs, key=lambda p: p.id)]
        canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _tp_origin(pack: Pack, tp: TalkingPoint) -> str:
    """Best guess at the file a talking point came from (for duplicate-id messages)."""
    if not pack.origin:
        return f"pack '{pack.id}'"
    origin = Path(pack.origin)
    if origin.is_dir():
        for suffix in (".yaml", ".yml"):
            candidate = origin / "talking_points" / f"{tp.id}{suffix}"
            if candidate.exists():
                return _display(candidate)
    return _display(origin)


# ------------------------------------------------------------------------------------------- warnings


def _as_date(text: str) -> dt.date:
    """The last day an ISO date, month or year covers ("2022-01" -> 2022-01-31): a figure "as of January 2022"
    is not older than the end of January."""
    parts = [int(p) for p in text.split("-")]
    if len(parts) == 3:
        return dt.date(*parts)
    if len(parts) == 2:
        year, month = parts
        following = dt.date(year + (month == 12), month % 12 + 1, 1)
        return following - dt.timedelta(days=1)
    return dt.date(parts[0], 12, 31)


def pack_warnings(packs: Iterable[Pack], *, today: dt.date, max_age_days: int = DEFAULT_MAX_FACT_AGE_DAYS) -> list[str]:
    """What a pack author should look at although the packs load: key facts whose "as of" date is more than
    ``max_age_days`` before ``today`` (each fact once, for all its languages) and talking points that never say
    when they were last reviewed. One self-contained line each, like :class:`PackError`'s."""
    warnings: list[str] = []
    for pack in packs:
        for tp in pack.talking_points:
            where = f"{_tp_origin(pack, tp)}: talking point '{tp.id}'"
            if not tp.reviewed:
                warnings.append(f"{where}: reviewed: no review date (add reviewed: YYYY-MM-DD after fact-checking "
                                "the cards)")
            stale: dict[tuple[int, str], list[str]] = {}
            for lang, card in tp.cards.items():
                for i, fact in enumerate(card.key_facts):
                    if fact.as_of and (today - _as_date(fact.as_of)).days > max_age_days:
                        stale.setdefault((i, fact.as_of), []).append(lang)
            for (i, as_of), langs in sorted(stale.items()):
                age = (today - _as_date(as_of)).days
                warnings.append(f"{where}: cards.{'/'.join(langs)}.key_facts[{i}].as_of: {as_of} is {age} days old "
                                f"(max {max_age_days}); check the figure and update it or its date")
    return warnings
