"""Shard ranges per process: parsing, validation, config file + environment, and the client built from them."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, parse_config
from bot.sharding import parse_shard_ids


@pytest.mark.parametrize(
    ("value", "expected"),
    [([0, 1], (0, 1)), ("0-3,8", (0, 1, 2, 3, 8)), ("2", (2,)), (5, (5,)), (" 1 , 0 ", (0, 1))],
)
def test_parse_shard_ids(value, expected):
    assert parse_shard_ids(value) == expected


@pytest.mark.parametrize("value", ["", "a", "3-1", "1,1", [True], None, "1-"])
def test_bad_shard_ids(value):
    with pytest.raises(ValueError):
        parse_shard_ids(value)


@pytest.mark.parametrize(
    ("file", "env", "expected"),
    [
        ({"shard_count": 6, "shard_ids": [0, 1]}, {}, ((0, 1), 6)),
        ({"shard_count": 6, "shard_ids": [0, 1]}, {"CONTEXTBOT_SHARD_IDS": "4-5"}, ((4, 5), 6)),
        ({}, {"CONTEXTBOT_SHARD_IDS": "2,3", "CONTEXTBOT_SHARD_COUNT": "4"}, ((2, 3), 4)),
        ({"sharded": True}, {}, (None, None)),
    ],
)
def test_shards_from_file_and_environment(file, env, expected):
    cfg = parse_config({"discord": file}, env, source="test.toml")
    assert (cfg.discord.shard_ids, cfg.discord.shard_count) == expected
    assert cfg.discord.sharded is True


@pytest.mark.parametrize(
    ("file", "env"),
    [
        ({"shard_ids": [0]}, {}),  # no shard_count
        ({"shard_ids": [4], "shard_count": 4}, {}),  # not below the count
        ({}, {"CONTEXTBOT_SHARD_IDS": "0", "CONTEXTBOT_SHARD_COUNT": "zero"}),
    ],
)
def test_bad_shard_config_is_refused(file, env):
    with pytest.raises(ConfigError):
        parse_config({"discord": file}, env, source="test.toml")


def test_client_runs_only_its_shards():
    from bot.discord_adapter import ShardedContextBot, create_bot

    cfg = parse_config({"discord": {"shard_count": 4, "shard_ids": "2-3"}}, {}, source="t")
    class Service:
        catalog = object()

    bot = create_bot(Service(), cfg.discord)  # type: ignore[arg-type]
    assert isinstance(bot, ShardedContextBot)
    assert (bot.shard_ids, bot.shard_count) == ([2, 3], 4)
