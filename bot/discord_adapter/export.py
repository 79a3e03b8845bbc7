"""Incident export for /incidents export: CSV (spreadsheet-safe) and JSON, fitted to Discord's upload limit."""

from __future__ import annotations

import csv
import gzip
import io
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

from bot.core.models import Incident

FIELDS = (
    "id", "platform", "server_id", "channel_id", "message_id", "message_link", "author_id", "talking_point_id",
    "stance", "score", "match_score", "action", "status", "reviewer", "note", "group_id", "hit_count",
    "created_at", "updated_at", "resolved_at", "content",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def incident_record(incident: Incident) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in FIELDS:
        value = getattr(incident, name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif hasattr(value, "value"):  # enums
            value = value.value
        out[name] = value
    return out


def _cell(value: Any) -> Any:
    """Neutralise spreadsheet formulas (CSV injection) in text cells."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def incidents_to_csv(incidents: Iterable[Incident]) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for incident in incidents:
        writer.writerow({k: _cell(v) for k, v in incident_record(incident).items()})
    return buf.getvalue().encode("utf-8")


def incidents_to_json(incidents: Iterable[Incident]) -> bytes:
    return json.dumps([incident_record(i) for i in incidents], ensure_ascii=False, indent=2).encode("utf-8")


@dataclass(frozen=True)
class FittedExport:
    data: bytes
    filename: str
    included: int  # incidents in the file: all of them, or the oldest ones that fit


def fit_export(incidents: list[Incident], fmt: str, limit: int, stem: str) -> FittedExport:
    """The export as one file of at most ``limit`` bytes (the interaction's ``attachment_size_limit``): as is if
    it fits, else gzip-compressed (``.gz``), else the gzip of as many of the first incidents as fit."""
    encode = incidents_to_json if fmt == "json" else incidents_to_csv
    name = f"{stem}.{fmt}"
    data = encode(incidents)
    if len(data) <= limit:
        return FittedExport(data, name, len(incidents))
    packed = gzip.compress(data, mtime=0)
    count = len(incidents)
    while len(packed) > limit and count > 0:
        # shrink in proportion to the overshoot (a little more, so one or two rounds are enough)
        count = min(count - 1, int(count * limit / len(packed) * 0.95))
        packed = gzip.compress(encode(incidents[:max(count, 0)]), mtime=0)
    return FittedExport(packed, name + ".gz", max(count, 0))
