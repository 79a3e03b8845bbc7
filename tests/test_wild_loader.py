"""The wild-corpus loader (bench/wild.py) on a tiny corpus this test writes itself: no fetched data is used."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import wild  # noqa: E402

ROWS = [
    {"id": f"src:{i}", "text": f"Row {i} about the war in Ukraine and what happened today", "lang": lang,
     "source": "src", "kind": "news"}
    for i, lang in enumerate(["en", "de", "uk", "ru"] * 50)
]


@pytest.fixture
def corpus(tmp_path, monkeypatch):
    d = tmp_path / "wild"
    d.mkdir()
    (d / "src.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    labels = tmp_path / "labels.jsonl"
    labels.write_text(json.dumps({"id": "src:3", "label": "assert", "talking_point": "bucha-staged",
                                  "note": "hand-checked"}) + "\n", encoding="utf-8")
    monkeypatch.setenv(wild.ENV_DIR, str(d))
    return d, labels


def test_split_is_a_function_of_the_id_alone_and_about_half_per_language(corpus):
    _, labels = corpus
    rows = wild.load_wild(labels_path=labels)
    assert len(rows) == len(ROWS)
    for r in rows:
        assert r["split"] == wild.split_of(r["id"])
    for lang in ("en", "de", "uk", "ru"):
        mine = [r for r in rows if r["lang"] == lang]
        tune = sum(r["split"] == "tune" for r in mine)
        assert 0.3 < tune / len(mine) < 0.7  # 50 rows each: a fair hash puts 15..35 in tune
    # filtering by split and language returns exactly that part
    check_de = wild.load_wild(split="check", langs=["de"], labels_path=labels)
    assert check_de and all(r["split"] == "check" and r["lang"] == "de" for r in check_de)
    assert {r["id"] for r in check_de} == {r["id"] for r in rows if r["split"] == "check" and r["lang"] == "de"}


def test_a_labelled_only_source_contributes_only_its_labelled_rows(corpus):
    d, labels = corpus
    pro = [{"id": f"ruw-pro-en:{i}", "text": f"Pro tweet {i} about the war in Ukraine", "lang": "en",
            "source": "ruw-pro-en", "kind": "discussion"} for i in range(5)]
    (d / "ruw-pro-en.jsonl").write_text("".join(json.dumps(r) + "\n" for r in pro), encoding="utf-8")
    with labels.open("a", encoding="utf-8") as f:
        f.write(json.dumps({"id": "ruw-pro-en:1", "label": "assert", "talking_point": "western-proxy-war"}) + "\n")
        f.write(json.dumps({"id": "ruw-pro-en:2", "label": "none", "talking_point": None}) + "\n")
    assert "ruw-pro-en" in wild.LABELLED_ONLY
    rows = {r["id"]: r for r in wild.load_wild(labels_path=labels)}
    assert {i for i in rows if i.startswith("ruw-pro-en:")} == {"ruw-pro-en:1", "ruw-pro-en:2"}
    assert rows["ruw-pro-en:1"]["label"] == "assert" and rows["ruw-pro-en:2"]["label"] == "none"
    assert sum(i.startswith("src:") for i in rows) == len(ROWS)  # other sources: unlabelled rows presumed none


def test_ruw_rows_pro_russian_keeps_exactly_the_rows_the_default_leaves_out():
    csv_text = ("Tweet,Target 1,Stance 1,Target 2,Stance 2,Test/Train/Dev\n"
                "Russia invaded Ukraine and that is a fact,Russia,AGAINST,Ukraine,FAVOR,Test\n"
                "Ukraine is going to blow up the plant,Russia,FAVOR,Ukraine,AGAINST,Test\n"
                "Ukraine started it all,Russia,NONE,Ukraine,AGAINST,Test\n")
    raw = csv_text.encode("gb18030")
    assert [r["text"] for r in wild.ruw_rows(raw, pro_russian=True)] == ["Ukraine is going to blow up the plant",
                                                                         "Ukraine started it all"]
    assert [r["text"] for r in wild.ruw_rows(raw)] == ["Russia invaded Ukraine and that is a fact"]


def test_split_rule_is_stable_and_balanced_on_many_ids():
    ids = [f"x:{i}" for i in range(4000)]
    assert [wild.split_of(i) for i in ids] == [wild.split_of(i) for i in ids]
    assert abs(sum(wild.split_of(i) == "tune" for i in ids) / len(ids) - 0.5) < 0.03


def test_unlabelled_rows_are_presumed_none_and_labels_are_applied(corpus):
    _, labels = corpus
    rows = {r["id"]: r for r in wild.load_wild(labels_path=labels)}
    assert rows["src:3"]["label"] == "assert"
    assert rows["src:3"]["talking_point"] == "bucha-staged"
    assert rows["src:3"]["label_checked"] is True
    assert rows["src:3"]["label_note"] == "hand-checked"
    assert rows["src:0"]["label"] == "none"
    assert rows["src:0"]["talking_point"] is None
    assert rows["src:0"]["label_checked"] is False


def test_an_empty_wild_dir_gives_no_rows_and_says_why(tmp_path, monkeypatch):
    empty = tmp_path / "nothing"
    empty.mkdir()
    monkeypatch.setenv(wild.ENV_DIR, str(empty))
    assert wild.load_wild() == []
    status = wild.wild_status()
    assert status.startswith("no wild corpus") and str(empty) in status


def test_without_env_or_snapshots_it_names_the_fetch_sources(tmp_path, monkeypatch):
    monkeypatch.delenv(wild.ENV_DIR, raising=False)
    monkeypatch.setattr(wild, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.setattr(wild, "MIRROR_ROOT", tmp_path / "no-mirror")
    assert wild.load_wild() == []
    status = wild.wild_status()
    assert "no wild corpus" in status
    for src in wild.SOURCES:
        assert src.fetch_source in status


@pytest.mark.parametrize("text, ok", [
    ("short", False),
    ("https://example.org/a/very/long/path/that/is/only/a/link", False),
    ("Russian troops squeezed in south Ukraine as Kyiv ramps up strikes", True),
    ("x" * 1001, False),
])
def test_length_and_url_only_filter(text, ok):
    assert wild.acceptable(text) is ok


@pytest.mark.parametrize("text, lang", [
    ("Безпольотна зона над Україною може призвести до війни", "uk"),
    ("Для НАТО главное, чтобы с РФ воевала только Украина, это ясно всем", "ru"),
    ("НАТО", None),
])
def test_cyrillic_language_by_letters(text, lang):
    assert wild.cyrillic_lang(text) == lang


# --- bench/eval_wild.evaluate on a recording fake detector ---------------------------------------------------------

from dataclasses import dataclass  # noqa: E402

from bot.core.models import Action, Stance  # noqa: E402

import eval_wild  # noqa: E402


@dataclass
class _Decision:
    action: Action
    talking_point_id: str | None
    stance: Stance | None
    score: float


class _RecordingDetector:
    """Answers from a table keyed by text and records what it was asked."""

    def __init__(self, answers: dict[str, _Decision]):
        self.answers, self.calls = answers, []

    def check_many(self, texts, langs=None):
        self.calls.append((list(texts), list(langs or [])))
        return [self.answers.get(t, _Decision(Action.NONE, None, None, 0.0)) for t in texts]


def _row(i, lang, split, label="none", tp=None):
    return {"id": f"t:{i}", "text": f"text {i}", "lang": lang, "split": split, "label": label, "talking_point": tp}


def test_evaluate_counts_false_alarms_and_recall_per_language_and_split():
    rows = [_row(0, "de", "check"), _row(1, "de", "check"), _row(2, "de", "check"), _row(3, "de", "check"),
            _row(4, "de", "tune"),
            _row(5, "uk", "check", "assert", "bucha-staged"), _row(6, "uk", "check", "assert", "bucha-staged"),
            _row(7, "uk", "check", "refute", "bucha-staged")]
    det = _RecordingDetector({
        "text 0": _Decision(Action.REVIEW, "dirty-bomb", Stance.ASSERT, 0.6),      # false alarm (review)
        "text 1": _Decision(Action.REPLY, "nazi-regime", Stance.ASSERT, 0.9),      # false alarm (reply)
        "text 4": _Decision(Action.REVIEW, "dirty-bomb", Stance.ASSERT, 0.6),      # tune split: counted apart
        "text 5": _Decision(Action.REPLY, "bucha-staged", Stance.ASSERT, 0.95),    # found, right point
        "text 6": _Decision(Action.REVIEW, "us-biolabs", Stance.ASSERT, 0.5),      # flagged, wrong point
        "text 7": _Decision(Action.REVIEW, "bucha-staged", Stance.REFUTE, 0.4),    # a refutation sent to review
    })
    out = eval_wild.evaluate(det, rows)
    assert det.calls == [([r["text"] for r in rows], [r["lang"] for r in rows])]
    de_check = out["groups"]["de/check"]
    assert (de_check["n_none"], de_check["reply_pct"], de_check["review_pct"], de_check["flagged_pct"]) == (4, 25.0, 25.0, 50.0)
    assert out["groups"]["de/tune"]["flagged_pct"] == 100.0
    uk = out["groups"]["uk/check"]
    assert (uk["n_none"], uk["n_assert"], uk["assert_reply_recall"], uk["assert_flagged_recall"]) == (0, 2, 0.5, 0.5)
    assert uk["flagged_pct"] is None  # no `none` rows: n/a, not 0
    assert (uk["n_other_stance"], uk["other_stance_review"]) == (1, 1)
    assert (uk["n_refute"], uk["refute_replied"], uk["refute_review_pct"]) == (1, 0, 100.0)
    assert out["groups"]["de/check"]["refute_review_pct"] is None  # no refutations: n/a
    assert {f[0] for f in out["flagged"]} == {"t:0", "t:1", "t:4", "t:5", "t:6", "t:7"}


def test_eval_wild_prints_na_when_the_corpus_is_unavailable(tmp_path, monkeypatch, capsys):
    empty = tmp_path / "none"
    empty.mkdir()
    monkeypatch.setenv(wild.ENV_DIR, str(empty))
    assert eval_wild.main([]) == 0
    out = capsys.readouterr().out
    assert "wild corpus: n/a" in out
    assert json.loads(out.strip().splitlines()[-1])["wild"] is None


@pytest.mark.parametrize("record", [
    {"id": "src:1", "label": "agrees", "talking_point": "bucha-staged"},
    {"id": "src:1", "label": "assert", "talking_point": None},
])
def test_malformed_labels_are_refused(tmp_path, record):
    path = tmp_path / "labels.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    with pytest.raises(ValueError):
        wild.load_labels(path)


def test_the_committed_labels_are_well_formed():
    labels = wild.load_labels()
    assert labels, "data/wild/labels.jsonl is empty"
    assert all(not rec.get("text") for rec in labels.values())  # our labels only, never third-party text


def test_ruw_rows_decode_gb18030_and_keep_only_tweets_that_favour_neither_russia_nor_against_ukraine():
    csv_text = ("Tweet,Target 1,Stance 1,Target 2,Stance 2,Test/Train/Dev\n"
                "Russia invaded Ukraine and that’s a fact,Russia,AGAINST,Ukraine,FAVOR,Test\n"
                "\"Ukraine is going to blow up the plant, blame Russia\",Russia,FAVOR,Ukraine,AGAINST,Test\n"
                "Ukraine started it all,Russia,NONE,Ukraine,AGAINST,Test\n"
                "Here’s the latest news on Russia’s invasion of Ukraine,Russia,NONE,Ukraine,NONE,Test\n")
    rows = list(wild.ruw_rows(csv_text.encode("gb18030")))
    assert [r["text"] for r in rows] == ["Russia invaded Ukraine and that’s a fact",
                                         "Here’s the latest news on Russia’s invasion of Ukraine"]
    assert {r["lang"] for r in rows} == {"en"} and {r["kind"] for r in rows} == {"discussion"}
    assert rows[0]["outlet"] == "tweet (Russia against, Ukraine favor)"
    assert len({r["key"] for r in rows}) == 2


@pytest.mark.parametrize("share, expected", [
    (0.5, ["russia"]),  # in 3 of 4 texts; its most frequent written form
    (0.25, ["allies", "bombed", "cat", "city", "invaded", "russia", "slept", "ukraine"]),  # any row: every word
    (1.0, []),
])
def test_background_words_are_the_frequent_stems_in_their_commonest_form(share, expected):
    import background  # bench/background.py

    texts = ["Russia invaded Ukraine", "russia bombed the city", "RUSSIA, russia and Russia's allies", "the cat slept"]
    assert background.background_words(texts, share) == expected
