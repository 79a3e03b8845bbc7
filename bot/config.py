"""Configuration: a TOML file plus environment variables for secrets, validated at start.

Every problem is reported as :class:`ConfigError` naming the file and the key, e.g.
``contextbot.toml: detector.reply_threshold: must be between 0 and 1 (got 1.5)``.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Mapping

from .core.campaigns import CampaignSettings
from .core.narratives import NarrativeSettings

DEFAULT_CONFIG_NAME = "contextbot.toml"
CONFIG_ENV = "CONTEXTBOT_CONFIG"


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class StorageConfig:
    database: Path | str = Path("contextbot.db")  # a file path (SQLite) or a "postgresql://..." URL (str)
    retention_days: int = 30
    group_window_hours: float = 24.0


@dataclass(frozen=True)
class PacksConfig:
    paths: tuple[Path, ...] = ()  # extra pack directories/files besides the shipped ones
    disabled: tuple[str, ...] = ()  # pack ids disabled everywhere
    include_default: bool = True
    max_fact_age_days: int = 730  # `packs validate` warns about key facts whose "as of" date is older (days)


@dataclass(frozen=True)
class DetectorConfig:
    reply_threshold: float = 0.90  # min P(assert) to post a card
    review_threshold: float = 0.25  # min P(assert) to log an incident for review
    match_threshold: float = 0.48  # min retrieval score to consider a talking point
    reply_match_threshold: float = 0.60  # min retrieval score to post a card
    cache_dir: Path | None = None  # trained stance model cache; default ~/.cache/contextbot
    encoder_process: bool = True  # long-running bots encode in a child process (its own core and GIL)


@dataclass(frozen=True)
class DiscordConfig:
    token: str | None = None  # from env DISCORD_TOKEN
    sharded: bool = False
    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None  # this process's shards (env CONTEXTBOT_SHARD_IDS), see bot/sharding.py
    moderator_role: str | None = None
    dev_guild_id: int | None = None  # sync commands to one guild instantly (development)


@dataclass(frozen=True)
class MatrixConfig:
    homeserver: str | None = None
    user_id: str | None = None
    access_token: str | None = None  # env MATRIX_ACCESS_TOKEN
    password: str | None = None  # env MATRIX_PASSWORD
    device_name: str = "contextbot"
    allowed_inviters: tuple[str, ...] = ()  # user ids or server names
    command_prefix: str = "!cb"
    moderator_power_level: int = 50
    management_room: str | None = None


@dataclass(frozen=True)
class DashboardModerator:
    username: str
    password_hash: str  # scrypt$... (python -m bot dashboard hash-password)
    servers: tuple[str, ...] = ()  # "platform:server_id" entries, or "*" for all
    admin: bool = False


@dataclass(frozen=True)
class DashboardConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    secret: str | None = None  # env CONTEXTBOT_DASHBOARD_SECRET (cookie signing)
    moderators: tuple[DashboardModerator, ...] = ()


@dataclass(frozen=True)
class Config:
    storage: StorageConfig = field(default_factory=StorageConfig)
    packs: PacksConfig = field(default_factory=PacksConfig)
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    discord: DiscordConfig = field(default_factory=DiscordConfig)
    matrix: MatrixConfig = field(default_factory=MatrixConfig)
    dashboard: DashboardConfig = field(default_factory=DashboardConfig)
    source: str = "<defaults>"
    campaigns: CampaignSettings = field(default_factory=CampaignSettings)
    narratives: NarrativeSettings = field(default_factory=NarrativeSettings)


_SECTIONS = {"storage", "packs", "detector", "discord", "matrix", "dashboard", "campaigns", "narratives"}


class _Reader:
    def __init__(self, source: str, section: str, data: Mapping[str, Any], allowed: set[str]):
        self.source, self.section, self.data = source, section, dict(data)
        unknown = set(self.data) - allowed
        if unknown:
            self.fail(sorted(unknown)[0], f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def fail(self, key: str, msg: str) -> None:
        raise ConfigError(f"{self.source}: {self.section}.{key}: {msg}")

    def get(self, key: str, typ: type | tuple[type, ...], default: Any) -> Any:
        if key not in self.data:
            return default
        value = self.data[key]
        if typ is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, typ) or (isinstance(value, bool) and typ in (int, float)):
            name = typ.__name__ if isinstance(typ, type) else " or ".join(t.__name__ for t in typ)
            self.fail(key, f"expected {name}, got {type(value).__name__} {value!r}")
        return value

    def unit(self, key: str, default: float) -> float:
        v = self.get(key, float, default)
        if not 0.0 <= v <= 1.0:
            self.fail(key, f"must be between 0 and 1 (got {v})")
        return v

    def positive(self, key: str, typ: type, default: Any) -> Any:
        v = self.get(key, typ, default)
        if v is not None and v <= 0:
            self.fail(key, f"must be positive (got {v})")
        return v

    def strings(self, key: str) -> tuple[str, ...]:
        v = self.get(key, list, [])
        if not all(isinstance(x, str) for x in v):
            self.fail(key, "expected a list of strings")
        return tuple(v)


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Load ``path`` (or $CONTEXTBOT_CONFIG, or ./contextbot.toml if present, else defaults)."""
    env = os.environ if env is None else env
    if path is None:
        path = env.get(CONFIG_ENV) or (DEFAULT_CONFIG_NAME if Path(DEFAULT_CONFIG_NAME).exists() else None)
    raw: dict[str, Any] = {}
    source = "<defaults>"
    base = Path.cwd()
    if path is not None:
        p = Path(path)
        source = str(p)
        if not p.is_file():
            raise ConfigError(f"{p}: configuration file not found")
        try:
            raw = tomllib.loads(p.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{p}: not valid TOML: {e}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{p}: not UTF-8 text") from None
        base = p.resolve().parent
    return parse_config(raw, env, source=source, base=base)


def parse_config(raw: Mapping[str, Any], env: Mapping[str, str], *, source: str = "<config>", base: Path | None = None) -> Config:
    base = base or Path.cwd()
    unknown = set(raw) - _SECTIONS
    if unknown:
        raise ConfigError(f"{source}: unknown section [{sorted(unknown)[0]}] (allowed: {', '.join(sorted(_SECTIONS))})")
    for name in _SECTIONS & set(raw):
        if not isinstance(raw[name], dict):
            raise ConfigError(f"{source}: {name}: expected a table [{name}]")

    def rel(p: str) -> Path:
        q = Path(p).expanduser()
        return q if q.is_absolute() else base / q

    r = _Reader(source, "storage", raw.get("storage", {}), {"database", "retention_days", "group_window_hours"})
    db = env.get("CONTEXTBOT_DB") or r.get("database", str, None)
    storage = StorageConfig(
        database=(db if db.startswith(("postgresql://", "postgres://")) else rel(db)) if db else Path("contextbot.db"),
        retention_days=r.positive("retention_days", int, 30),
        group_window_hours=r.positive("group_window_hours", float, 24.0),
    )

    r = _Reader(source, "packs", raw.get("packs", {}), {"paths", "disabled", "include_default", "max_fact_age_days"})
    packs = PacksConfig(
        paths=tuple(rel(p) for p in r.strings("paths")),
        disabled=r.strings("disabled"),
        include_default=r.get("include_default", bool, True),
        max_fact_age_days=r.positive("max_fact_age_days", int, 730),
    )
    for p in packs.paths:
        if not p.exists():
            r.fail("paths", f"pack path {p} does not exist")

    r = _Reader(source, "detector", raw.get("detector", {}), {"reply_threshold", "review_threshold", "match_threshold",
                                                                    "reply_match_threshold", "cache_dir",
                                                                    "encoder_process"})
    cache = r.get("cache_dir", str, None)
    detector = DetectorConfig(
        reply_threshold=r.unit("reply_threshold", DetectorConfig.reply_threshold),
        review_threshold=r.unit("review_threshold", DetectorConfig.review_threshold),
        match_threshold=r.unit("match_threshold", DetectorConfig.match_threshold),
        reply_match_threshold=r.unit("reply_match_threshold", DetectorConfig.reply_match_threshold),
        cache_dir=rel(cache) if cache else None,
        encoder_process=r.get("encoder_process", bool, DetectorConfig.encoder_process),
    )
    if detector.review_threshold > detector.reply_threshold:
        r.fail("review_threshold", f"must not exceed reply_threshold ({detector.review_threshold} > {detector.reply_threshold})")
    if detector.match_threshold > detector.reply_match_threshold:
        r.fail("match_threshold", f"must not exceed reply_match_threshold "
                                  f"({detector.match_threshold} > {detector.reply_match_threshold})")

    r = _Reader(source, "discord", raw.get("discord", {}),
                {"sharded", "shard_count", "shard_ids", "moderator_role", "dev_guild_id", "token"})
    if "token" in r.data:
        r.fail("token", "secrets do not belong in the file; set the DISCORD_TOKEN environment variable")
    from .sharding import check_shards, parse_shard_ids

    shard_count = r.positive("shard_count", int, None)
    if env.get("CONTEXTBOT_SHARD_COUNT"):
        if not env["CONTEXTBOT_SHARD_COUNT"].isdigit() or int(env["CONTEXTBOT_SHARD_COUNT"]) < 1:
            raise ConfigError(f"CONTEXTBOT_SHARD_COUNT: expected a positive number, got {env['CONTEXTBOT_SHARD_COUNT']!r}")
        shard_count = int(env["CONTEXTBOT_SHARD_COUNT"])
    shard_ids = None
    raw_ids = env.get("CONTEXTBOT_SHARD_IDS") or r.data.get("shard_ids")
    try:
        if raw_ids is not None:
            shard_ids = parse_shard_ids(raw_ids)
        check_shards(shard_ids, shard_count)
    except ValueError as exc:
        r.fail("shard_ids", str(exc))
    discord = DiscordConfig(
        token=env.get("DISCORD_TOKEN") or None,
        sharded=r.get("sharded", bool, False) or bool(shard_ids),
        shard_count=shard_count,
        shard_ids=shard_ids,
        moderator_role=r.get("moderator_role", str, None),
        dev_guild_id=r.get("dev_guild_id", int, None),
    )

    r = _Reader(source, "matrix", raw.get("matrix", {}), {
        "homeserver", "user_id", "device_name", "allowed_inviters", "command_prefix",
        "moderator_power_level", "management_room", "access_token", "password"})
    for secret in ("access_token", "password"):
        if secret in r.data:
            r.fail(secret, f"secrets do not belong in the file; set MATRIX_{secret.upper()} in the environment")
    hs = r.get("homeserver", str, None)
    if hs is not None and not hs.startswith(("http://", "https://")):
        r.fail("homeserver", f"must start with https:// (got {hs!r})")
    uid = r.get("user_id", str, None)
    if uid is not None and not (uid.startswith("@") and ":" in uid):
        r.fail("user_id", f"must look like @name:server (got {uid!r})")
    prefix = r.get("command_prefix", str, "!cb")
    if not prefix.strip() or " " in prefix:
        r.fail("command_prefix", "must be a non-empty word without spaces")
    matrix = MatrixConfig(
        homeserver=hs,
        user_id=uid,
        access_token=env.get("MATRIX_ACCESS_TOKEN") or None,
        password=env.get("MATRIX_PASSWORD") or None,
        device_name=r.get("device_name", str, "contextbot"),
        allowed_inviters=r.strings("allowed_inviters"),
        command_prefix=prefix,
        moderator_power_level=r.get("moderator_power_level", int, 50),
        management_room=r.get("management_room", str, None),
    )

    r = _Reader(source, "dashboard", raw.get("dashboard", {}), {"host", "port", "moderators", "secret"})
    if "secret" in r.data:
        r.fail("secret", "secrets do not belong in the file; set CONTEXTBOT_DASHBOARD_SECRET in the environment")
    port = r.get("port", int, 8080)
    if not 0 < port < 65536:
        r.fail("port", f"must be 1-65535 (got {port})")
    mods = []
    for i, m in enumerate(r.get("moderators", list, [])):
        if not isinstance(m, dict):
            r.fail(f"moderators[{i}]", "expected a table [[dashboard.moderators]]")
        mr = _Reader(source, f"dashboard.moderators[{i}]", m, {"username", "password_hash", "servers", "admin"})
        user = mr.get("username", str, "")
        pw = mr.get("password_hash", str, "")
        if not user:
            mr.fail("username", "required")
        if not pw.startswith("scrypt$"):
            mr.fail("password_hash", "required; create one with: python -m bot dashboard hash-password")
        mods.append(DashboardModerator(user, pw, mr.strings("servers"), mr.get("admin", bool, False)))
    dashboard = DashboardConfig(
        host=r.get("host", str, "127.0.0.1"), port=port,
        secret=env.get("CONTEXTBOT_DASHBOARD_SECRET") or None, moderators=tuple(mods),
    )
    return replace(Config(storage, packs, detector, discord, matrix, dashboard, source),
                   campaigns=_parse_campaigns(source, raw.get("campaigns", {})),
                   narratives=_parse_narratives(source, raw.get("narratives", {})))


def _parse_campaigns(source: str, data: Mapping[str, Any]) -> CampaignSettings:
    """[campaigns]: several accounts pushing one talking point or one copypasta (docs/campaigns.md)."""
    d = CampaignSettings()
    r = _Reader(source, "campaigns", data, {"enabled", "min_messages", "min_authors", "window_minutes",
                                            "count_review", "copypasta", "copypasta_min_chars", "text_similarity",
                                            "vector_similarity", "debate_guard", "max_groups", "max_members"})
    try:
        cfg = CampaignSettings(
            enabled=r.get("enabled", bool, d.enabled), min_messages=r.positive("min_messages", int, d.min_messages),
            min_authors=r.positive("min_authors", int, d.min_authors),
            window=timedelta(minutes=r.positive("window_minutes", float, d.window.total_seconds() / 60)),
            count_review=r.get("count_review", bool, d.count_review), copypasta=r.get("copypasta", bool, d.copypasta),
            copypasta_min_chars=r.positive("copypasta_min_chars", int, d.copypasta_min_chars),
            text_similarity=r.unit("text_similarity", d.text_similarity),
            vector_similarity=r.unit("vector_similarity", d.vector_similarity),
            debate_guard=r.get("debate_guard", bool, d.debate_guard),
            max_groups=r.positive("max_groups", int, d.max_groups),
            max_members=r.positive("max_members", int, d.max_members),
        )
        cfg.validate()
    except ValueError as e:
        if isinstance(e, ConfigError):
            raise
        raise ConfigError(f"{source}: {e}") from None
    return cfg


def _parse_narratives(source: str, data: Mapping[str, Any]) -> NarrativeSettings:
    """[narratives]: emerging narratives for pack authors (docs/narratives.md)."""
    d = NarrativeSettings()
    r = _Reader(source, "narratives", data, {"enabled", "min_assert", "similarity", "max_clusters", "keep_text"})
    cfg = NarrativeSettings(
        enabled=r.get("enabled", bool, d.enabled), min_assert=r.unit("min_assert", d.min_assert),
        similarity=r.get("similarity", float, d.similarity), max_clusters=r.get("max_clusters", int, d.max_clusters),
        keep_text=r.get("keep_text", bool, d.keep_text),
    )
    try:
        cfg.validate()
    except ValueError as e:
        raise ConfigError(f"{source}: {e}") from None
    return cfg


def require_discord(cfg: Config) -> None:
    if not cfg.discord.token:
        raise ConfigError(f"{cfg.source}: discord: set the DISCORD_TOKEN environment variable (bot token from the developer portal)")


def require_matrix(cfg: Config) -> None:
    m = cfg.matrix
    missing = [k for k, v in (("homeserver", m.homeserver), ("user_id", m.user_id)) if not v]
    if missing:
        raise ConfigError(f"{cfg.source}: matrix.{missing[0]}: required to run the Matrix bot")
    if not (m.access_token or m.password):
        raise ConfigError(f"{cfg.source}: matrix: set MATRIX_ACCESS_TOKEN or MATRIX_PASSWORD in the environment")
