"""Export packs as schema.org ClaimReview JSON-LD, and import ClaimReview items as a draft pack.

Export (:func:`pack_to_claimreview`) gives one ``ClaimReview`` per talking point and card language: the claim,
the rating (``rating`` in the pack, default "Misleading"), the card (title as ``name``, summary as
``reviewBody``, key facts as ``negativeNotes``, why it matters as a ``hasPart`` with identifier
``why-it-matters``), the sources as ``citation``, and what the pack's optional ``claimreview:`` mappings say:
the publisher (``author``: name, url, logo), the fact-check page (``url``, from the pack's pattern such as
``https://factcheck.example.org/{lang}/{id}`` or the talking point's own), ``datePublished`` and the claim's
``itemReviewed`` (author, date, first appearance and appearances). :func:`export_problems` names what Google's
fact-check markup needs that a pack does not say.

Import (:func:`claimreview_to_talking_points`, :func:`write_imported_pack`) turns ClaimReview items (e.g. from
a fact-checker's page or our own export) back into talking points in pack-YAML form: reviews of the same
``identifier`` in several languages become one talking point with a card per language, and everything above is
read back, so export -> import -> export gives the same items. ClaimReview carries no labelled example messages,
so an imported talking point is a *draft* (``draft:`` key, empty ``exemplars``) and the pack's version is
``draft``: the loader refuses both until a pack author has completed them - see docs/pack-format.md,
"Importing ClaimReview".
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from .models import Pack, TalkingPoint
from .packs import (
    ISO_639_1,
    MAX_CLAIM,
    MAX_ID,
    MAX_KEY_FACT,
    MAX_SUMMARY,
    MAX_TITLE,
    MAX_WHY,
    RATINGS,
    SCHEMA_VERSION,
    rating_of,
)

__all__ = [
    "pack_to_claimreview",
    "export_problems",
    "extract_claimreviews",
    "claimreview_to_talking_points",
    "read_claimreview_file",
    "write_imported_pack",
    "ImportProblem",
    "DRAFT_NOTE",
    "WHY_IT_MATTERS",
]

SCHEMA_ORG = "https://schema.org"
WHY_IT_MATTERS = "why-it-matters"  # identifier of the hasPart that carries a card's why-it-matters text
DRAFT_NOTE = (
    "Imported from ClaimReview. Complete before use: write exemplars (>= 8 assert across >= 3 languages, "
    ">= 4 refute, >= 2 report), cards in every pack language with 2-4 key facts, check the sources, "
    "then delete this 'draft' key."
)

_DATE_FORMATS = ("%Y-%m-%d", "%d %b %Y", "%d %B %Y", "%b %d, %Y", "%B %d, %Y", "%d.%m.%Y", "%Y-%m", "%b %Y", "%B %Y")


class ImportProblem(ValueError):
    """ClaimReview input that cannot be imported; the message says what to fix."""


def _iso_date(text: str) -> str | None:
    """An ISO 8601 date for free-text source dates we can read ("12 Dec 2017" -> "2017-12-12"), else None."""
    text = text.strip()
    if re.fullmatch(r"\d{4}", text):
        return text
    for fmt in _DATE_FORMATS:
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return parsed.strftime("%Y-%m") if fmt in ("%Y-%m", "%b %Y", "%B %Y") else parsed.strftime("%Y-%m-%d")
    return None


# ------------------------------------------------------------------------------------------------ export


def _citation(source: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "@type": "CreativeWork",
        "name": source.title,
        "publisher": {"@type": "Organization", "name": source.publisher},
    }
    if source.url:  # a source named without a confirmed URL has none
        item["url"] = source.url
    if (iso := _iso_date(source.date)) is not None:
        item["datePublished"] = iso
    return item


def _source_ref(n: int) -> str:
    """The identifier of a talking point's n-th source in its review's ``citation`` list."""
    return f"source-{n}"


def _fact_item(n: int, fact: Any) -> dict[str, Any]:
    """A key fact as a ListItem; the sources it cites (and its as-of date) ride on its ``item``."""
    item: dict[str, Any] = {"@type": "CreativeWork", "text": fact.text,
                            "citation": [{"@type": "CreativeWork", "identifier": _source_ref(i)} for i in fact.sources]}
    if fact.as_of:
        item["temporalCoverage"] = fact.as_of
    return {"@type": "ListItem", "position": n, "name": fact.text, "item": item}


def _meta(obj: Any) -> Mapping[str, Any]:
    return getattr(obj, "claimreview", None) or {}


def review_url(pack: Pack | None, tp: TalkingPoint, lang: str) -> str | None:
    """The fact-check page for ``tp`` in ``lang``: the talking point's own ``claimreview.url`` (one URL, a URL
    with {lang}, or one per language), else the pack's pattern; None when neither says."""
    own = _meta(tp).get("url")
    if isinstance(own, Mapping):
        return own.get(lang)
    if isinstance(own, str):
        return own.replace("{lang}", lang)
    pattern = _meta(pack).get("url") if pack is not None else None
    if pattern:
        return pattern.replace("{id}", tp.id).replace("{lang}", lang)
    return None


def _author(publisher: Mapping[str, Any]) -> dict[str, Any]:
    author: dict[str, Any] = {"@type": "Organization", "name": publisher["name"]}
    if publisher.get("url"):
        author["url"] = publisher["url"]
    if publisher.get("logo"):
        author["logo"] = {"@type": "ImageObject", "url": publisher["logo"]}
    return author


def _item_reviewed(tp: TalkingPoint) -> dict[str, Any]:
    claim: dict[str, Any] = {"@type": "Claim"}
    known = _meta(tp).get("item_reviewed") or {}
    if known.get("author"):
        claim["author"] = {"@type": known.get("author_type") or "Organization", "name": known["author"]}
    if known.get("date"):
        claim["datePublished"] = known["date"]
    if known.get("first_appearance"):
        claim["firstAppearance"] = {"@type": "CreativeWork", "url": known["first_appearance"]}
    if known.get("appearances"):
        claim["appearance"] = [{"@type": "CreativeWork", "url": url} for url in known["appearances"]]
    return claim


def talking_point_to_claimreview(tp: TalkingPoint, lang: str = "en", *, pack: Pack | None = None,
                                 date_published: str | None = None) -> dict[str, Any]:
    """One schema.org ClaimReview (JSON-LD dict) for ``tp``'s card in ``lang``."""
    card = tp.cards[lang]
    review: dict[str, Any] = {"@context": SCHEMA_ORG, "@type": "ClaimReview", "identifier": tp.id}
    if url := review_url(pack, tp, lang):
        review["url"] = url
    review["claimReviewed"] = tp.claim
    review["inLanguage"] = lang
    review["name"] = card.title
    review["reviewBody"] = card.summary
    if card.key_facts:
        review["negativeNotes"] = {
            "@type": "ItemList",
            "itemListElement": [_fact_item(n, fact) for n, fact in enumerate(card.key_facts, 1)],
        }
    if card.why_it_matters:
        review["hasPart"] = [{"@type": "CreativeWork", "identifier": WHY_IT_MATTERS, "text": card.why_it_matters}]
    review["itemReviewed"] = _item_reviewed(tp)
    review["reviewRating"] = {"@type": "Rating", "alternateName": rating_of(tp)}
    if publisher := _meta(pack).get("publisher"):
        review["author"] = _author(publisher)
    if date := _meta(tp).get("date_published") or _meta(pack).get("date_published") or date_published:
        review["datePublished"] = date
    if tp.keywords:
        review["keywords"] = ", ".join(tp.keywords)
    review["citation"] = [{**_citation(s), "identifier": _source_ref(n)} for n, s in enumerate(tp.sources, 1)]
    return review


def pack_to_claimreview(pack: Pack, *, date_published: str | None = None) -> list[dict[str, Any]]:
    """One ClaimReview per talking point and card language of ``pack``, in pack order (English first).

    ``date_published`` (ISO 8601) is used for talking points whose pack says no date.
    """
    return [
        talking_point_to_claimreview(tp, lang, pack=pack, date_published=date_published)
        for tp in pack.talking_points
        for lang in tp.cards
    ]


def export_problems(pack: Pack) -> list[str]:
    """What the ClaimReview export of ``pack`` lacks for Google's fact-check markup (``url`` on the publisher's
    own site is required; ``author`` and ``datePublished`` are expected), one line each."""
    problems: list[str] = []
    meta = _meta(pack)
    no_url = [tp.id for tp in pack.talking_points for lang in tp.cards if review_url(pack, tp, lang) is None]
    if no_url:
        problems.append(
            f"pack '{pack.id}': {len(no_url)} review(s) have no 'url' (required: the fact-check page on your own "
            f"site); set claimreview.url in pack.yaml, e.g. https://factcheck.example.org/{{lang}}/{{id}}")
    if not meta.get("publisher"):
        problems.append(f"pack '{pack.id}': no 'author'; set claimreview.publisher (name, url, logo) in pack.yaml")
    if not meta.get("date_published") and any(not _meta(tp).get("date_published") for tp in pack.talking_points):
        problems.append(f"pack '{pack.id}': reviews without 'datePublished'; set claimreview.date_published in "
                        "pack.yaml or in the talking points")
    return problems


# ------------------------------------------------------------------------------------------------ import


def _types(item: Mapping[str, Any]) -> set[str]:
    raw = item.get("@type")
    values = raw if isinstance(raw, list) else [raw]
    return {str(v).rsplit("/", 1)[-1].rsplit(":", 1)[-1] for v in values if v}


def extract_claimreviews(data: Any) -> list[dict[str, Any]]:
    """Every ClaimReview object in a JSON-LD document (a dict, a list, ``@graph`` containers, nested values)."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for child in node:
                walk(child)
        elif isinstance(node, Mapping):
            if "ClaimReview" in _types(node):
                found.append(dict(node))
                return
            for value in node.values():
                walk(value)

    walk(data)
    return found


def _str(value: Any) -> str:
    """Text of a JSON-LD value: strings as such, ``{"@value": ...}``, the first of a list, names of things."""
    if value is None:
        return ""
    if isinstance(value, str):
        return " ".join(value.split())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list):
        for item in value:
            if text := _str(item):
                return text
        return ""
    if isinstance(value, Mapping):
        for key in ("@value", "name", "headline", "alternateName"):
            if text := _str(value.get(key)):
                return text
    return ""


def _url(value: Any) -> str:
    if isinstance(value, Mapping):
        value = value.get("url") or value.get("@id")
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str)), "")
    return value.strip() if isinstance(value, str) else ""


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:.") + "…"


def slugify(text: str, max_len: int = 60) -> str:
    """ASCII slug for a talking-point id ("NATO's expansion forced Russia" -> "natos-expansion-forced-russia")."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    ascii_text = re.sub(r"['’`]", "", ascii_text)
    words = re.findall(r"[a-z0-9]+", ascii_text)
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > max_len:
            break
        slug = candidate
    return slug or (words[0][:max_len] if words else "")


_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def _date(value: Any) -> str:
    text = _str(value)
    return text[:10] if re.match(r"\d{4}-\d{2}-\d{2}T", text) else text


def _source_from(work: Any, *, fallback_publisher: str = "", fallback_title: str = "") -> dict[str, str] | None:
    url = _url(work)
    if not url:
        return None
    if isinstance(work, Mapping):
        publisher = _str(work.get("publisher")) or _str(work.get("author")) or fallback_publisher
        title = _str(work.get("name")) or _str(work.get("headline")) or fallback_title
        date = _date(work.get("datePublished")) or _date(work.get("dateCreated"))
    else:
        publisher, title, date = fallback_publisher, fallback_title, ""
    return {"publisher": publisher, "title": title, "url": url, "date": date or "not shown"}


def _rating(item: Mapping[str, Any]) -> str:
    rating = item.get("reviewRating")
    if isinstance(rating, list):
        rating = rating[0] if rating else None
    if isinstance(rating, Mapping):
        return _str(rating.get("alternateName")) or _str(rating.get("name"))
    return _str(rating)


#: ratings of other fact-checkers' scales -> the pack format's (RATINGS); anything else is left for a person
RATING_SYNONYMS = {
    "pants on fire": "False", "pants on fire!": "False", "incorrect": "False", "fake": "False", "wrong": "False",
    "false claim": "False", "mostly incorrect": "Mostly false", "half true": "Missing context",
    "half-true": "Missing context", "partly false": "Missing context", "partially false": "Missing context",
    "needs context": "Missing context", "lacks context": "Missing context", "out of context": "Missing context",
    "unproven": "Unsupported", "unsubstantiated": "Unsupported", "no evidence": "Unsupported",
    "unverified": "Unsupported",
}


def _lang_of(item: Mapping[str, Any], default: str) -> str:
    raw = _str(item.get("inLanguage")).lower()
    code = raw.split("-")[0].split("_")[0]
    return code if code in ISO_639_1 else default


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _key_facts(item: Mapping[str, Any], source_numbers: Mapping[str, int] | None = None) -> list[Any]:
    """``negativeNotes`` (an ItemList, ListItems or texts) in order, else the rating's explanation. A fact whose
    ListItem names the sources it cites (as our export writes them) comes back as ``{text, sources, as_of}``, with
    the sources numbered as in the imported pack (``source_numbers``: citation identifier -> number)."""
    notes = item.get("negativeNotes")
    if isinstance(notes, Mapping) and "itemListElement" in notes:
        notes = notes["itemListElement"]
    entries = _list(notes)
    if entries:
        def position(entry: Any) -> float:
            pos = entry.get("position") if isinstance(entry, Mapping) else None
            return float(pos) if isinstance(pos, (int, float)) and not isinstance(pos, bool) else float("inf")

        ordered = sorted(enumerate(entries), key=lambda pair: (position(pair[1]), pair[0]))
        return [_fact_of(entry, text, source_numbers or {}) for _, entry in ordered if (text := _str(entry))]
    rating = item.get("reviewRating")
    rating = rating[0] if isinstance(rating, list) and rating else rating
    if isinstance(rating, Mapping) and (explanation := _str(rating.get("ratingExplanation"))):
        return [_shorten(explanation, MAX_KEY_FACT)]
    return []


def _fact_of(entry: Any, text: str, source_numbers: Mapping[str, int]) -> Any:
    inner = entry.get("item") if isinstance(entry, Mapping) else None
    cited = [source_numbers.get(_str(c.get("identifier"))) for c in _list(inner.get("citation"))
             if isinstance(c, Mapping)] if isinstance(inner, Mapping) else []
    if not cited or None in cited:  # sources unknown: a plain draft the author completes
        return _shorten(text, MAX_KEY_FACT)
    fact: dict[str, Any] = {"text": _shorten(text, MAX_KEY_FACT), "sources": cited}
    if as_of := _str(inner.get("temporalCoverage")):
        fact["as_of"] = as_of
    return fact


def _why_it_matters(item: Mapping[str, Any]) -> str:
    for part in _list(item.get("hasPart")):
        if isinstance(part, Mapping) and _str(part.get("identifier")) == WHY_IT_MATTERS:
            return _shorten(_str(part.get("text")), MAX_WHY)
    return ""


def _claim_metadata(item: Mapping[str, Any]) -> dict[str, Any]:
    """``itemReviewed`` (the claim: who made it, when, where it appeared) in the pack's ``item_reviewed`` form."""
    claim = item.get("itemReviewed")
    claim = claim[0] if isinstance(claim, list) and claim else claim
    if not isinstance(claim, Mapping):
        return {}
    out: dict[str, Any] = {}
    author = claim.get("author")
    author = author[0] if isinstance(author, list) and author else author
    if name := _str(author):
        out["author"] = name
        kinds = _types(author) if isinstance(author, Mapping) else set()
        out["author_type"] = "Person" if "Person" in kinds else "Organization"
    if date := _date(claim.get("datePublished")):
        out["date"] = date
    if first := _url(claim.get("firstAppearance")):
        out["first_appearance"] = first
    appearances = [u for a in _list(claim.get("appearance")) if (u := _url(a))]
    if appearances:
        out["appearances"] = appearances
    return out


def _publisher(item: Mapping[str, Any]) -> dict[str, str]:
    author = item.get("author") or item.get("publisher")
    author = author[0] if isinstance(author, list) and author else author
    out = {"name": _str(author)} if _str(author) else {}
    if isinstance(author, Mapping):
        if url := _url(author.get("url")):
            out["url"] = url
        if logo := _url(author.get("logo")):
            out["logo"] = logo
    return out


def _describe(item: Mapping[str, Any], index: int) -> str:
    hint = _url(item.get("url")) or _str(item.get("name")) or _str(item.get("identifier"))
    return f"ClaimReview #{index + 1}" + (f" ({hint})" if hint else "")


def _rating_for_pack(item: Mapping[str, Any], where: str, notes: list[str]) -> str | None:
    rating = _rating(item)
    if not rating:
        return None
    known = {r.casefold(): r for r in RATINGS}
    key = rating.casefold().strip()
    if key in known:
        return known[key]
    if key in RATING_SYNONYMS:
        notes.append(f"{where}: rating {rating!r} imported as {RATING_SYNONYMS[key]!r}")
        return RATING_SYNONYMS[key]
    notes.append(f"{where}: rating {rating!r} is not one of the pack format's ({', '.join(RATINGS)}); "
                 "it is kept in the draft for you to replace")
    return rating


def claimreview_to_talking_points(items: Iterable[Mapping[str, Any]], *, lang: str | None = None,
                                  notes: list[str] | None = None) -> list[dict[str, Any]]:
    """Talking points in pack-YAML form (plain dicts) from ClaimReview items.

    Reviews sharing an ``identifier`` (a slug) are one talking point with a card per ``inLanguage`` (``lang``,
    default "en", for reviews that do not say). Each talking point gets: ``id`` (the identifier, else a slug of
    the claim; made unique), ``draft`` (see :data:`DRAFT_NOTE`), ``claim``, ``rating`` (other fact-checkers'
    ratings mapped where the meaning is clear, else kept for a person to replace), ``keywords``, the cards,
    ``sources`` from ``citation`` (the review's own page when it cites nothing), empty ``exemplars`` and
    ``claimreview`` (the review's url and date, and ``item_reviewed``). Reviews without ``claimReviewed`` are
    skipped with a note. ``items`` may also be whole JSON-LD documents (``@graph``, nested objects).
    Appends what a person should know to ``notes``. Raises :class:`ImportProblem` when nothing is importable.
    """
    notes = notes if notes is not None else []
    default_lang = lang or "en"
    reviews = extract_claimreviews(list(items))
    if not reviews:
        raise ImportProblem("no schema.org ClaimReview items found (expected objects with \"@type\": \"ClaimReview\")")
    groups: list[tuple[str | None, list[tuple[int, dict[str, Any]]]]] = []
    by_identifier: dict[str, int] = {}
    skipped: list[str] = []
    for index, item in enumerate(reviews):
        where = _describe(item, index)
        if not (_str(item.get("claimReviewed")) or _str(item.get("itemReviewed"))):
            skipped.append(f"{where}: no claimReviewed (the claim being checked); skipped")
            continue
        identifier = _str(item.get("identifier"))
        identifier = identifier if _SLUG.match(identifier) and len(identifier) <= MAX_ID else ""
        item_lang = _lang_of(item, default_lang)
        at = by_identifier.get(identifier) if identifier else None
        if at is not None and all(_lang_of(other, default_lang) != item_lang for _, other in groups[at][1]):
            groups[at][1].append((index, item))
            continue
        if identifier and at is None:
            by_identifier[identifier] = len(groups)
        groups.append((identifier or None, [(index, item)]))
    notes.extend(skipped)
    if not groups:
        raise ImportProblem("no importable ClaimReview: every one lacks claimReviewed (" + "; ".join(skipped) + ")"
                            if skipped else "no schema.org ClaimReview items found")

    used: set[str] = set()
    out: list[dict[str, Any]] = []
    for identifier, members in groups:
        members.sort(key=lambda m: (_lang_of(m[1], default_lang) != "en", m[0]))  # English first
        first_index, first = members[0]
        where = _describe(first, first_index)
        claim = _str(first.get("claimReviewed")) or _str(first.get("itemReviewed"))
        base = identifier or slugify(claim) or f"claim-{first_index + 1}"
        tp_id, n = base, 2
        while tp_id in used:
            tp_id, n = f"{base}-{n}", n + 1
        used.add(tp_id)

        sources: list[dict[str, str]] = []
        seen: set[str] = set()
        source_numbers: dict[str, int] = {}
        citations = _list(first.get("citation"))
        own_pages = {u for _, it in members if (u := _url(it.get("url")))}
        for citation in citations:
            source = _source_from(citation)
            if source is not None and source["url"] in own_pages and not source["publisher"]:
                source["publisher"] = _publisher(first).get("name", "")  # the fact-checker cites its own page
            if source is not None and source["url"] not in seen:
                seen.add(source["url"])
                sources.append(source)
            if source is not None and isinstance(citation, Mapping) and (ref := _str(citation.get("identifier"))):
                source_numbers[ref] = [s_["url"] for s_ in sources].index(source["url"]) + 1
        cards: dict[str, dict[str, Any]] = {}
        urls: dict[str, str] = {}
        for index, item in members:
            item_lang = _lang_of(item, default_lang)
            title = _str(item.get("name")) or _str(item.get("headline"))
            if not title:
                notes.append(f"{_describe(item, index)}: no name or headline; the card title is left for you to write")
            body = _str(item.get("reviewBody")) or _str(item.get("description")) or _str(item.get("text"))
            cards[item_lang] = {
                "title": _shorten(title, MAX_TITLE),
                "summary": _shorten(body, MAX_SUMMARY),
                "key_facts": _key_facts(item, source_numbers),
                "why_it_matters": _why_it_matters(item),
            }
            if url := _url(item.get("url")):
                urls[item_lang] = url

        if not sources and urls:  # a review that cites nothing: its own page is the source
            first_url = next(iter(urls.values()))
            sources.append(_source_from({"url": first_url, "name": cards[next(iter(urls))]["title"],
                                         "datePublished": first.get("datePublished")},
                                        fallback_publisher=_publisher(first).get("name", "")))

        tp: dict[str, Any] = {"id": tp_id, "draft": DRAFT_NOTE, "claim": _shorten(claim, MAX_CLAIM)}
        if rating := _rating_for_pack(first, where, notes):
            tp["rating"] = rating
        keywords = first.get("keywords")
        if isinstance(keywords, str) and keywords.strip():
            tp["keywords"] = [k.strip() for k in keywords.split(",") if k.strip()]
        elif isinstance(keywords, list):
            tp["keywords"] = [_str(k) for k in keywords if _str(k)]
        tp["cards"] = cards
        tp["sources"] = sources
        tp["exemplars"] = {"assert": [], "refute": [], "report": []}
        meta: dict[str, Any] = {}
        if urls:
            meta["url"] = _url_setting(urls)
        if date := _date(first.get("datePublished")):
            meta["date_published"] = date
        if claim_meta := _claim_metadata(first):
            meta["item_reviewed"] = claim_meta
        if meta:
            tp["claimreview"] = meta
        tp["_publisher"] = _publisher(first)  # for the pack's claimreview.publisher; removed when written
        out.append(tp)
    return out


def _url_setting(urls: Mapping[str, str]) -> str | dict[str, str]:
    """One URL when every language's review is the same page, a URL with {lang} when they differ only by the
    language code, else one URL per language."""
    values = set(urls.values())
    if len(values) == 1:
        return values.pop()
    templates = {re.sub(rf"(?<![A-Za-z0-9]){re.escape(lang)}(?![A-Za-z0-9])", "{lang}", url, count=1)
                 for lang, url in urls.items()}
    if len(templates) == 1 and all(t.replace("{lang}", lang) == urls[lang] for t in templates for lang in urls):
        return templates.pop()
    return dict(urls)


def read_claimreview_file(path: Path) -> list[Any]:
    """The JSON (a ClaimReview, a list of them, or JSON-LD documents) in ``path``; :class:`ImportProblem` when it
    cannot be read as such."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ImportProblem(f"{path}: {e.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ImportProblem(f"{path}: not UTF-8 (byte 0x{raw[e.start]:02x} at offset {e.start}); save it as UTF-8") from None
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ImportProblem(f"{path}: not JSON ({e})") from None
    return data if isinstance(data, list) else [data]


class _Dumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_presenter)


def _dump(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=110, default_flow_style=False)


def write_imported_pack(
    items: Iterable[Mapping[str, Any]],
    out_dir: Path | str,
    pack_id: str,
    *,
    name: str | None = None,
    description: str = "",
    lang: str | None = None,
    overwrite: bool = False,
    notes: list[str] | None = None,
) -> Path:
    """Write ClaimReview ``items`` as a draft pack directory ``out_dir`` (pack.yaml + talking_points/<id>.yaml).

    The pack's version is ``draft`` and every talking point carries ``draft:``: it does not load until a pack
    author completes it (the loader says so). The publisher named by every review becomes the pack's
    ``claimreview.publisher``. Refuses to write into a non-empty directory unless ``overwrite``
    (FileExistsError); :class:`ImportProblem` for a pack id that is not a slug or input without ClaimReview.
    What a person should know is appended to ``notes``. Returns ``out_dir``.
    """
    if not _SLUG.match(pack_id) or len(pack_id) > MAX_ID:
        suggestion = slugify(pack_id)
        raise ImportProblem(f"pack id {pack_id!r} is not a slug (lowercase letters, digits and '-')"
                            + (f"; try {suggestion!r}" if suggestion else ""))
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ImportProblem(f"{out} exists and is not a directory")
    talking_points = claimreview_to_talking_points(items, lang=lang, notes=notes)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out} is not empty (pass overwrite=True to write into it)")
    publishers = [tp.pop("_publisher") for tp in talking_points]
    tp_dir = out / "talking_points"
    tp_dir.mkdir(parents=True, exist_ok=True)
    languages = ["en"] + sorted({l for tp in talking_points for l in tp["cards"] if l != "en"})
    meta: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "id": pack_id,
        "version": "draft",
        "name": name or f"Imported pack {pack_id}",
        "description": description,
        "languages": languages,
    }
    distinct = {json.dumps(p, sort_keys=True) for p in publishers if p}
    if len(distinct) == 1 and all(publishers):
        meta["claimreview"] = {"publisher": publishers[0]}
    elif distinct and notes is not None:
        names = ", ".join(sorted({p["name"] for p in publishers if p}))
        notes.append(f"the reviews name different publishers or none ({names}); set claimreview.publisher in "
                     "pack.yaml to the one this pack is published by")
    header = (
        "# DRAFT pack imported from ClaimReview. It will not load until a pack author completes every talking\n"
        "# point (see the 'draft' key in each file and docs/pack-format.md, 'Importing ClaimReview') and gives\n"
        "# the pack a release version.\n"
    )
    (out / "pack.yaml").write_text(header + _dump(meta), encoding="utf-8")
    for tp in talking_points:
        (tp_dir / f"{tp['id']}.yaml").write_text(header + _dump(tp), encoding="utf-8")
    return out
