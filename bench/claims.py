"""Real disinformation claims from the EUvsDisinfo database, mapped by hand to the pack's talking points.

Only our labels are committed (``data/claims/labels.jsonl``: id, label, talking_point, lang); the claim texts
are read from the public snapshot of a scraped copy of the database (see data/claims/README.md) or from a
directory in CONTEXTBOT_CLAIMS_DIR holding that copy's ``posts.csv``. A row's id is the first 16 hex digits of
the SHA-1 of the entry's euvsdisinfo.eu URL, so the labels carry no third-party text.

Split rule: a row belongs to the tune half when int(sha1(id), 16) is even, to the check half otherwise.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from snapshot import Snapshot  # noqa: E402

SNAPSHOT = dict(repo="cknabs/EUvsDisinfo", commit="c4acb109041bdca2ecff7036b4865cf16eef52cf", root="data",
                env_var="CONTEXTBOT_CLAIMS_DIR")
POSTS_FILE = "posts.csv"
LABELS = ROOT / "data" / "claims" / "labels.jsonl"
SPLITS = ("tune", "check")


def snapshot() -> Snapshot:
    return Snapshot(**SNAPSHOT)


def claim_id(url: str) -> str:
    """The committed id of a database entry: a digest of its URL (no text of the entry)."""
    return hashlib.sha1(url.strip().encode("utf-8")).hexdigest()[:16]


def split_of(row_id: str) -> str:
    """Deterministic 50/50 split on the id: tune when the id's SHA-1 is even, check otherwise."""
    return "tune" if int(hashlib.sha1(row_id.encode("utf-8")).hexdigest(), 16) % 2 == 0 else "check"


def load_labels(path: Path = LABELS) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_rows(snap: Snapshot | None = None, labels_path: Path = LABELS) -> list[dict]:
    """Labelled rows joined with their claim text: id, text, label, talking_point, lang, split, date.

    Raises LookupError when a labelled id is missing from the snapshot (wrong commit or copy)."""
    snap = snap or snapshot()
    posts = {}
    for rec in csv.DictReader(io.StringIO(snap.read_text(POSTS_FILE))):
        posts[claim_id(rec["id"])] = rec
    rows = []
    for lab in load_labels(labels_path):
        rec = posts.get(lab["id"])
        if rec is None:
            raise LookupError(f"labelled claim {lab['id']} is not in {snap.where}")
        rows.append({**lab, "text": rec["title"], "date": rec.get("date", ""), "split": split_of(lab["id"])})
    return rows
