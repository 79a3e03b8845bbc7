"""bench/encoders_compare.py: the rank AUC it reports (the encoders themselves are measured, not tested)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import encoders_compare  # noqa: E402


@pytest.mark.parametrize("pos,neg,expected", [
    ([0.9, 0.8], [0.1, 0.2, 0.3], 1.0),  # every assertion above every wild row
    ([0.1, 0.2], [0.8, 0.9], 0.0),
    ([0.5], [0.5], 0.5),  # a tie counts half
    ([0.9, 0.4], [0.5, 0.1], 0.75),  # 3 of 4 pairs ordered
    ([0.5, 0.5], [0.5, 0.1], 0.75),  # ties among several values
])
def test_auc_counts_ordered_pairs(pos, neg, expected):
    assert encoders_compare.auc(np.array(pos), np.array(neg)) == pytest.approx(expected)


def test_auc_is_nan_without_one_side():
    assert math.isnan(encoders_compare.auc(np.array([0.3]), np.array([])))
