"""Suggest a pack's background vocabulary (pack.yaml ``background``) from genuine war news and discussion.

A word is background when it occurs in at least ``--share`` of the wild corpus's *tuning* rows (bench/wild.py; the
check split is never read): the vocabulary the topic's everyday talk uses all the time ("Russia", "invaded",
"NATO", "sanctions", "заявил"). The detector lets such words carry no match on their own (see
bot.core.detector.specific_vocabulary); a talking point's keywords always count.

Prints one YAML list, the most frequent written form of each stem, for a pack author to review and paste.

    python bench/background.py [--share 0.005]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bot.core.normalize import normalize  # noqa: E402
from bot.core.retrieval import content_tokens, stem  # noqa: E402
from wild import load_wild, wild_status  # noqa: E402


def background_words(texts: list[str], share: float) -> list[str]:
    """The most frequent written form of every stem found in at least ``share`` of ``texts``, sorted."""
    df: Counter = Counter()
    forms: dict[str, Counter] = defaultdict(Counter)
    for text in texts:
        seen = set()
        for tok in content_tokens(normalize(text).text):
            s = stem(tok)
            forms[s][tok] += 1
            seen.add(s)
        df.update(seen)
    return sorted(forms[s].most_common(1)[0][0] for s, n in df.items() if n >= share * len(texts))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--share", type=float, default=0.005)
    args = ap.parse_args()
    rows = load_wild(split="tune")
    if not rows:
        print(f"n/a: {wild_status()}")
        return 1
    words = background_words([r["text"] for r in rows], args.share)
    print(f"# {len(words)} words in >= {args.share:.1%} of {len(rows)} wild tuning rows ({wild_status()})")
    print("background: [" + ", ".join(f'"{w}"' for w in words) + "]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
