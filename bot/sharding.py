"""Which Discord shards this process runs (several processes, each its own shard range, one database).

``shard_ids`` is written as a list (``[0, 1]``) or a string of numbers and ranges (``"0-3,8"``); the environment
variables ``CONTEXTBOT_SHARD_IDS`` / ``CONTEXTBOT_SHARD_COUNT`` override the file (one config file, one
environment per process). Shard ids need ``shard_count`` and must each be below it.
"""

from __future__ import annotations

from typing import Any


def parse_shard_ids(value: Any) -> tuple[int, ...]:
    """``[0, 1]`` / ``"0-3,8"`` -> (0, 1, 2, 3, 8); ValueError for anything else."""
    if isinstance(value, (list, tuple)):
        items = [str(v) for v in value]
    elif isinstance(value, (str, int)) and not isinstance(value, bool):
        items = [p for p in str(value).replace(" ", "").split(",") if p]
    else:
        raise ValueError(f"expected a list of shard numbers or a string like '0-3,8', got {value!r}")
    ids: list[int] = []
    for item in items:
        lo, sep, hi = item.partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            raise ValueError(f"bad shard id or range {item!r}")
        start, end = int(lo), int(hi) if sep else int(lo)
        if end < start:
            raise ValueError(f"bad shard range {item!r} (end before start)")
        ids.extend(range(start, end + 1))
    if not ids:
        raise ValueError("no shard ids given")
    if len(set(ids)) != len(ids):
        raise ValueError(f"shard ids repeat: {value!r}")
    return tuple(sorted(ids))


def check_shards(shard_ids: tuple[int, ...] | None, shard_count: int | None) -> None:
    if shard_ids is None:
        return
    if shard_count is None:
        raise ValueError("shard_ids needs shard_count (the total number of shards across all processes)")
    bad = [i for i in shard_ids if i >= shard_count]
    if bad:
        raise ValueError(f"shard ids {bad} are not below shard_count {shard_count}")


__all__ = ["check_shards", "parse_shard_ids"]
