"""ClaimReview JSON-LD export and import (bot.core.claimreview)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from bot.core.claimreview import (
    ImportProblem,
    claimreview_to_talking_points,
    export_problems,
    extract_claimreviews,
    pack_to_claimreview,
    slugify,
    write_imported_pack,
)
from bot.core.packs import PackError, default_pack_dirs, load_pack, pack_to_dict, rating_of

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "packs"
VALID = FIXTURES / "valid"


@pytest.fixture(scope="module")
def pack():
    return load_pack(VALID)


def test_export_one_claimreview_per_talking_point_and_language(pack):
    items = pack_to_claimreview(pack)

    assert [(i["identifier"], i["inLanguage"]) for i in items] == [
        ("5g-spreads-covid", "en"), ("5g-spreads-covid", "ru"), ("5g-spreads-covid", "uk"),
        ("vitamin-c-cures-colds", "en"), ("vitamin-c-cures-colds", "ru"), ("vitamin-c-cures-colds", "uk"),
    ]
    first = items[0]
    tp = pack.talking_points[0]
    assert first["@context"] == "https://schema.org"
    assert first["@type"] == "ClaimReview"
    assert first["claimReviewed"] == "5G mobile networks spread the coronavirus."
    assert first["name"] == "Do 5G networks spread the coronavirus?"
    assert first["reviewBody"].startswith("Viruses cannot travel")
    assert [e["name"] for e in first["negativeNotes"]["itemListElement"]] == [f.text for f in tp.cards["en"].key_facts]
    assert [e["position"] for e in first["negativeNotes"]["itemListElement"]] == [1, 2]
    assert first["hasPart"] == [{"@type": "CreativeWork", "identifier": "why-it-matters",
                                 "text": tp.cards["en"].why_it_matters}]
    assert items[1]["name"] == tp.cards["ru"].title and items[1]["claimReviewed"] == tp.claim
    assert first["itemReviewed"] == {"@type": "Claim"}
    assert first["reviewRating"] == {"@type": "Rating", "alternateName": "False"}
    # a pack that says nothing about its publisher gets no made-up author, url or date
    assert not {"author", "url", "datePublished"} & set(first)
    assert first["citation"] == [
        {
            "@type": "CreativeWork",
            "name": "Mythbusters: 5G mobile networks do not spread COVID-19",
            "url": "https://example.org/health/mythbusters-5g",
            "publisher": {"@type": "Organization", "name": "Example Health Organisation"},
            "datePublished": "2020",
            "identifier": "source-1",  # what each key fact's citation refers to
        },
        {
            "@type": "CreativeWork",
            "name": "Phone masts set on fire after 5G coronavirus rumours",
            "url": "https://news.example.org/2020/04/masts-5g",
            "publisher": {"@type": "Organization", "name": "Example News"},
            "datePublished": "2020-04-05",  # "5 Apr 2020" read as ISO 8601
            "identifier": "source-2",
        },
    ]
    facts = first["negativeNotes"]["itemListElement"]
    assert [[c["identifier"] for c in f["item"]["citation"]] for f in facts] == [
        [f"source-{n}" for n in fact.sources] for fact in tp.cards["en"].key_facts]
    second = items[3]
    assert second["reviewRating"]["alternateName"] == "Misleading"  # default rating
    assert second["citation"][0]["datePublished"] == "2013-01-31"  # "31 Jan 2013"
    assert "datePublished" not in second["citation"][1]  # "not shown" is not a date
    json.dumps(items)  # plain JSON
    assert len(export_problems(pack)) == 3  # no url, no author, no date: each named


PUBLISHER = {"name": "Example Fact Check", "url": "https://factcheck.example.org",
             "logo": "https://factcheck.example.org/logo.png"}
CLAIM_ORIGIN = {"author": "A television host", "author_type": "Person", "date": "2020-04-02",
                "first_appearance": "https://video.example.net/watch/5g",
                "appearances": ["https://social.example.net/p/1", "https://social.example.net/p/2"]}


def published_pack(tmp_path: Path) -> Path:
    """The fixture pack as a fact-checker publishes it: publisher, page URLs and dates in the pack."""
    dest = tmp_path / "published"
    shutil.copytree(VALID, dest)
    meta = yaml.safe_load((dest / "pack.yaml").read_text(encoding="utf-8"))
    meta["claimreview"] = {"publisher": PUBLISHER, "url": "https://factcheck.example.org/{lang}/checks/{id}",
                           "date_published": "2026-01-05"}
    (dest / "pack.yaml").write_text(yaml.safe_dump(meta, allow_unicode=True, sort_keys=False), encoding="utf-8")
    tp_file = dest / "talking_points" / "5g-spreads-covid.yaml"
    tp = yaml.safe_load(tp_file.read_text(encoding="utf-8"))
    tp["claimreview"] = {"date_published": "2020-04-10", "item_reviewed": CLAIM_ORIGIN}
    tp_file.write_text(yaml.safe_dump(tp, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return dest


def test_export_uses_the_publisher_page_urls_and_dates_the_pack_sets(tmp_path):
    published = load_pack(published_pack(tmp_path))

    items = pack_to_claimreview(published)

    assert export_problems(published) == []
    assert {json.dumps(i["author"], sort_keys=True) for i in items} == {json.dumps(
        {"@type": "Organization", "name": "Example Fact Check", "url": "https://factcheck.example.org",
         "logo": {"@type": "ImageObject", "url": "https://factcheck.example.org/logo.png"}}, sort_keys=True)}
    assert items[0]["url"] == "https://factcheck.example.org/en/checks/5g-spreads-covid"
    assert items[1]["url"] == "https://factcheck.example.org/ru/checks/5g-spreads-covid"
    assert [i["datePublished"] for i in items] == ["2020-04-10"] * 3 + ["2026-01-05"] * 3  # own date, else pack's
    assert items[0]["itemReviewed"] == {
        "@type": "Claim",
        "author": {"@type": "Person", "name": "A television host"},
        "datePublished": "2020-04-02",
        "firstAppearance": {"@type": "CreativeWork", "url": "https://video.example.net/watch/5g"},
        "appearance": [{"@type": "CreativeWork", "url": "https://social.example.net/p/1"},
                       {"@type": "CreativeWork", "url": "https://social.example.net/p/2"}],
    }


def test_the_pack_loader_checks_the_claimreview_settings(tmp_path):
    dest = published_pack(tmp_path)
    meta = yaml.safe_load((dest / "pack.yaml").read_text(encoding="utf-8"))
    meta["claimreview"] = {"publisher": {"name": "X", "logo": "ftp://x.example.org/logo.png"}, "url": "https://x.example.org/checks",
                           "date_published": "5 Jan 2026", "colour": "red"}
    (dest / "pack.yaml").write_text(yaml.safe_dump(meta, allow_unicode=True), encoding="utf-8")

    with pytest.raises(PackError) as info:
        load_pack(dest)

    text = str(info.value)
    assert "claimreview.publisher.logo: 'ftp://x.example.org/logo.png' must use https://" in text
    assert "claimreview.url: 'https://x.example.org/checks' must contain {id}" in text
    assert "claimreview.date_published: '5 Jan 2026' is not an ISO 8601 date" in text
    assert "claimreview.colour: unknown key; allowed: date_published, publisher, url" in text


# Our own table of what the output may contain: schema.org's properties for each type used (including those the
# type inherits from Review, CreativeWork and Thing), and Google's documented requirements for fact-check markup
# (https://developers.google.com/search/docs/appearance/structured-data/factcheck): ClaimReview needs
# claimReviewed, reviewRating and url (a page on the publisher's own site); its Rating needs alternateName;
# author, datePublished and itemReviewed are recommended.
SCHEMA_ORG_PROPERTIES = {
    "ClaimReview": {"claimReviewed", "itemReviewed", "reviewRating", "reviewBody", "negativeNotes", "positiveNotes",
                    "author", "datePublished", "inLanguage", "keywords", "citation", "hasPart", "publisher",
                    "headline", "url", "name", "identifier", "description"},
    "Rating": {"alternateName", "ratingValue", "bestRating", "worstRating", "ratingExplanation", "name"},
    "Claim": {"author", "datePublished", "appearance", "firstAppearance", "name", "text"},
    "Organization": {"name", "url", "logo"},
    "Person": {"name", "url"},
    "CreativeWork": {"name", "url", "publisher", "datePublished", "identifier", "text", "citation", "temporalCoverage"},
    "ImageObject": {"url", "contentUrl"},
    "ItemList": {"itemListElement", "numberOfItems"},
    "ListItem": {"position", "name", "item"},
}
GOOGLE_REQUIRED = {"ClaimReview": {"claimReviewed", "reviewRating", "url"}, "Rating": {"alternateName"}}
GOOGLE_RECOMMENDED = {"ClaimReview": {"author", "datePublished", "itemReviewed"}}
ISO_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


def schema_problems(node, path="$") -> list[str]:
    problems: list[str] = []
    if isinstance(node, list):
        for n, child in enumerate(node):
            problems += schema_problems(child, f"{path}[{n}]")
        return problems
    if not isinstance(node, dict):
        return problems
    kind = node.get("@type")
    if kind not in SCHEMA_ORG_PROPERTIES:
        return [f"{path}: unknown @type {kind!r}"]
    for key, value in node.items():
        if key.startswith("@"):
            continue
        if key not in SCHEMA_ORG_PROPERTIES[kind]:
            problems.append(f"{path}.{key}: not a schema.org property of {kind}")
        if key in ("datePublished",) and not ISO_DATE.match(str(value)):
            problems.append(f"{path}.{key}: {value!r} is not ISO 8601")
        if key in ("url", "logo") and isinstance(value, str) and urlsplit(value).scheme not in ("https", "http"):
            problems.append(f"{path}.{key}: {value!r} is not an absolute URL")
        problems += schema_problems(value, f"{path}.{key}")
    for key in GOOGLE_REQUIRED.get(kind, ()):
        if not node.get(key):
            problems.append(f"{path}: Google requires {key}")
    return problems


def test_export_validates_against_schema_org_and_googles_required_fields(tmp_path):
    items = pack_to_claimreview(load_pack(published_pack(tmp_path)))

    assert all(schema_problems(item, f"item{n}") == [] for n, item in enumerate(items)), \
        [p for item in items for p in schema_problems(item)]
    for item in items:
        assert GOOGLE_RECOMMENDED["ClaimReview"] <= set(item)
        # the fact-check page is on the publisher's own site, not a third-party source
        assert urlsplit(item["url"]).hostname == urlsplit(item["author"]["url"]).hostname
        assert item["url"] not in {c["url"] for c in item["citation"]}
    # the table catches what it should: the old export's shape had no url and a placeholder author
    assert "$: Google requires url" in schema_problems({"@type": "ClaimReview", "claimReviewed": "x",
                                                          "reviewRating": {"@type": "Rating", "alternateName": "False"}})


def test_the_shipped_pack_exports_valid_schema_org():
    shipped = load_pack(default_pack_dirs()[0])

    problems = [p for item in pack_to_claimreview(shipped) for p in schema_problems(item)]

    assert all(p.endswith("Google requires url") for p in problems)  # only the page URL it cannot know


def complete_draft(draft: Path, originals: Path) -> None:
    """What a pack author does with an imported draft: write the exemplars, delete `draft`, set a version."""
    for path in (draft / "talking_points").iterdir():
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        original = yaml.safe_load((originals / "talking_points" / path.name).read_text(encoding="utf-8"))
        del data["draft"]
        data["exemplars"] = original["exemplars"]
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    meta = yaml.safe_load((draft / "pack.yaml").read_text(encoding="utf-8"))
    meta["version"] = "2026.2.0"
    (draft / "pack.yaml").write_text(yaml.safe_dump(meta, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_export_import_export_is_lossless(tmp_path):
    source = published_pack(tmp_path)
    first = pack_to_claimreview(load_pack(source))

    draft = write_imported_pack(json.loads(json.dumps(first)), tmp_path / "imported", "fixture-pack")
    complete_draft(draft, source)
    again = load_pack(draft)

    assert pack_to_claimreview(again) == first
    original = load_pack(source)
    for mine, theirs in zip(again.talking_points, original.talking_points):
        assert dict(mine.cards) == dict(theirs.cards)  # every language: title, summary, key facts, why
        assert (mine.claim, mine.keywords, rating_of(mine)) == (theirs.claim, theirs.keywords, rating_of(theirs))
    assert again.claimreview["publisher"] == PUBLISHER
    assert again.talking_points[0].claimreview["item_reviewed"]["appearances"] == tuple(CLAIM_ORIGIN["appearances"])


def test_written_draft_pack_does_not_load_and_says_why(tmp_path, pack):
    out = write_imported_pack(pack_to_claimreview(pack), tmp_path / "imported", "imported-pack")

    assert out == tmp_path / "imported"
    assert sorted(p.name for p in (out / "talking_points").iterdir()) == [
        "5g-spreads-covid.yaml", "vitamin-c-cures-colds.yaml"
    ]
    meta = yaml.safe_load((out / "pack.yaml").read_text(encoding="utf-8"))
    assert meta == {"schema": 1, "id": "imported-pack", "version": "draft", "name": "Imported pack imported-pack",
                    "description": "", "languages": ["en", "ru", "uk"]}
    assert (out / "pack.yaml").read_text(encoding="utf-8").startswith("# DRAFT pack imported from ClaimReview")

    with pytest.raises(PackError) as info:
        load_pack(out)

    errors = info.value.errors
    draft_lines = [e for e in errors if "': draft: " in e]
    assert len(draft_lines) == 2
    assert "5g-spreads-covid.yaml" in draft_lines[0] and "talking point '5g-spreads-covid'" in draft_lines[0]
    assert "unfinished draft imported from ClaimReview" in draft_lines[0]
    assert "a pack author must complete it" in draft_lines[0]
    assert any("pack.yaml" in e and "version: 'draft' marks an imported pack" in e for e in errors)
    assert any("talking point 'vitamin-c-cures-colds': exemplars.assert: 0 exemplars (need >= 8) "
               "(imported draft: a pack author must write the labelled exemplars)" in e for e in errors)


def test_completed_draft_loads_with_the_imported_claims_and_sources(tmp_path, pack):
    out = write_imported_pack(pack_to_claimreview(pack), tmp_path / "imported", "imported-pack")
    complete_draft(out, VALID)

    completed = load_pack(out)

    assert [tp.claim for tp in completed.talking_points] == [tp.claim for tp in pack.talking_points]
    assert [[(s.publisher, s.title, s.url) for s in tp.sources] for tp in completed.talking_points] == [
        [(s.publisher, s.title, s.url) for s in tp.sources] for tp in pack.talking_points
    ]
    # free-text dates come back as ISO 8601 where they could be read ("5 Apr 2020")
    assert [s.date for s in completed.talking_points[0].sources] == ["2020", "2020-04-05"]
    assert [tp.rating for tp in completed.talking_points] == ["False", "Misleading"]
    assert completed.languages == ("en", "ru", "uk")
    assert pack_to_dict(completed)["talking_points"][0]["exemplars"] == pack_to_dict(pack)["talking_points"][0]["exemplars"]


FACT_CHECKER_PAGE = {
    "@context": "https://schema.org",
    "@graph": [
        {"@type": "WebPage", "name": "Fact check page"},
        {
            "@type": "ClaimReview",
            "url": "https://factcheck.example.net/2022/03/biolabs",
            "datePublished": "2022-03-10T08:00:00+00:00",
            "author": {"@type": "Organization", "name": "Example Fact Check", "url": "https://factcheck.example.net"},
            "claimReviewed": "НАТО разместило в Украине секретные биолаборатории.",
            "headline": "No, there are no secret NATO bioweapons labs in Ukraine",
            "description": "Ukraine's public-health labs are civilian and were partly funded to destroy old pathogens.",
            "itemReviewed": {"@type": "Claim", "author": {"@type": "Person", "name": "A commentator"}},
            "reviewRating": {"@type": "Rating", "ratingValue": 1, "bestRating": 5, "worstRating": 1,
                             "alternateName": "Pants on Fire",
                             "ratingExplanation": "The labs are documented civilian facilities."},
            "citation": [
                "https://docs.example.int/biosafety-programme",
                {"@type": "CreativeWork", "url": "https://factcheck.example.net/2022/03/biolabs",
                 "name": "duplicate of the review page"},
            ],
        },
        {
            "@type": ["ClaimReview"],
            "url": "https://factcheck.example.net/2022/04/second",
            "author": {"@type": "Organization", "name": "Example Fact Check"},
            "claimReviewed": "NATO's labs in Ukraine are bioweapons labs",
            "reviewRating": {"@type": "Rating", "alternateName": "false"},
        },
    ],
}


def test_import_a_fact_checkers_json_ld():
    assert len(extract_claimreviews(FACT_CHECKER_PAGE)) == 2
    notes: list[str] = []

    first, second = claimreview_to_talking_points([FACT_CHECKER_PAGE], lang="ru", notes=notes)

    assert first["id"] == "claim-1"  # Cyrillic claim, no identifier: nothing to slugify
    assert first["claim"] == "НАТО разместило в Украине секретные биолаборатории."
    assert first["rating"] == "False"  # "Pants on Fire" means false: mapped, and said so
    assert "ClaimReview #1 (https://factcheck.example.net/2022/03/biolabs): rating 'Pants on Fire' imported as 'False'" in notes
    assert first["cards"] == {"ru": {
        "title": "No, there are no secret NATO bioweapons labs in Ukraine",
        "summary": "Ukraine's public-health labs are civilian and were partly funded to destroy old pathogens.",
        "key_facts": ["The labs are documented civilian facilities."],
        "why_it_matters": "",
    }}
    assert first["sources"] == [  # what the review cites
        {"publisher": "", "title": "", "url": "https://docs.example.int/biosafety-programme", "date": "not shown"},
        {"publisher": "Example Fact Check", "title": "duplicate of the review page",
         "url": "https://factcheck.example.net/2022/03/biolabs", "date": "not shown"},
    ]
    assert first["claimreview"] == {  # the review's page and date, and who made the claim
        "url": "https://factcheck.example.net/2022/03/biolabs",
        "date_published": "2022-03-10",
        "item_reviewed": {"author": "A commentator", "author_type": "Person"},
    }
    assert second["id"] == "natos-labs-in-ukraine-are-bioweapons-labs"
    assert second["rating"] == "False"
    # it cites nothing: its own page is the source
    assert second["sources"] == [{"publisher": "Example Fact Check", "title": "",
                                  "url": "https://factcheck.example.net/2022/04/second", "date": "not shown"}]
    assert second["cards"]["ru"]["title"] == ""  # no name: left for a person, not the claim in the title
    assert any("no name or headline" in n for n in notes)


def test_import_keeps_a_rating_it_cannot_map_for_a_person_to_replace(tmp_path):
    review = {"@type": "ClaimReview", "claimReviewed": "The moon is cheese.", "url": "https://fc.example.org/1",
              "name": "Cheese moon", "reviewRating": {"@type": "Rating", "alternateName": "Four Pinocchios"}}
    notes: list[str] = []

    out = write_imported_pack([review], tmp_path / "p", "cheese", notes=notes)

    tp = yaml.safe_load((out / "talking_points" / "the-moon-is-cheese.yaml").read_text(encoding="utf-8"))
    assert tp["rating"] == "Four Pinocchios"
    assert any("'Four Pinocchios' is not one of the pack format's" in n for n in notes)
    with pytest.raises(PackError, match="'Four Pinocchios' is not a rating"):
        load_pack(out)


def test_import_skips_a_review_without_a_claim_and_says_which():
    good = {"@type": "ClaimReview", "claimReviewed": "A claim.", "url": "https://fc.example.org/good", "name": "T"}
    bad = {"@type": "ClaimReview", "url": "https://fc.example.org/bad"}
    notes: list[str] = []

    tps = claimreview_to_talking_points([bad, good], notes=notes)

    assert [tp["claim"] for tp in tps] == ["A claim."]
    assert notes == ["ClaimReview #1 (https://fc.example.org/bad): no claimReviewed (the claim being checked); skipped"]


def test_import_makes_ids_unique_and_cuts_long_text():
    review = {"@type": "ClaimReview", "claimReviewed": "The same claim.", "name": "T" * 200,
              "reviewBody": "word " * 200, "url": "https://a.example.org/1"}

    tps = claimreview_to_talking_points([review, dict(review), dict(review)])

    assert [tp["id"] for tp in tps] == ["the-same-claim", "the-same-claim-2", "the-same-claim-3"]
    card = tps[0]["cards"]["en"]
    assert len(card["title"]) <= 120 and card["title"].endswith("…")
    assert len(card["summary"]) <= 600 and card["summary"].endswith("…")


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([{"@type": "WebPage", "name": "x"}], "no schema.org ClaimReview items found"),
        ([], "no schema.org ClaimReview items found"),
        ([{"@type": "ClaimReview", "url": "https://a.example.org"}], "every one lacks claimReviewed"),
    ],
)
def test_import_rejects_input_without_usable_claimreviews(items, message):
    with pytest.raises(ImportProblem, match=message):
        claimreview_to_talking_points(items)


def test_write_imported_pack_refuses_a_non_empty_directory(tmp_path, pack):
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("mine")

    with pytest.raises(FileExistsError):
        write_imported_pack(pack_to_claimreview(pack), target, "imported")
    assert write_imported_pack(pack_to_claimreview(pack), target, "imported", overwrite=True) == target
    assert (target / "notes.txt").read_text() == "mine"
    with pytest.raises(ImportProblem, match="'Bad Id' is not a slug .*; try 'bad-id'"):
        write_imported_pack(pack_to_claimreview(pack), tmp_path / "x", "Bad Id")


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("NATO's eastward expansion forced Russia to invade Ukraine.", "natos-eastward-expansion-forced-russia-to-invade-ukraine"),
        ("Zelensky — an illegitimate president?", "zelensky-an-illegitimate-president"),
        ("Ünïcödé   spaces", "unicode-spaces"),
        ("Путин", ""),
    ],
)
def test_slugify(text, slug):
    assert slugify(text) == slug


def test_import_takes_the_publisher_only_when_every_review_names_the_same(tmp_path):
    def review(n: int, publisher: str) -> dict:
        return {"@type": "ClaimReview", "claimReviewed": f"Claim {n}.", "name": f"Title {n}",
                "url": f"https://fc.example.org/{n}", "author": {"@type": "Organization", "name": publisher}}

    notes: list[str] = []
    same = write_imported_pack([review(1, "Checkers"), review(2, "Checkers")], tmp_path / "same", "same")
    mixed = write_imported_pack([review(1, "Checkers"), review(2, "Others")], tmp_path / "mixed", "mixed",
                                notes=notes)

    assert yaml.safe_load((same / "pack.yaml").read_text(encoding="utf-8"))["claimreview"] == {
        "publisher": {"name": "Checkers"}}
    assert "claimreview" not in yaml.safe_load((mixed / "pack.yaml").read_text(encoding="utf-8"))
    assert any("different publishers or none (Checkers, Others)" in n for n in notes)


def test_a_source_named_without_a_confirmed_url_is_cited_without_one():
    from bot.core.claimreview import talking_point_to_claimreview
    from bot.core.models import CardText, KeyFact, Source, TalkingPoint

    card = CardText(title="t", summary="s", key_facts=(KeyFact("f", (1,)),), why_it_matters="w")
    tp = TalkingPoint(id="tp", claim="c", cards={"en": card}, exemplars=(),
                      sources=(Source("OHCHR", "Report", "", "27 Jan 2022"), Source("P", "T", "https://e.org/", "2022")))

    review = talking_point_to_claimreview(tp)

    assert "url" not in review  # never a cited source: the review's own page, which this pack does not name
    assert "url" not in review["citation"][0] and review["citation"][0]["name"] == "Report"
    assert review["citation"][1]["url"] == "https://e.org/"
