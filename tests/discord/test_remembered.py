"""The watcher's bounded memories (bot.discord_adapter.channels.Remembered)."""

import pytest

from bot.discord_adapter.channels import Remembered


@pytest.mark.parametrize(
    ("limit", "added", "kept", "forgotten"),
    [
        (3, [1, 2, 3], [1, 2, 3], []),
        (3, [1, 2, 3, 4], [2, 3, 4], [1]),
        (2, [1, 2, 1, 3], [1, 3], [2]),  # adding a key again makes it the newest
        (1, [5, 6, 7], [7], [5, 6]),
    ],
)
def test_remembered_keeps_the_newest_keys_up_to_its_limit(limit, added, kept, forgotten):
    memory = Remembered(limit)
    for key in added:
        memory.add(key, f"v{key}")
    assert len(memory) == len(kept)
    assert all(k in memory and memory[k] == f"v{k}" for k in kept)
    assert not any(k in memory for k in forgotten)
