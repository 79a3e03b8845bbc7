"""Pack loading and validation (bot.core.packs) against real YAML files on disk."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import pickle
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from bot.core.models import CardText, Exemplar, KeyFact, Pack, Source, Stance, TalkingPoint
from bot.core.packs import (
    PackError,
    PackRegistry,
    default_pack_dirs,
    load_pack,
    load_packs,
    pack_to_dict,
    pack_warnings,
    rating_of,
)

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "packs"
VALID = FIXTURES / "valid"
SINGLE = FIXTURES / "single-file.yaml"
TP = "5g-spreads-covid"
TP2 = "vitamin-c-cures-colds"


# ------------------------------------------------------------------------------------------- helpers


def copy_valid(tmp_path: Path, name: str = "pack") -> Path:
    dest = tmp_path / name
    shutil.copytree(VALID, dest)
    return dest


def read(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def write(path: Path, data: Any) -> None:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def error_of(path: Path) -> PackError:
    with pytest.raises(PackError) as info:
        load_pack(path)
    return info.value


# ----------------------------------------------------------------------------------------- valid pack


def test_valid_directory_pack_loads_into_frozen_models():
    pack = load_pack(VALID)

    assert isinstance(pack, Pack)
    assert (pack.id, pack.version, pack.name) == ("fixture-pack", "2026.1.0", "Fixture pack")
    assert pack.description == "Two small talking points used by the tests."
    assert pack.languages == ("en", "ru", "uk")
    assert pack.origin == str(VALID)
    assert [tp.id for tp in pack.talking_points] == [TP, TP2]  # sorted by file name

    tp = pack.get(TP)
    assert isinstance(tp, TalkingPoint)
    assert tp.claim == "5G mobile networks spread the coronavirus."
    assert (tp.pack_id, tp.pack_version) == ("fixture-pack", "2026.1.0")
    assert list(tp.cards) == ["en", "ru", "uk"]
    assert tp.title == "Do 5G networks spread the coronavirus?"
    assert tp.cards["uk"].title == "Чи поширюють мережі 5G коронавірус?"
    # folded YAML (>-) joined into one line, stripped
    assert tp.cards["en"].summary.startswith("Viruses cannot travel") and tp.cards["en"].summary.endswith("at all.")
    assert tp.cards["en"].key_facts == (
        KeyFact("SARS-CoV-2 spreads through respiratory droplets and aerosols.", sources=(1,)),
        KeyFact("COVID-19 spread widely in countries without any 5G coverage.", sources=(1,)),
    )
    assert tp.sources[1] == Source(
        publisher="Example News",
        title="Phone masts set on fire after 5G coronavirus rumours",
        url="https://news.example.org/2020/04/masts-5g",
        date="5 Apr 2020",
    )
    assert tp.keywords == ("5g", "5г", "covid", "ковид", "коронавирус", "коронавірус")
    stances = [e.stance for e in tp.exemplars]
    assert stances.count(Stance.ASSERT) == 8
    assert stances.count(Stance.REFUTE) == 4
    assert stances.count(Stance.REPORT) == 2
    assert stances.count(Stance.ASK) == 1
    assert Exemplar(text="Die 5G-Masten verbreiten das Coronavirus.", stance=Stance.ASSERT, lang="de") in tp.exemplars
    assert rating_of(tp) == "False"
    assert rating_of(pack.get(TP2)) == "Misleading"  # the default


def test_loaded_values_are_immutable_hashable_and_picklable():
    tp = load_pack(VALID).talking_points[0]

    assert isinstance(tp.sources, tuple) and isinstance(tp.exemplars, tuple) and isinstance(tp.keywords, tuple)
    assert isinstance(tp.cards["en"].key_facts, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        tp.claim = "changed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        tp.cards["de"] = tp.cards["en"]  # type: ignore[index]
    with pytest.raises(TypeError):
        tp.cards.pop("en")  # type: ignore[attr-defined]
    assert "de" not in tp.cards
    assert pickle.loads(pickle.dumps(tp)) == tp
    assert copy.deepcopy(tp) == tp
    assert hash(tp) == hash(copy.deepcopy(tp))


def test_single_file_variant_loads_the_same_pack():
    single = load_pack(SINGLE)
    directory = load_pack(VALID)

    assert single.origin == str(SINGLE)
    assert pack_to_dict(single) == pack_to_dict(directory)
    assert single.talking_points == directory.talking_points


def test_yaml_quirks_do_not_corrupt_values(tmp_path):
    """Unquoted `no` stays the language code of Norwegian, unquoted dates and years stay text."""
    pack_dir = copy_valid(tmp_path)
    f = pack_dir / "talking_points" / f"{TP}.yaml"
    text = f.read_text(encoding="utf-8")
    text = text.replace('date: "5 Apr 2020"', "date: 2020-04-05").replace('date: "2020"', "date: 2020")
    text = text.replace("lang: de}", "lang: no}")
    f.write_text(text, encoding="utf-8")

    tp = load_pack(pack_dir).get(TP)

    assert [s.date for s in tp.sources] == ["2020", "2020-04-05"]
    assert Exemplar(text="Die 5G-Masten verbreiten das Coronavirus.", stance=Stance.ASSERT, lang="no") in tp.exemplars


# -------------------------------------------------------------------------------------- invalid packs


def _tp_mutation(fn: Callable[[dict], None], file: str = TP) -> Callable[[Path], Path]:
    def apply(pack_dir: Path) -> Path:
        path = pack_dir / "talking_points" / f"{file}.yaml"
        data = read(path)
        fn(data)
        write(path, data)
        return path

    return apply


def _pack_mutation(fn: Callable[[dict], None]) -> Callable[[Path], Path]:
    def apply(pack_dir: Path) -> Path:
        path = pack_dir / "pack.yaml"
        data = read(path)
        fn(data)
        write(path, data)
        return path

    return apply


def _text_edit(old: str, new: str, file: str = TP) -> Callable[[Path], Path]:
    def apply(pack_dir: Path) -> Path:
        path = pack_dir / "talking_points" / f"{file}.yaml"
        text = path.read_text(encoding="utf-8")
        assert old in text
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
        return path

    return apply


def _walk(data: Any, path: str) -> tuple[Any, Any]:
    """The container holding the last element of a dotted path ("sources.0.url") and that element's key."""
    *parents, last = path.split(".")
    node: Any = data
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node, int(last) if isinstance(node, list) else last


def _set(path: str, value: Any) -> Callable[[dict], None]:
    def fn(data: dict) -> None:
        node, key = _walk(data, path)
        node[key] = value

    return fn


def _del(path: str) -> Callable[[dict], None]:
    def fn(data: dict) -> None:
        node, key = _walk(data, path)
        del node[key]

    return fn


def _rename(path: str, new_key: str) -> Callable[[dict], None]:
    def fn(data: dict) -> None:
        node, key = _walk(data, path)
        node[new_key] = node.pop(key)

    return fn


def _asserts_in(langs: list[str]) -> Callable[[dict], None]:
    def fn(data: dict) -> None:
        for i, item in enumerate(data["exemplars"]["assert"]):
            item["lang"] = langs[i % len(langs)]

    return fn


def _truncate(stance: str, n: int) -> Callable[[dict], None]:
    def fn(data: dict) -> None:
        data["exemplars"][stance] = data["exemplars"][stance][:n]

    return fn


def _duplicate_exemplar(data: dict) -> None:
    data["exemplars"]["refute"].append(dict(data["exemplars"]["assert"][0]))


# (case id, mutation, field path, message fragment)
TP_CASES = [
    ("missing cards.uk", _tp_mutation(_del("cards.uk")), "cards.uk", "missing (the pack lists this language)"),
    ("missing cards.en", _tp_mutation(_del("cards.en")), "cards.en", "missing"),
    ("summary too long", _tp_mutation(_set("cards.en.summary", "x" * 731)), "cards.en.summary",
     "731 characters (max 600)"),
    ("title too long", _tp_mutation(_set("cards.ru.title", "я" * 121)), "cards.ru.title", "121 characters (max 120)"),
    ("title on two lines", _tp_mutation(_set("cards.en.title", "Two\nlines")), "cards.en.title", "single line"),
    ("why too long", _tp_mutation(_set("cards.uk.why_it_matters", "w" * 401)), "cards.uk.why_it_matters",
     "401 characters (max 400)"),
    ("empty why", _tp_mutation(_set("cards.en.why_it_matters", "  ")), "cards.en.why_it_matters", "empty"),
    ("1 key fact", _tp_mutation(_set("cards.en.key_facts", ["Only one."])), "cards.en.key_facts",
     "1 item (need 2-4)"),
    ("5 key facts", _tp_mutation(_set("cards.ru.key_facts", ["a", "b", "c", "d", "e"])), "cards.ru.key_facts",
     "5 items (need 2-4)"),
    ("key fact too long", _tp_mutation(_set("cards.en.key_facts.1", {"text": "k" * 301, "sources": [1]})),
     "cards.en.key_facts[1].text", "301 characters (max 300)"),
    ("key fact as a bare string", _tp_mutation(_set("cards.en.key_facts.0", "No source named.")),
     "cards.en.key_facts[0]", "names no source"),
    ("key fact without sources", _tp_mutation(_set("cards.ru.key_facts.1", {"text": "Без источника."})),
     "cards.ru.key_facts[1].sources", "names no source"),
    ("key fact with empty sources", _tp_mutation(_set("cards.en.key_facts.0", {"text": "x", "sources": []})),
     "cards.en.key_facts[0].sources", "names no source"),
    ("key fact cites a missing source", _tp_mutation(_set("cards.uk.key_facts.0", {"text": "x", "sources": [1, 9]})),
     "cards.uk.key_facts[0].sources", "9 is not a source number (this talking point has 2, numbered from 1)"),
    ("key fact cites source 0", _tp_mutation(_set("cards.en.key_facts.0", {"text": "x", "sources": [0]})),
     "cards.en.key_facts[0].sources", "must be a list of source numbers"),
    ("key fact source by name", _tp_mutation(_set("cards.en.key_facts.0", {"text": "x", "sources": ["WHO"]})),
     "cards.en.key_facts[0].sources", "must be a list of source numbers"),
    ("key fact cites a source twice", _tp_mutation(_set("cards.en.key_facts.0", {"text": "x", "sources": [2, 2]})),
     "cards.en.key_facts[0].sources", "listed twice"),
    ("footnote inside a key fact", _tp_mutation(_set("cards.en.key_facts.0", {"text": "x [1]", "sources": [1]})),
     "cards.en.key_facts[0].text", "footnote numbers go in 'sources'"),
    ("key fact unknown key", _tp_mutation(_set("cards.en.key_facts.0", {"text": "x", "sources": [1], "asof": "2020"})),
     "cards.en.key_facts[0].asof", "did you mean 'as_of'?"),
    ("as_of in words", _tp_mutation(_set("cards.en.key_facts.0", {"text": "x", "sources": [1], "as_of": "March 2022"})),
     "cards.en.key_facts[0].as_of", "is not a date: write YYYY-MM-DD, YYYY-MM or YYYY"),
    ("as_of not in the calendar", _tp_mutation(_set("cards.en.key_facts.0",
                                                    {"text": "x", "sources": [1], "as_of": "2022-02-30"})),
     "cards.en.key_facts[0].as_of", "2022-02-30 is not a date in the calendar"),
    ("summary number without a source", _tp_mutation(_set("cards.en.summary", "Masts burned. In 2020, 77 burned.")),
     "cards.en.summary", 'a sentence with a number cites no source: "In 2020, 77 burned."'),
    ("summary cites a missing source", _tp_mutation(_set("cards.ru.summary", "В 2020 году сгорели 77 вышек [3].")),
     "cards.ru.summary", "[3] cites no source (this talking point has 2)"),
    ("no source with a URL", _tp_mutation(lambda d: [s.update(url="not confirmed") for s in d["sources"]]),
     "sources", "no source has a URL"),
    ("reviewed in words", _tp_mutation(_set("reviewed", "last week")), "reviewed", "is not a date"),
    ("key facts not a list", _tp_mutation(_set("cards.en.key_facts", "one fact")), "cards.en.key_facts",
     "must be a list"),
    ("card language not in pack", _tp_mutation(_set("cards.de", {"title": "t", "summary": "s", "key_facts": ["a", "b"],
                                                                  "why_it_matters": "w"})),
     "cards.de", "not in the pack's languages (en, ru, uk)"),
    ("card language typo", _tp_mutation(_rename("cards.uk", "ua")), "cards.ua", "did you mean 'uk'?"),
    ("1 source", _tp_mutation(lambda d: d.update(sources=d["sources"][:1])), "sources", "1 source (need >= 2)"),
    ("ftp url", _tp_mutation(_set("sources.1.url", "ftp://news.example.org/2020/04/masts-5g")), "sources[1].url",
     "must use https://"),
    ("url without host", _tp_mutation(_set("sources.0.url", "https:///health/5g")), "sources[0].url",
     "no valid host"),
    ("url with space", _tp_mutation(_set("sources.0.url", "https://example.org/a b")), "sources[0].url",
     "contains whitespace"),
    ("source without date", _tp_mutation(_del("sources.0.date")), "sources[0].date", "missing"),
    ("duplicate source url", _tp_mutation(_set("sources.1.url", "https://example.org/health/mythbusters-5g")),
     "sources[1].url", "same URL as sources[0]"),
    ("too few asserts", _tp_mutation(_truncate("assert", 7)), "exemplars.assert", "7 exemplars (need >= 8)"),
    ("asserts in 2 languages", _tp_mutation(_asserts_in(["en", "ru"])), "exemplars.assert",
     "2 languages (en, ru); need >= 3"),
    ("too few refutes", _tp_mutation(_truncate("refute", 3)), "exemplars.refute", "3 exemplars (need >= 4)"),
    ("too few reports", _tp_mutation(_truncate("report", 1)), "exemplars.report", "1 exemplar (need >= 2)"),
    ("no exemplars", _tp_mutation(_del("exemplars")), "exemplars", "missing"),
    ("bad stance key", _tp_mutation(_rename("exemplars.ask", "question")), "exemplars.question", "unknown stance"),
    ("stance typo", _tp_mutation(_rename("exemplars.report", "reprot")), "exemplars.reprot",
     "did you mean 'report'?"),
    ("exemplar without lang", _tp_mutation(_del("exemplars.refute.2.lang")),
     "exemplars.refute[2].lang", "missing"),
    ("exemplar with empty text", _tp_mutation(_set("exemplars.refute.0", {"text": " ", "lang": "en"})),
     "exemplars.refute[0].text", "empty"),
    ("exemplar with country code", _tp_mutation(_set("exemplars.assert.5", {"text": "Вежі 5G.", "lang": "ua"})),
     "exemplars.assert[5].lang", "'ua' is not an ISO 639-1 language code (did you mean 'uk'?)"),
    ("exemplar unknown key", _tp_mutation(_set("exemplars.report.0", {"text": "Some say so.", "lang": "en",
                                                                      "stance": "report"})),
     "exemplars.report[0].stance", "unknown key"),
    ("duplicate exemplar", _tp_mutation(_duplicate_exemplar), "exemplars.refute[4].text", "duplicate exemplar"),
    ("unknown top-level key", _tp_mutation(_rename("keywords", "keyword")), "keyword",
     "unknown key (did you mean 'keywords'?)"),
    ("unknown card key", _tp_mutation(_rename("cards.en.key_facts", "key_fact")), "cards.en.key_fact",
     "unknown key (did you mean 'key_facts'?)"),
    ("claim too long", _tp_mutation(_set("claim", "c" * 301)), "claim", "301 characters (max 300)"),
    ("claim on two lines", _tp_mutation(_set("claim", "One.\nTwo.")), "claim", "single line"),
    ("empty claim", _tp_mutation(_set("claim", "")), "claim", "empty"),
    ("claim not a string", _tp_mutation(_set("claim", ["a", "b"])), "claim", "must be a string"),
    ("id differs from file", _tp_mutation(_set("id", "5g-causes-covid")), "id",
     f"does not match the file name '{TP}.yaml'"),
    ("id not a slug", _tp_mutation(_set("id", "5G_Spreads")), "id", "is not a slug"),
    ("bad rating", _tp_mutation(_set("rating", "Pants on fire")), "rating", "is not a rating"),
    ("keyword not text", _tp_mutation(_set("keywords", ["5g", None])), "keywords[1]", "empty"),
]


@pytest.mark.parametrize(("mutate", "field", "message"), [c[1:] for c in TP_CASES], ids=[c[0] for c in TP_CASES])
def test_invalid_talking_point_is_rejected_naming_file_tp_and_field(tmp_path, mutate, field, message):
    pack_dir = copy_valid(tmp_path)
    changed = mutate(pack_dir)

    err = error_of(pack_dir)

    matching = [line for line in err.errors if f" {field}: " in line and message in line]
    assert matching, f"no error for {field!r} containing {message!r} in:\n{err}"
    line = matching[0]
    assert line.startswith(str(changed.relative_to(Path.cwd())) if changed.is_relative_to(Path.cwd()) else str(changed))
    assert changed.name in line
    tp_label = read(changed)["id"]  # messages name the talking point by its id
    assert f"talking point '{tp_label}'" in line
    assert str(err) == "\n".join(err.errors)


PACK_CASES = [
    ("schema 2", _pack_mutation(_set("schema", 2)), "schema", "unsupported schema 2"),
    ("schema missing", _pack_mutation(_del("schema")), "schema", "missing"),
    ("pack id not a slug", _pack_mutation(_set("id", "Fixture Pack")), "id", "is not a slug"),
    ("languages without en", _pack_mutation(_set("languages", ["ru", "uk"])), "languages", "must include 'en'"),
    ("language typo", _pack_mutation(_set("languages", ["en", "ru", "ua"])), "languages[2]", "did you mean 'uk'?"),
    ("unquoted float version", _pack_mutation(_set("version", 2026.1)), "version", "must be a string"),
    ("unknown pack key", _pack_mutation(_rename("description", "descripton")), "descripton",
     "unknown key (did you mean 'description'?)"),
    ("talking_points in pack.yaml", _pack_mutation(_set("talking_points", [])), "talking_points",
     "not allowed in pack.yaml"),
    ("background not a list", _pack_mutation(_set("background", "russia ukraine")), "background",
     "must be a list of words"),
    ("background phrase", _pack_mutation(_set("background", ["russia", "armed forces"])), "background[1]",
     "must be a single word"),
]


def test_pack_background_vocabulary_loads_and_counts_in_the_fingerprint(tmp_path):
    pack_dir = copy_valid(tmp_path)
    before = PackRegistry([load_pack(pack_dir)]).fingerprint()
    _pack_mutation(_set("background", ["Russia", "invaded"]))(pack_dir)
    pack = load_pack(pack_dir)
    assert pack.background == ("Russia", "invaded")
    assert PackRegistry([pack]).fingerprint() != before  # the detector cache is rebuilt


@pytest.mark.parametrize(("mutate", "field", "message"), [c[1:] for c in PACK_CASES], ids=[c[0] for c in PACK_CASES])
def test_invalid_pack_metadata_is_rejected_naming_file_and_field(tmp_path, mutate, field, message):
    pack_dir = copy_valid(tmp_path)
    mutate(pack_dir)

    err = error_of(pack_dir)

    assert any("pack.yaml" in line and f" {field}: " in line and message in line for line in err.errors), str(err)


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    pack_dir = copy_valid(tmp_path)
    path = pack_dir / "talking_points" / f"{TP}.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    bad_line = next(i for i, l in enumerate(lines) if l.startswith("sources:")) + 1
    lines[bad_line - 1] = "sources: [unclosed"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    err = error_of(pack_dir)

    assert len(err.errors) == 1
    message = err.errors[0]
    assert f"{TP}.yaml:" in message
    assert f"talking point '{TP}'" in message
    assert "YAML syntax error" in message
    line_no = int(message.split(f"{TP}.yaml:")[1].split(":")[0])
    assert line_no >= bad_line


def test_duplicate_yaml_key_is_an_error_with_its_line(tmp_path):
    pack_dir = copy_valid(tmp_path)
    path = pack_dir / "talking_points" / f"{TP2}.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('claim: "Taking', 'claim: "first"\nclaim: "Taking'), encoding="utf-8")

    err = error_of(pack_dir)

    assert f"{TP2}.yaml:3:" in str(err)  # the second `claim:` is on line 3
    assert "found duplicate key 'claim'" in str(err)


def test_error_lines_point_at_the_offending_key(tmp_path):
    pack_dir = copy_valid(tmp_path)
    path = pack_dir / "talking_points" / f"{TP}.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("COVID-19 spread in many countries that had", "x" * 600, 1), encoding="utf-8")
    summary_line = next(i for i, l in enumerate(text.splitlines(), 1) if l.strip().startswith("summary:"))

    err = error_of(pack_dir)

    assert err.errors[0].startswith(f"{path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}"
                                    f":{summary_line}: talking point '{TP}': cards.en.summary: ")


def test_all_errors_of_a_pack_are_reported_together(tmp_path):
    pack_dir = copy_valid(tmp_path)
    _tp_mutation(_set("cards.en.summary", "x" * 700))(pack_dir)
    _tp_mutation(_truncate("assert", 2), file=TP2)(pack_dir)
    _pack_mutation(_set("schema", 3))(pack_dir)

    err = error_of(pack_dir)

    assert len(err.errors) >= 4
    text = str(err)
    assert "pack.yaml:1: schema: unsupported schema 3" in text
    assert f"talking point '{TP}': cards.en.summary: 700 characters (max 600)" in text
    assert f"talking point '{TP2}': exemplars.assert: 2 exemplars (need >= 8)" in text
    assert f"talking point '{TP2}': exemplars.assert: 1 language (en); need >= 3" in text


def test_errors_in_a_single_file_pack_name_file_and_talking_point(tmp_path):
    data = read(SINGLE)
    data["talking_points"][1]["cards"]["en"]["summary"] = "s" * 650
    del data["talking_points"][0]["cards"]["ru"]
    path = tmp_path / "mypack.yaml"
    write(path, data)

    err = error_of(path)

    assert any(l.startswith(str(path)) and f"talking point '{TP2}': cards.en.summary: 650 characters (max 600)" in l
               for l in err.errors), str(err)
    assert any("mypack.yaml:" in l and f"talking point '{TP}': cards.ru: missing" in l for l in err.errors), str(err)


def test_single_file_pack_rejects_duplicate_talking_point_ids(tmp_path):
    data = read(SINGLE)
    data["talking_points"].append(copy.deepcopy(data["talking_points"][0]))
    path = tmp_path / "dupes.yaml"
    write(path, data)

    err = error_of(path)

    assert f"talking point '{TP}': id: used by more than one talking point" in str(err)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda d: shutil.rmtree(d / "talking_points"), "talking_points directory is missing"),
        (lambda d: [p.unlink() for p in (d / "talking_points").iterdir()], "no talking points"),
        (lambda d: (d / "pack.yaml").unlink(), "pack.yaml is missing"),
        (lambda d: (d / "talking_points" / "new-point.yaml").write_text(""), "talking point 'new-point': the file is empty"),
        (lambda d: (d / "pack.yaml").write_text("- just\n- a list\n"), "pack.yaml must be a mapping"),
    ],
    ids=["no talking_points dir", "empty talking_points dir", "no pack.yaml", "empty tp file", "pack.yaml list"],
)
def test_broken_pack_layout_is_reported(tmp_path, setup, message):
    pack_dir = copy_valid(tmp_path)
    setup(pack_dir)

    assert message in str(error_of(pack_dir))


def test_missing_path_is_a_pack_error(tmp_path):
    assert "no such pack" in str(error_of(tmp_path / "nope"))


def test_files_other_than_yaml_in_talking_points_are_ignored(tmp_path):
    pack_dir = copy_valid(tmp_path)
    (pack_dir / "talking_points" / "README.md").write_text("notes")
    (pack_dir / "talking_points" / f".{TP}.yaml.swp").write_text("\0garbage")

    assert len(load_pack(pack_dir).talking_points) == 2


# -------------------------------------------------------------------------------------------- registry


def _renamed_pack(tmp_path: Path, name: str, pack_id: str, tp_renames: dict[str, str] | None = None) -> Path:
    pack_dir = copy_valid(tmp_path, name)
    _pack_mutation(_set("id", pack_id))(pack_dir)
    for old, new in (tp_renames or {}).items():
        path = pack_dir / "talking_points" / f"{old}.yaml"
        data = read(path)
        data["id"] = new
        path.unlink()
        write(pack_dir / "talking_points" / f"{new}.yaml", data)
    return pack_dir


def test_duplicate_talking_point_id_across_packs_is_rejected(tmp_path):
    other = _renamed_pack(tmp_path, "other", "other-pack", {TP2: "vitamin-c-other"})

    with pytest.raises(PackError) as info:
        PackRegistry.load([VALID, other])

    assert len(info.value.errors) == 1
    message = info.value.errors[0]
    assert f"{TP}.yaml" in message and "other" in message
    assert f"talking point '{TP}': id: duplicate talking point id" in message
    assert "pack 'fixture-pack' already defines it" in message


def test_same_pack_loaded_twice_is_rejected():
    with pytest.raises(PackError, match="pack 'fixture-pack' is loaded twice"):
        PackRegistry([load_pack(VALID), load_pack(SINGLE)])


def test_load_packs_collects_errors_of_every_pack(tmp_path):
    a = copy_valid(tmp_path, "a")
    b = _renamed_pack(tmp_path, "b", "pack-b", {TP: "tp-b1", TP2: "tp-b2"})
    _tp_mutation(_del("cards.ru"))(a)
    _tp_mutation(_del("sources"), file="tp-b1")(b)

    with pytest.raises(PackError) as info:
        load_packs([a, b])

    text = str(info.value)
    assert f"talking point '{TP}': cards.ru: missing" in text
    assert "talking point 'tp-b1': sources: missing" in text


@pytest.fixture
def registry(tmp_path) -> PackRegistry:
    """fixture-pack plus a second pack whose two talking points have their own ids, claims and titles."""
    other = _renamed_pack(tmp_path, "other", "other-pack", {TP: "5g-masts-burned", TP2: "colds-and-weather"})
    texts = {
        "5g-masts-burned": ("Phone masts burned down by themselves.",
                            {"en": "Did phone masts burn by themselves?", "ru": "Вышки связи загорелись сами?",
                             "uk": "Вежі зв'язку загорілися самі?"}),
        "colds-and-weather": ("Cold weather itself gives you a cold.",
                              {"en": "Does cold weather give you a cold?", "ru": "Простужаются ли от холодной погоды?",
                               "uk": "Чи застуджуються від холодної погоди?"}),
    }
    for tp_id, (claim, titles) in texts.items():
        path = other / "talking_points" / f"{tp_id}.yaml"
        data = read(path)
        data["claim"] = claim
        for lang, title in titles.items():
            data["cards"][lang]["title"] = title
        write(path, data)
    return PackRegistry.load([VALID, other])


def test_registry_lookup(registry):
    assert [p.id for p in registry.packs] == ["fixture-pack", "other-pack"]
    assert [tp.id for tp in registry.talking_points()] == [TP, TP2, "5g-masts-burned", "colds-and-weather"]
    assert [tp.id for tp in registry.talking_points(["other-pack"])] == ["5g-masts-burned", "colds-and-weather"]
    assert registry.talking_points(["no-such-pack"]) == []
    assert registry.talking_points([]) == []
    assert registry.get(TP2).claim == "Taking vitamin C cures the common cold."
    assert registry.get("nope") is None
    assert registry.pack_of("colds-and-weather").id == "other-pack"
    assert registry.pack_of("nope") is None
    assert len(registry) == 4 and TP in registry


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("5g-spreads-covid", [TP]),  # exact id
        ("5G", [TP, "5g-masts-burned"]),  # case-insensitive id prefix, registry order within a tier
        ("vit", [TP2]),  # id prefix
        ("does vitamin", [TP2]),  # English title prefix
        ("does", [TP2, "colds-and-weather"]),
        ("COMMON COLD", [TP2]),  # in the claim
        ("weather", ["colds-and-weather"]),  # a word of the claim and title
        ("колд", []),
        ("вышки", ["5g-masts-burned"]),  # Russian title prefix
        ("простуж", ["colds-and-weather"]),  # Russian title prefix
        ("простуд", [TP2]),  # a word in TP2's Russian title
        ("застуд", [TP2, "colds-and-weather"]),  # Ukrainian titles: word prefix in both
        ("colds", ["colds-and-weather", TP2]),  # id prefix beats a word inside TP2's id
        ("coronavirus spread", [TP]),  # every word somewhere, not contiguous
        ("mobile", [TP]),  # word in the claim
        ("zzz", []),
    ],
)
def test_registry_search(registry, query, expected):
    assert [tp.id for tp in registry.search(query)] == expected


def test_registry_search_prefix_matches_come_first_and_limit_applies(registry):
    # "co": prefix of the id "colds-and-weather" (tier 1), start of the words "covid"/"colds" in the other ids
    ids = [tp.id for tp in registry.search("co")]
    assert ids == ["colds-and-weather", TP, TP2]
    assert [tp.id for tp in registry.search("co", limit=2)] == ids[:2]
    assert [tp.id for tp in registry.search("", limit=3)] == [TP, TP2, "5g-masts-burned"]
    assert registry.search("5g", limit=0) == []


def test_fingerprint_depends_on_content_only(tmp_path):
    fp = PackRegistry.load([VALID]).fingerprint()
    assert len(fp) == 64 and int(fp, 16) >= 0

    assert PackRegistry.load([SINGLE]).fingerprint() == fp  # same content, other file layout and location
    assert PackRegistry.load([copy_valid(tmp_path, "copy")]).fingerprint() == fp

    changed = copy_valid(tmp_path, "changed")
    _tp_mutation(_set("exemplars.report.1.text", "Someone on TV said 5G spreads covid."))(changed)
    assert PackRegistry.load([changed]).fingerprint() != fp

    other = _renamed_pack(tmp_path, "other", "other-pack", {TP: "a-one", TP2: "a-two"})
    both = PackRegistry.load([VALID, other]).fingerprint()
    assert PackRegistry.load([other, VALID]).fingerprint() == both != fp


# ------------------------------------------------------------------------------------ shipped packs


def test_default_pack_dirs_lists_the_shipped_packs():
    dirs = default_pack_dirs()

    assert REPO / "bot" / "packs" / "ukraine-war" in dirs
    assert dirs == sorted(dirs)
    assert all((d / "pack.yaml").is_file() for d in dirs)


def test_every_shipped_pack_loads():
    """Passes once the content in bot/packs is complete; a failure lists every content error."""
    registry = PackRegistry.load(default_pack_dirs())

    assert registry.packs
    for pack in registry.packs:
        assert pack.talking_points, f"{pack.id}: no talking points"
        for tp in pack.talking_points:
            assert set(pack.languages) <= set(tp.cards)
    assert registry.pack_of(registry.talking_points()[0].id) is not None


def test_core_modules_do_not_import_platform_or_network_libraries():
    code = (
        "import sys, bot.core.packs, bot.core.claimreview\n"
        "bad = {'discord', 'nio', 'aiosqlite', 'httpx'} & {m.split('.')[0] for m in sys.modules}\n"
        "print(sorted(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert result.stdout.strip() == "[]"


# ------------------------------------------------------------------------ citations, "as of", review dates


def test_key_facts_carry_their_sources_and_as_of_dates_and_unconfirmed_urls_load(tmp_path):
    pack_dir = copy_valid(tmp_path)
    path = pack_dir / "talking_points" / f"{TP}.yaml"
    data = read(path)
    data["reviewed"] = "2026-11-30"
    data["cards"]["en"]["summary"] = "In 2020, 77 masts burned in the UK [2]. Germany: am 16. April 2020 brannten 3 [1][2]."
    data["cards"]["en"]["key_facts"][1] = {"text": "77 masts burned.", "sources": [2, 1], "as_of": "2020-04"}
    data["sources"].append({"publisher": "Ofcom", "title": "Mast incidents", "url": "Not Confirmed", "date": "2020"})
    write(path, data)
    # unquoted YAML dates are read as dates; they are accepted as written
    path.write_text(path.read_text(encoding="utf-8").replace("reviewed: '2026-11-30'", "reviewed: 2026-11-30"))

    tp = load_pack(pack_dir).get(TP)

    assert tp.reviewed == "2026-11-30"
    assert tp.cards["en"].key_facts[1] == KeyFact("77 masts burned.", sources=(2, 1), as_of="2020-04")
    assert tp.sources[2] == Source("Ofcom", "Mast incidents", "", "2020")  # "not confirmed": no URL


@pytest.mark.parametrize("summary", [
    "Masts burned after 5G rumours; COVID-19 and SARS-CoV-2 are names, not figures.",  # digits inside names
    "Am 16. April 2020 brannten Masten [1].",  # a German ordinal does not end the sentence before the citation
    "In 2020 masts burned [1]. Nobody was hurt.",
])
def test_summary_sentences_with_numbers_need_a_citation_names_do_not(tmp_path, summary):
    pack_dir = copy_valid(tmp_path)
    _tp_mutation(_set("cards.en.summary", summary))(pack_dir)
    assert load_pack(pack_dir).get(TP).cards["en"].summary == summary


def _pack_with_facts(as_of: dict[str, list[str]], reviewed: str) -> Pack:
    """A one-talking-point pack whose cards have one key fact per given "as of" date ("" for none)."""

    def card(dates: list[str]) -> CardText:
        facts = tuple(KeyFact(f"fact {i}", (1,), date) for i, date in enumerate(dates))
        return CardText(title="t", summary="s", key_facts=facts, why_it_matters="w")

    tp = TalkingPoint(id="tp", claim="c", cards={lang: card(dates) for lang, dates in as_of.items()},
                      sources=(Source("P", "T", "https://e.org/", "2020"),), exemplars=(), reviewed=reviewed)
    return Pack(id="p", version="1", name="P", description="", languages=tuple(as_of), talking_points=(tp,))


@pytest.mark.parametrize(("as_of", "reviewed", "expected"), [
    # a month counts to its last day, a year to 31 December: "as of Jan 2024" is 730 days old on 2026-01-30
    ({"en": ["2024-01", ""]}, "2026-01-01", []),
    ({"en": ["2024-01-31", ""]}, "2026-01-01", []),
    ({"en": ["2024-01-30", ""]}, "2026-01-01",
     ["cards.en.key_facts[0].as_of: 2024-01-30 is 731 days old (max 730)"]),
    ({"en": ["", "2023"]}, "2026-01-01", ["cards.en.key_facts[1].as_of: 2023 is 761 days old (max 730)"]),
    # the same stale fact in every language is reported once, naming the languages
    ({"en": ["2020", ""], "de": ["2020", ""]}, "2026-01-01",
     ["cards.en/de.key_facts[0].as_of: 2020 is 1856 days old (max 730)"]),
    ({"en": ["", ""]}, "", ["reviewed: no review date"]),
])
def test_pack_warnings_name_stale_as_of_dates_and_missing_reviews(as_of, reviewed, expected):
    warnings = pack_warnings([_pack_with_facts(as_of, reviewed)], today=dt.date(2026, 1, 30), max_age_days=730)

    assert len(warnings) == len(expected)
    for warning, fragment in zip(warnings, expected):
        assert "talking point 'tp'" in warning and fragment in warning


def test_the_shipped_pack_names_a_review_date_for_every_talking_point():
    [shipped] = [load_pack(d) for d in default_pack_dirs() if d.name == "ukraine-war"]
    for tp in shipped.talking_points:
        assert tp.reviewed, tp.id
        for lang, card in tp.cards.items():
            assert all(1 <= n <= len(tp.sources) for f in card.key_facts for n in f.sources), (tp.id, lang)
