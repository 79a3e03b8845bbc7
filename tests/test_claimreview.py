"""ClaimReview JSON-LD export and import (bot.core.claimreview)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bot.core.claimreview import (
    claimreview_to_talking_points,
    extract_claimreviews,
    pack_to_claimreview,
    slugify,
    write_imported_pack,
)
from bot.core.packs import PackError, load_pack, pack_to_dict

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "packs"
VALID = FIXTURES / "valid"


@pytest.fixture(scope="module")
def pack():
    return load_pack(VALID)


def test_export_one_claimreview_per_talking_point(pack):
    items = pack_to_claimreview(pack)

    assert len(items) == 2
    first = items[0]
    assert first["@context"] == "https://schema.org"
    assert first["@type"] == "ClaimReview"
    assert first["identifier"] == "5g-spreads-covid"
    assert first["claimReviewed"] == "5G mobile networks spread the coronavirus."
    assert first["url"] == "https://example.org/health/mythbusters-5g"  # first source
    assert first["name"] == "Do 5G networks spread the coronavirus?"
    assert first["reviewBody"].startswith("Viruses cannot travel")
    assert first["inLanguage"] == "en"
    assert first["itemReviewed"] == {"@type": "Claim", "name": "5G mobile networks spread the coronavirus."}
    assert first["reviewRating"] == {"@type": "Rating", "alternateName": "False"}
    assert first["author"] == {"@type": "Organization", "name": "contextbot pack fixture-pack"}
    assert "datePublished" not in first  # not known unless given
    assert first["citation"] == [
        {
            "@type": "CreativeWork",
            "name": "Mythbusters: 5G mobile networks do not spread COVID-19",
            "url": "https://example.org/health/mythbusters-5g",
            "publisher": {"@type": "Organization", "name": "Example Health Organisation"},
            "datePublished": "2020",
        },
        {
            "@type": "CreativeWork",
            "name": "Phone masts set on fire after 5G coronavirus rumours",
            "url": "https://news.example.org/2020/04/masts-5g",
            "publisher": {"@type": "Organization", "name": "Example News"},
            "datePublished": "2020-04-05",  # "5 Apr 2020" read as ISO 8601
        },
    ]
    second = items[1]
    assert second["reviewRating"]["alternateName"] == "Misleading"  # default rating
    assert second["citation"][0]["datePublished"] == "2013-01-31"  # "31 Jan 2013"
    assert "datePublished" not in second["citation"][1]  # "not shown" is not a date
    json.dumps(items)  # plain JSON


def test_export_options(pack):
    items = pack_to_claimreview(pack, publisher_name="Example Moderators", publisher_url="https://mods.example.org",
                                date_published="2026-01-05")

    assert {json.dumps(i["author"], sort_keys=True) for i in items} == {
        json.dumps({"@type": "Organization", "name": "Example Moderators", "url": "https://mods.example.org"},
                   sort_keys=True)
    }
    assert [i["datePublished"] for i in items] == ["2026-01-05", "2026-01-05"]


def test_round_trip_keeps_claims_sources_ids_and_ratings(pack):
    exported = json.loads(json.dumps(pack_to_claimreview(pack)))

    imported = claimreview_to_talking_points(exported)

    assert [tp["id"] for tp in imported] == [tp.id for tp in pack.talking_points]
    assert [tp["claim"] for tp in imported] == [tp.claim for tp in pack.talking_points]
    assert [[s["url"] for s in tp["sources"]] for tp in imported] == [
        [s.url for s in tp.sources] for tp in pack.talking_points
    ]
    # citation metadata wins over the review's own url entry for the same page
    assert imported[0]["sources"][0] == {
        "publisher": "Example Health Organisation",
        "title": "Mythbusters: 5G mobile networks do not spread COVID-19",
        "url": "https://example.org/health/mythbusters-5g",
        "date": "2020",
    }
    assert imported[1]["sources"][1]["date"] == "not shown"
    assert [tp.get("rating") for tp in imported] == ["False", "Misleading"]
    assert imported[0]["cards"]["en"]["title"] == pack.talking_points[0].title
    assert imported[0]["cards"]["en"]["summary"] == pack.talking_points[0].cards["en"].summary
    assert imported[0]["keywords"] == list(pack.talking_points[0].keywords)
    assert all(tp["draft"] and tp["exemplars"] == {"assert": [], "refute": [], "report": []} for tp in imported)


def test_written_draft_pack_does_not_load_and_says_why(tmp_path, pack):
    out = write_imported_pack(pack_to_claimreview(pack), tmp_path / "imported", "imported-pack")

    assert out == tmp_path / "imported"
    assert sorted(p.name for p in (out / "talking_points").iterdir()) == [
        "5g-spreads-covid.yaml", "vitamin-c-cures-colds.yaml"
    ]
    meta = yaml.safe_load((out / "pack.yaml").read_text(encoding="utf-8"))
    assert meta == {"schema": 1, "id": "imported-pack", "version": "draft", "name": "Imported pack imported-pack",
                    "description": "", "languages": ["en"]}
    assert (out / "pack.yaml").read_text(encoding="utf-8").startswith("# DRAFT pack imported from ClaimReview")

    with pytest.raises(PackError) as info:
        load_pack(out)

    errors = info.value.errors
    draft_lines = [e for e in errors if "': draft: " in e]
    assert len(draft_lines) == 2
    assert "5g-spreads-covid.yaml" in draft_lines[0] and "talking point '5g-spreads-covid'" in draft_lines[0]
    assert "unfinished draft imported from ClaimReview" in draft_lines[0]
    assert "a pack author must complete it" in draft_lines[0]
    assert any("talking point 'vitamin-c-cures-colds': exemplars.assert: 0 exemplars (need >= 8) "
               "(imported draft: a pack author must write the labelled exemplars)" in e for e in errors)


def test_completed_draft_loads_with_the_imported_claims_and_sources(tmp_path, pack):
    out = write_imported_pack(pack_to_claimreview(pack), tmp_path / "imported", "imported-pack")
    # what a pack author does: add exemplars and the remaining card text, then delete `draft`
    for path in (out / "talking_points").iterdir():
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        original = yaml.safe_load((VALID / "talking_points" / path.name).read_text(encoding="utf-8"))
        del data["draft"]
        data["cards"]["en"] = original["cards"]["en"]
        data["exemplars"] = original["exemplars"]
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")

    completed = load_pack(out)

    assert [tp.claim for tp in completed.talking_points] == [tp.claim for tp in pack.talking_points]
    assert [[(s.publisher, s.title, s.url) for s in tp.sources] for tp in completed.talking_points] == [
        [(s.publisher, s.title, s.url) for s in tp.sources] for tp in pack.talking_points
    ]
    # free-text dates come back as ISO 8601 where they could be read ("5 Apr 2020")
    assert [s.date for s in completed.talking_points[0].sources] == ["2020", "2020-04-05"]
    assert [tp.rating for tp in completed.talking_points] == ["False", "Misleading"]
    assert completed.languages == ("en",)
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

    first, second = claimreview_to_talking_points([FACT_CHECKER_PAGE], lang="ru")

    assert first["id"] == "claim-1"  # Cyrillic claim, no identifier: nothing to slugify
    assert first["claim"] == "НАТО разместило в Украине секретные биолаборатории."
    assert "rating" not in first  # "Pants on Fire" is not one of the pack format's ratings
    assert first["cards"] == {"ru": {
        "title": "No, there are no secret NATO bioweapons labs in Ukraine",
        "summary": "Ukraine's public-health labs are civilian and were partly funded to destroy old pathogens.",
        "key_facts": ["Example Fact Check rated this claim: Pants on Fire.",
                      "The labs are documented civilian facilities."],
        "why_it_matters": "",
    }}
    assert first["sources"] == [
        {"publisher": "Example Fact Check", "title": "duplicate of the review page",
         "url": "https://factcheck.example.net/2022/03/biolabs", "date": "2022-03-10"},
        {"publisher": "", "title": "", "url": "https://docs.example.int/biosafety-programme", "date": "not shown"},
    ]
    assert second["id"] == "natos-labs-in-ukraine-are-bioweapons-labs"
    assert second["rating"] == "False"
    assert second["sources"] == [{"publisher": "Example Fact Check", "title": "NATO's labs in Ukraine are bioweapons labs",
                                  "url": "https://factcheck.example.net/2022/04/second", "date": "not shown"}]


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
        ([{"@type": "ClaimReview", "url": "https://a.example.org"}], "ClaimReview without claimReviewed"),
    ],
)
def test_import_rejects_input_without_usable_claimreviews(items, message):
    with pytest.raises(ValueError, match=message):
        claimreview_to_talking_points(items)


def test_write_imported_pack_refuses_a_non_empty_directory(tmp_path, pack):
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("mine")

    with pytest.raises(FileExistsError):
        write_imported_pack(pack_to_claimreview(pack), target, "imported")
    assert write_imported_pack(pack_to_claimreview(pack), target, "imported", overwrite=True) == target
    assert (target / "notes.txt").read_text() == "mine"
    with pytest.raises(ValueError, match="not a slug"):
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


def test_a_source_named_without_a_confirmed_url_is_cited_without_one():
    from bot.core.claimreview import talking_point_to_claimreview
    from bot.core.models import CardText, KeyFact, Source, TalkingPoint

    card = CardText(title="t", summary="s", key_facts=(KeyFact("f", (1,)),), why_it_matters="w")
    tp = TalkingPoint(id="tp", claim="c", cards={"en": card}, exemplars=(),
                      sources=(Source("OHCHR", "Report", "", "27 Jan 2022"), Source("P", "T", "https://e.org/", "2022")))

    review = talking_point_to_claimreview(tp, publisher_name="x")

    assert review["url"] == "https://e.org/"  # the first source that has a URL
    assert "url" not in review["citation"][0] and review["citation"][0]["name"] == "Report"
    assert review["citation"][1]["url"] == "https://e.org/"
