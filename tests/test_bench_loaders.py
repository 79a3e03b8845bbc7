"""The loaders of third-party benchmark data (bench/snapshot.py, bench/rumoureval.py, bench/claims.py) on tiny data
written here: where the data is missing, what they read from a directory or a git snapshot, the split rule."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import claims  # noqa: E402
import rumoureval  # noqa: E402
from snapshot import Snapshot  # noqa: E402

from bot.core.stance import N_CUES, N_KNN, STANCES  # noqa: E402


def _write(base: Path, rel: str, content) -> None:
    path = base / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")


# ------------------------------------------------------------------------------------------- unavailable


@pytest.mark.parametrize("script, env_var, repo", [
    ("rumoureval.py", "CONTEXTBOT_RUMOUREVAL_DIR", "Darex20/rumour-eval"),
    ("eval_claims.py", "CONTEXTBOT_CLAIMS_DIR", "cknabs/EUvsDisinfo"),
])
def test_a_bench_without_its_data_prints_na_with_the_fetch_source_and_exits_0(tmp_path, script, env_var, repo):
    env = {"PATH": "/usr/bin:/bin", "CONTEXTBOT_MIRROR_DIR": str(tmp_path / "no-mirror")}
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / script)], capture_output=True, text=True,
                          timeout=300, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "n/a" in proc.stdout
    assert f"fetch github:{repo}@" in proc.stdout
    assert env_var in proc.stdout


def test_a_directory_named_in_the_env_var_that_does_not_exist_is_unavailable(tmp_path, monkeypatch):
    monkeypatch.setenv("SOME_DATA_DIR", str(tmp_path / "missing"))
    snap = Snapshot("owner/name", "0" * 40, env_var="SOME_DATA_DIR", mirror_root=tmp_path)
    assert not snap.available()
    assert snap.unavailable_message().startswith("n/a")


# ------------------------------------------------------------------------------------------- git snapshot


def test_a_git_snapshot_is_read_at_the_pinned_commit_not_at_its_newest(tmp_path):
    git_dir = tmp_path / "mirror" / "owner+name" / "repo"
    work = tmp_path / "work"
    _write(work, "data/a.txt", "first")
    _write(work, "data/sub/b.json", {"x": 1})
    run = lambda *a: subprocess.run(["git", "-C", str(work), *a], check=True, capture_output=True, text=True)  # noqa: E731
    run("init", "-q")
    run("add", ".")
    run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    pinned = run("rev-parse", "HEAD").stdout.strip()
    _write(work, "data/a.txt", "second")
    run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "two")
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(git_dir)], check=True)

    snap = Snapshot("owner/name", pinned, root="data", mirror_root=tmp_path / "mirror")
    assert snap.available()
    assert snap.list_files() == ["a.txt", "sub/b.json"]
    assert snap.read_many(["sub/b.json", "a.txt"]) == {"sub/b.json": b'{"x": 1}', "a.txt": b"first"}
    with pytest.raises(FileNotFoundError):
        snap.read_many(["nope.txt"])
    assert not Snapshot("owner/name", "f" * 40, mirror_root=tmp_path / "mirror").available()


# ------------------------------------------------------------------------------------------- RumourEval


def _tiny_rumoureval(base: Path) -> None:
    _write(base, "final-eval-key.json", {"subtaskaenglish": {
        "100": "support", "101": "deny", "102": "query", "r1": "query", "c1": "comment", "c2": "comment"}})
    t = "rumoureval-2019-test-data/twitter-en-test-data/event/100"
    _write(base, f"{t}/source-tweet/100.json", {"text": "The bridge has collapsed"})
    _write(base, f"{t}/replies/101.json", {"text": "No it has not, I just drove over it"})
    _write(base, f"{t}/replies/102.json", {"text": "Source?"})
    _write(base, f"{t}/replies/103.json", {"text": "unlabelled reply"})
    r = "rumoureval-2019-test-data/reddit-test-data/r1"
    _write(base, f"{r}/source-tweet/r1.json", {"kind": "Listing", "data": {"children": [
        {"kind": "t3", "data": {"title": "Is the moon hollow?", "selftext": "long text"}}]}})
    _write(base, f"{r}/replies/c1.json", {"kind": "t1", "data": {"body": "lol"}})
    _write(base, f"{r}/replies/c2.json", {"kind": "more", "data": {"id": "c2"}})
    _write(base, "rumoureval-2019-test-data/twitter-eval-data/x/9/source-tweet/9.json", {"text": "not official"})


def test_rumoureval_pairs_each_labelled_reply_with_its_threads_source_post(tmp_path, monkeypatch):
    _tiny_rumoureval(tmp_path)
    monkeypatch.setenv("CONTEXTBOT_RUMOUREVAL_DIR", str(tmp_path))
    pairs = {p.id: p for p in rumoureval.load_pairs()}
    assert set(pairs) == {"100", "101", "102", "r1", "c1", "c2"}  # unlabelled and non-official posts left out
    assert (pairs["101"].claim, pairs["101"].message, pairs["101"].label) == (
        "The bridge has collapsed", "No it has not, I just drove over it", "deny")
    assert pairs["c1"].claim == "Is the moon hollow?" and pairs["c1"].platform == "reddit"  # a Reddit title
    assert pairs["c2"].message == ""  # a "more" stub has no text
    assert pairs["100"].is_source and pairs["r1"].is_source and not pairs["101"].is_source


@pytest.mark.parametrize("gold, pred, macro", [
    (["support", "deny", "query", "comment"], ["support", "deny", "query", "comment"], 1.0),
    (["comment"] * 3 + ["deny"], ["comment"] * 4, (2 * 0.75 / 1.75) / 4),  # comment P .75 R 1, others 0
])
def test_rumoureval_macro_f1_averages_the_four_classes(gold, pred, macro):
    assert rumoureval.scores(gold, pred)["macro_f1"] == pytest.approx(macro)


class _FakeEncoder:
    dim = 3

    def encode(self, texts):
        table = {"claim": [1.0, 0.0, 0.0], "message": [0.6, 0.8, 0.0]}
        return np.array([table[t] for t in texts], dtype=np.float32)


class _RecordingModel:
    def __init__(self):
        self.calls = []

    def predict_proba(self, dense, text):
        self.calls.append((dense, text))
        return np.full(len(STANCES), 1 / len(STANCES), dtype=np.float32)


class _FakeDetector:
    def __init__(self):
        self.encoder, self.model = _FakeEncoder(), _RecordingModel()


def test_claim_stance_uses_no_exemplar_evidence_and_the_message_claim_cosine():
    det = _FakeDetector()
    probs = rumoureval.claim_stance_probs(det, ["claim"], ["message"])
    assert probs.shape == (1, len(STANCES))
    dense, text = det.model.calls[0]
    assert text == "message"
    assert dense.shape == (3 + N_KNN + N_CUES,)
    np.testing.assert_allclose(dense[:3], [0.6, 0.8, 0.0])  # the message embedding
    np.testing.assert_allclose(dense[3:3 + N_KNN], [0, 0, 0, 0, 0, 0.6], atol=1e-6)  # no exemplars; cosine 0.6


# ------------------------------------------------------------------------------------------- claims


def test_claims_split_is_a_stable_half_and_half_rule_on_the_id():
    ids = [f"{i:016x}" for i in range(2000)]
    halves = [claims.split_of(i) for i in ids]
    assert halves == [claims.split_of(i) for i in ids]  # deterministic
    assert set(halves) == {"tune", "check"}
    assert 0.45 < halves.count("tune") / len(halves) < 0.55


def test_claims_rows_join_our_labels_with_the_text_of_the_copy(tmp_path, monkeypatch):
    urls = ["https://euvsdisinfo.eu/report/a/", "https://euvsdisinfo.eu/report/b/"]
    with (tmp_path / "posts.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["date", "id", "title"])
        w.writeheader()
        w.writerow({"date": "2020-01-01", "id": urls[0], "title": "Claim A"})
        w.writerow({"date": "2020-01-02", "id": urls[1], "title": "Claim B"})
    labels = tmp_path / "labels.jsonl"
    labels.write_text(json.dumps({"id": claims.claim_id(urls[1]), "label": "assert", "talking_point": "tp",
                                  "lang": "en"}) + "\n", encoding="utf-8")
    monkeypatch.setenv("CONTEXTBOT_CLAIMS_DIR", str(tmp_path))
    [row] = claims.load_rows(labels_path=labels)
    assert (row["text"], row["talking_point"], row["split"]) == ("Claim B", "tp", claims.split_of(row["id"]))

    labels.write_text(json.dumps({"id": "ffffffffffffffff", "label": "none", "talking_point": None,
                                  "lang": "en"}) + "\n", encoding="utf-8")
    with pytest.raises(LookupError):
        claims.load_rows(labels_path=labels)


def test_committed_claim_labels_carry_no_text_and_only_known_talking_points():
    from bot.core.packs import PackRegistry

    known = {tp.id for tp in PackRegistry.load().talking_points()}
    rows = claims.load_labels()
    assert rows and all(set(r) == {"id", "label", "talking_point", "lang"} for r in rows)
    assert all(len(r["id"]) == 16 and int(r["id"], 16) >= 0 for r in rows)
    assert all((r["label"] == "assert" and r["talking_point"] in known) or
               (r["label"] == "none" and r["talking_point"] is None) for r in rows)
