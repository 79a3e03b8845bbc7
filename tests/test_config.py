"""Configuration is validated at start with errors that name the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_config, require_discord, require_matrix

ROOT = Path(__file__).resolve().parents[1]

BAD = [
    ("[detector]\nreply_threshold = 1.5\n", "detector.reply_threshold: must be between 0 and 1"),
    ("[detector]\nreply_threshold = 0.3\nreview_threshold = 0.5\n", "detector.review_threshold: must not exceed"),
    ("[detector]\nreply_treshold = 0.9\n", "detector.reply_treshold: unknown key"),
    ("[storage]\nretention_days = 0\n", "storage.retention_days: must be positive"),
    ("[packs]\nmax_fact_age_days = 0\n", "packs.max_fact_age_days: must be positive"),
    ("[storage]\nretention_days = \"30\"\n", "storage.retention_days: expected int"),
    ("[discord]\ntoken = \"abc\"\n", "discord.token: secrets do not belong in the file"),
    ("[matrix]\nhomeserver = \"matrix.org\"\n", "matrix.homeserver: must start with https://"),
    ("[matrix]\nuser_id = \"bot\"\n", "matrix.user_id: must look like @name:server"),
    ("[matrix]\npassword = \"x\"\n", "matrix.password: secrets do not belong"),
    ("[packs]\npaths = [\"does/not/exist\"]\n", "packs.paths: pack path"),
    ("[dashboard]\nport = 70000\n", "dashboard.port: must be 1-65535"),
    ("[[dashboard.moderators]]\nusername = \"a\"\npassword_hash = \"plain\"\n", "password_hash: required"),
    ("[unknown]\nx = 1\n", "unknown section [unknown]"),
    ("[detector\n", "not valid TOML"),
    ("[detector]\nencoder_process = \"yes\"\n", "detector.encoder_process: expected bool"),
]


@pytest.mark.parametrize("text,message", BAD, ids=[b[1][:40] for b in BAD])
def test_bad_config_names_file_and_key(tmp_path, text, message):
    path = tmp_path / "cb.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_example_config_is_valid_and_secrets_come_from_the_environment():
    cfg = load_config(ROOT / "contextbot.example.toml", env={"DISCORD_TOKEN": "t0k", "MATRIX_PASSWORD": "pw"})
    assert cfg.discord.token == "t0k" and cfg.matrix.password == "pw"
    assert cfg.storage.database.is_absolute()
    assert 0 < cfg.detector.review_threshold <= cfg.detector.reply_threshold < 1
    assert cfg.detector.encoder_process is True


def test_encoder_process_can_be_switched_off(tmp_path):
    path = tmp_path / "cb.toml"
    path.write_text("[detector]\nencoder_process = false\n", encoding="utf-8")
    assert load_config(path, env={}).detector.encoder_process is False


def test_running_a_platform_without_credentials_is_refused(tmp_path):
    cfg = load_config(None, env={})
    with pytest.raises(ConfigError, match="DISCORD_TOKEN"):
        require_discord(cfg)
    with pytest.raises(ConfigError, match="matrix.homeserver"):
        require_matrix(cfg)


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(tmp_path / "missing.toml", env={})
