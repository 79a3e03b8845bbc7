"""Export packs as schema.org ClaimReview JSON-LD, and import ClaimReview items as a draft pack.

Export (:func:`pack_to_claimreview`) gives one ``ClaimReview`` per talking point: the claim, the rating
(``rating`` in the pack, default "Misleading"), the English card as name/reviewBody, the first source as ``url``
and all sources as ``citation``.

Import (:func:`claimreview_to_talking_points`, :func:`write_imported_pack`) turns ClaimReview items (e.g. from
a fact-checker's page or our own export) into talking points in pack-YAML form: the claim, a draft card in one
language from the review's text, and the sources. ClaimReview carries no labelled example messages, so an imported
talking point is a *draft* (``draft:`` key, empty ``exemplars``) that the loader refuses until a pack author has
completed it - see docs/pack-format.md, "Importing ClaimReview".
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from .models import Pack, TalkingPoint
from .packs import (
    MAX_CLAIM,
    MAX_ID,
    MAX_KEY_FACT,
    MAX_SUMMARY,
    MAX_TITLE,
    RATINGS,
    SCHEMA_VERSION,
    rating_of,
)

__all__ = [
    "pack_to_claimreview",
    "extract_claimreviews",
    "claimreview_to_talking_points",
    "write_imported_pack",
    "DRAFT_NOTE",
]

SCHEMA_ORG = "https://schema.org"
DRAFT_NOTE = (
    "Imported from ClaimReview. Complete before use: write exemplars (>= 8 assert across >= 3 languages, "
    ">= 4 refute, >= 2 report), cards in every pack language with 2-4 key facts, check the sources, "
    "then delete this 'draft' key."
)

_DATE_FORMATS = ("%Y-%m-%d", "%d %b %Y", "%d %B %Y", "%b %d, %Y", "%B %d, %Y", "%d.%m.%Y", "%Y-%m", "%b %Y", "%B %Y")


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


def talking_point_to_claimreview(
    tp: TalkingPoint,
    *,
    publisher_name: str,
    publisher_url: str | None = None,
    date_published: str | None = None,
) -> dict[str, Any]:
    """One schema.org ClaimReview (JSON-LD dict) for ``tp``."""
    card = tp.cards["en"]
    author: dict[str, Any] = {"@type": "Organization", "name": publisher_name}
    if publisher_url:
        author["url"] = publisher_url
    review: dict[str, Any] = {
        "@context": SCHEMA_ORG,
        "@type": "ClaimReview",
        "identifier": tp.id,
        "url": next((s.url for s in tp.sources if s.url), None),
        "claimReviewed": tp.claim,
        "name": card.title,
        "reviewBody": card.summary,
        "inLanguage": "en",
        "itemReviewed": {"@type": "Claim", "name": tp.claim},
        "reviewRating": {"@type": "Rating", "alternateName": rating_of(tp)},
        "author": author,
        "citation": [_citation(s) for s in tp.sources],
    }
    if tp.keywords:
        review["keywords"] = ", ".join(tp.keywords)
    if date_published:
        review["datePublished"] = date_published
    if review["url"] is None:
        del review["url"]
    return review


def pack_to_claimreview(
    pack: Pack,
    *,
    publisher_name: str | None = None,
    publisher_url: str | None = None,
    date_published: str | None = None,
) -> list[dict[str, Any]]:
    """One ClaimReview per talking point of ``pack``, in pack order.

    ``publisher_name`` defaults to "contextbot pack <id>"; ``date_published`` (ISO 8601) is added when given,
    since a pack does not record when each talking point was written.
    """
    name = publisher_name or f"contextbot pack {pack.id}"
    return [
        talking_point_to_claimreview(tp, publisher_name=name, publisher_url=publisher_url, date_published=date_published)
        for tp in pack.talking_points
    ]


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


def claimreview_to_talking_points(items: Iterable[Mapping[str, Any]], *, lang: str = "en") -> list[dict[str, Any]]:
    """Talking points in pack-YAML form (plain dicts) from ClaimReview items.

    Each gets: ``id`` (the review's ``identifier`` when it is a slug, else a slug of the claim; made unique),
    ``draft`` (see :data:`DRAFT_NOTE`), ``claim``, ``rating`` when the review's rating is one the pack format
    knows, a draft card in ``lang`` from the review's text fields, ``sources`` from ``url`` + ``citation`` (the
    review's own page first, duplicates dropped) and empty ``exemplars`` for the pack author to fill in.
    ``items`` may also be whole JSON-LD documents (``@graph``, nested objects): every ClaimReview found in them
    is imported and other objects are skipped. Raises ``ValueError`` when there is no ClaimReview at all or one
    has no ``claimReviewed``.
    """
    reviews = extract_claimreviews(list(items))
    if not reviews:
        raise ValueError("no schema.org ClaimReview items found")
    known_ratings = {r.casefold(): r for r in RATINGS}
    used: set[str] = set()
    out: list[dict[str, Any]] = []
    for index, item in enumerate(reviews):
        claim = _str(item.get("claimReviewed")) or _str(item.get("itemReviewed"))
        if not claim:
            raise ValueError(f"item {index}: ClaimReview without claimReviewed")

        identifier = _str(item.get("identifier"))
        base = identifier if _SLUG.match(identifier) and len(identifier) <= MAX_ID else slugify(claim)
        base = base or f"claim-{index + 1}"
        tp_id, n = base, 2
        while tp_id in used:
            tp_id, n = f"{base}-{n}", n + 1
        used.add(tp_id)

        reviewer = _str(item.get("author")) or _str(item.get("publisher"))
        rating = _rating(item)
        title = _str(item.get("name")) or _str(item.get("headline")) or claim
        body = _str(item.get("reviewBody")) or _str(item.get("description")) or _str(item.get("text"))
        facts: list[str] = []
        if rating:
            facts.append(_shorten(f"{reviewer or 'The fact-checker'} rated this claim: {rating}.", MAX_KEY_FACT))
        review_rating = item.get("reviewRating")
        if isinstance(review_rating, Mapping) and (explanation := _str(review_rating.get("ratingExplanation"))):
            facts.append(_shorten(explanation, MAX_KEY_FACT))
        card = {
            "title": _shorten(title, MAX_TITLE),
            "summary": _shorten(body, MAX_SUMMARY),
            "key_facts": facts,
            "why_it_matters": "",
        }

        sources: list[dict[str, str]] = []
        seen: dict[str, int] = {}

        def add(source: dict[str, str] | None) -> None:
            if source is None:
                return
            if source["url"] in seen:  # keep the first position, fill in what it lacked
                existing = sources[seen[source["url"]]]
                for key in ("publisher", "title"):
                    if not existing[key]:
                        existing[key] = source[key]
                if existing["date"] == "not shown":
                    existing["date"] = source["date"]
                return
            seen[source["url"]] = len(sources)
            sources.append(source)

        citations = item.get("citation") or []
        if not isinstance(citations, list):
            citations = [citations]
        by_url = {_url(c): c for c in citations if _url(c)}
        review_url = _url(item.get("url"))
        if review_url:
            # the review page itself first; when it is also cited, the citation's metadata wins and the
            # review's own (author, name, date) fills what the citation lacks
            if review_url in by_url:
                add(_source_from(by_url[review_url]))
            add(_source_from({"url": review_url, "name": title, "datePublished": item.get("datePublished")},
                             fallback_publisher=reviewer))
        for citation in citations:
            add(_source_from(citation))

        tp: dict[str, Any] = {"id": tp_id, "draft": DRAFT_NOTE, "claim": _shorten(claim, MAX_CLAIM)}
        if rating and rating.casefold() in known_ratings:
            tp["rating"] = known_ratings[rating.casefold()]
        keywords = item.get("keywords")
        if isinstance(keywords, str) and keywords.strip():
            tp["keywords"] = [k.strip() for k in keywords.split(",") if k.strip()]
        elif isinstance(keywords, list):
            tp["keywords"] = [_str(k) for k in keywords if _str(k)]
        tp["cards"] = {lang: card}
        tp["sources"] = sources
        tp["exemplars"] = {"assert": [], "refute": [], "report": []}
        out.append(tp)
    return out


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
    version: str = "draft",
    lang: str = "en",
    overwrite: bool = False,
) -> Path:
    """Write ClaimReview ``items`` as a draft pack directory ``out_dir`` (pack.yaml + talking_points/<id>.yaml).

    The result does not load until a pack author completes every talking point (the loader says so).
    Refuses to write into a non-empty directory unless ``overwrite``. Returns ``out_dir``.
    """
    if not _SLUG.match(pack_id):
        raise ValueError(f"pack id {pack_id!r} is not a slug ([a-z0-9-])")
    out = Path(out_dir)
    talking_points = claimreview_to_talking_points(items, lang=lang)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out} is not empty (pass overwrite=True to write into it)")
    tp_dir = out / "talking_points"
    tp_dir.mkdir(parents=True, exist_ok=True)
    languages = ["en"] + ([lang] if lang != "en" else [])
    meta = {
        "schema": SCHEMA_VERSION,
        "id": pack_id,
        "version": version,
        "name": name or f"Imported pack {pack_id}",
        "description": description,
        "languages": languages,
    }
    header = (
        "# DRAFT pack imported from ClaimReview. It will not load until a pack author completes every talking\n"
        "# point (see the 'draft' key in each file and docs/pack-format.md, 'Importing ClaimReview').\n"
    )
    (out / "pack.yaml").write_text(header + _dump(meta), encoding="utf-8")
    for tp in talking_points:
        (tp_dir / f"{tp['id']}.yaml").write_text(header + _dump(tp), encoding="utf-8")
    return out
