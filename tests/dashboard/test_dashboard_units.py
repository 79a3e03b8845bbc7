"""Dashboard building blocks without a server: passwords, sessions, CSRF, rate limiting, access, config refusal,
CSV guard, charts, and the hash-password command."""

from __future__ import annotations

import io
import subprocess
import sys
from argparse import Namespace
from dataclasses import replace
from pathlib import Path

import pytest

from bot.config import Config, ConfigError, DashboardConfig, DashboardModerator, parse_config
from bot.dashboard import dashboard_main
from bot.dashboard.formatting import csv_safe
from bot.dashboard.routes.queue import QueueQuery
from bot.dashboard.auth import (
    Access,
    LoginRateLimiter,
    Session,
    SessionCodec,
    check_dashboard_config,
    csrf_ok,
    hash_password,
    parse_server_entry,
    session_key,
    verify_password,
)
from bot.dashboard.charts import hbars, nice_max, stacked_daily

from dashboard_helpers import SECRET

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------------------------ passwords


def test_scrypt_hash_roundtrip_and_random_salt():
    h1, h2 = hash_password("correct horse"), hash_password("correct horse")
    assert h1.startswith("scrypt$16384$8$1$") and len(h1.split("$")) == 6
    assert h1 != h2  # random salt
    assert verify_password("correct horse", h1) and verify_password("correct horse", h2)
    assert not verify_password("correct horsE", h1)
    assert not verify_password("", h1)


@pytest.mark.parametrize("bad", ["", "scrypt$", "bcrypt$1$2$3$4$5", "scrypt$3$8$1$AAAA$AAAA", "scrypt$x$8$1$A$A",
                                 "scrypt$16384$8$1$!!!$@@@", "scrypt$1048577$8$1$AAAA$AAAA"])
def test_verify_rejects_malformed_hashes(bad):
    assert verify_password("pw", bad) is False


def test_hash_password_command_reads_stdin_and_prints_a_hash():
    out = io.StringIO()
    rc = dashboard_main(Namespace(action="hash-password"), Config(), out, stdin=io.StringIO("s3cret-pass\n"))
    assert rc == 0
    printed = out.getvalue().strip()
    assert printed.startswith("scrypt$") and verify_password("s3cret-pass", printed)


def test_hash_password_via_the_real_cli():
    proc = subprocess.run([sys.executable, "-m", "bot", "dashboard", "hash-password"], input="via-cli-pw\n",
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    line = proc.stdout.strip().splitlines()[-1]
    assert verify_password("via-cli-pw", line)
    # the printed hash is accepted by the config loader
    cfg = parse_config({"dashboard": {"moderators": [{"username": "m", "password_hash": line, "servers": ["*"]}]}},
                       {"CONTEXTBOT_DASHBOARD_SECRET": SECRET})
    assert check_dashboard_config(cfg)["m"].all_servers


def test_hash_password_refuses_empty_input():
    from bot.errors import CliError

    with pytest.raises(CliError, match="empty password"):
        dashboard_main(Namespace(action="hash-password"), Config(), io.StringIO(), stdin=io.StringIO("\n"))


# ------------------------------------------------------------------------------------------ config


def _cfg(secret: str | None, mods=None) -> Config:
    mods = (DashboardModerator("m", hash_password("pw"), ("*",)),) if mods is None else mods
    return replace(Config(), dashboard=DashboardConfig(secret=secret, moderators=mods))


def test_refuses_to_serve_without_moderators():
    with pytest.raises(ConfigError, match=r"dashboard.moderators: no moderators configured.*hash-password"):
        check_dashboard_config(_cfg(SECRET, mods=()))
    # `python -m bot dashboard serve` refuses before building anything
    with pytest.raises(ConfigError, match="no moderators"):
        dashboard_main(Namespace(action="serve"), _cfg(SECRET, mods=()), io.StringIO())


def test_refuses_missing_or_short_secret():
    with pytest.raises(ConfigError, match="set CONTEXTBOT_DASHBOARD_SECRET"):
        check_dashboard_config(_cfg(None))
    with pytest.raises(ConfigError, match=r"too short \(31 characters\); use at least 32"):
        check_dashboard_config(_cfg("y" * 31))
    assert check_dashboard_config(_cfg("y" * 32))


def test_cli_serve_reports_config_error_cleanly(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text("[dashboard]\nport = 8123\n", encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "bot", "--config", str(toml), "dashboard", "serve"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60, env=env)
    assert proc.returncode == 2
    assert "dashboard.moderators: no moderators configured" in proc.stderr


def test_bad_server_entries_and_duplicates_are_config_errors():
    h = hash_password("pw")
    with pytest.raises(ConfigError, match=r"moderators\[0\].servers: 'guild-1': expected"):
        check_dashboard_config(_cfg(SECRET, (DashboardModerator("m", h, ("guild-1",)),)))
    with pytest.raises(ConfigError, match="duplicate username"):
        check_dashboard_config(_cfg(SECRET, (DashboardModerator("m", h, ("*",)), DashboardModerator("m", h, ()))))


# ------------------------------------------------------------------------------------------ access


def test_access_scope():
    assert parse_server_entry("matrix:!room:example.org") == ("matrix", "!room:example.org")
    assert parse_server_entry("*") is None
    a = Access.of(DashboardModerator("b", "x", ("discord:1", "matrix:example.org")))
    assert a.can_see("discord", "1") and not a.can_see("discord", "2") and not a.can_see("matrix", "1")
    assert a.scope == ("discord:1", "matrix:example.org")
    everyone = Access.of(DashboardModerator("a", "x", ("*",)))
    assert everyone.can_see("x", "y") and everyone.scope is None
    nobody = Access.of(DashboardModerator("n", "x", ()))
    assert nobody.scope == ()


def test_queue_filter_is_restricted_to_the_moderators_servers():
    bob = Access.of(DashboardModerator("bob", "x", ("discord:guild-2",)))
    q = QueueQuery.parse({}, lambda tp: True)
    f = q.to_filter(bob)
    assert f.scope == ("discord:guild-2",) and f.platform is None
    f = QueueQuery.parse({"server": "discord:guild-1"}, lambda tp: True).to_filter(bob)
    assert f.scope == ()  # someone else's server: nothing
    f = QueueQuery.parse({"server": "discord:guild-2"}, lambda tp: True).to_filter(bob)
    assert (f.platform, f.server_id, f.scope) == ("discord", "guild-2", ("discord:guild-2",))
    q = QueueQuery.parse({"since": "2025-02-30", "stance": "nonsense", "tp": "nope", "sort": "x", "per": "7"},
                         lambda tp: False)
    assert len(q.errors) == 3 and q.sort == "newest" and q.per == 50


# ------------------------------------------------------------------------------------------ sessions


def test_session_cookie_is_signed_and_expires():
    now = [1_000_000.0]
    codec = SessionCodec(SECRET, clock=lambda: now[0])
    s = Session.new(3600, "alice", now=now[0])
    value = codec.encode(s)
    assert codec.decode(value) == s
    body, mac = value.rsplit(".", 1)
    assert codec.decode(body + "." + ("0" if mac[0] != "0" else "1") + mac[1:]) is None  # bad signature
    forged = SessionCodec("another-secret-" + "z" * 40).encode(replace(s, user="admin"))
    assert codec.decode(forged) is None  # signed with another key
    assert codec.decode("garbage") is None and codec.decode("") is None and codec.decode("é.é") is None
    now[0] += 3601
    assert codec.decode(value) is None  # expired
    # logging out is recorded in the database, by a key that cannot be turned back into the cookie's id
    assert session_key(s.sid) == session_key(s.sid) != session_key(Session.new(60).sid)
    assert s.sid not in session_key(s.sid)


def test_csrf_check():
    s = Session.new(60)
    assert csrf_ok(s, s.csrf)
    assert not csrf_ok(s, "") and not csrf_ok(s, None) and not csrf_ok(None, s.csrf)
    assert not csrf_ok(s, s.csrf[:-1] + ("A" if s.csrf[-1] != "A" else "B"))


def test_rate_limiter_holds_up_the_pair_not_the_address_or_the_account():
    now = [0.0]
    rl = LoginRateLimiter(per_pair=5, per_address=20, per_account=20, window=900, clock=lambda: now[0])
    for _ in range(5):
        assert rl.retry_after("Alice", "10.0.0.1") is None
        rl.failure("Alice", "10.0.0.1")
    assert rl.retry_after("alice", "10.0.0.1") == 900  # the pair (account case-insensitive), even if trusted
    assert rl.retry_after("alice", "10.0.0.1", trusted=True) == 900
    assert rl.retry_after("alice", "10.0.0.9") is None  # the same account from another address
    assert rl.retry_after("bob", "10.0.0.1") is None  # another account from the same address
    now[0] += 901
    assert rl.retry_after("alice", "10.0.0.1") is None  # the window passed


def test_rate_limiter_wide_limits_spare_accounts_trusted_at_that_address():
    now = [0.0]
    rl = LoginRateLimiter(per_pair=5, per_address=20, per_account=20, window=900, clock=lambda: now[0])
    for i in range(20):  # a spray of names from one address (a reverse proxy: everyone's address)
        rl.failure(f"user{i}", "10.0.0.3")
    assert rl.retry_after("user-new", "10.0.0.3") is not None  # untried names from there wait
    assert rl.retry_after("alice", "10.0.0.3", trusted=True) is None  # alice logged in from there before
    assert rl.retry_after("alice", "10.0.0.4") is None  # the spray holds up only its address
    for i in range(20):  # guesses at carol from twenty addresses
        rl.failure("carol", f"192.0.2.{i}")
    assert rl.retry_after("carol", "198.51.100.7") is not None  # from a new address: wait
    assert rl.retry_after("carol", "198.51.100.7", trusted=True) is None  # from her usual address: go ahead
    for _ in range(4):
        rl.failure("dave", "10.0.0.5")
    rl.success("dave", "10.0.0.5")  # a success clears the pair's failures ...
    for _ in range(4):
        rl.failure("dave", "10.0.0.5")
    assert rl.retry_after("dave", "10.0.0.5", trusted=True) is None  # ... so 4 + 4 failures are not 5


# ------------------------------------------------------------------------------------------ export / charts


@pytest.mark.parametrize("value", ["=1+1", "+1", "-2", "@SUM(A1)", "\t=1", "\r=1", " =cmd|' /C calc'!A0", "＝1"])
def test_csv_formula_guard(value):
    assert csv_safe(value).startswith("'")


def test_csv_guard_leaves_ordinary_values():
    assert csv_safe("NATO expansion") == "NATO expansion" and csv_safe(0.5) == 0.5 and csv_safe("") == ""


def test_charts_geometry():
    assert [nice_max(v) for v in (0, 1, 3, 7, 11, 51)] == [1, 1, 5, 10, 20, 100]
    days = ["2025-01-01", "2025-01-02", "2025-01-03"]
    rows = [("2025-01-01", "a", 2), ("2025-01-02", "b", 1), ("2025-01-02", "a", 1), ("2025-01-09", "a", 9)]
    c = stacked_daily(days, rows, {"a": "<b>A</b>"}, max_series=1)
    assert not c.empty
    # issue #14, point 20: the legend said "other talking points (1) (2)"; the count in brackets is the incidents
    assert [(item.label, item.value) for item in c.legend] == [("<b>A</b>", 3), ("1 other talking point", 1)]
    assert len(c.rects) == 3  # a on day 1, a + other on day 2; the out-of-range day is ignored
    assert all(r.h > 0 and r.y >= 0 for r in c.rects)
    h = hbars([("reply", 3, "#f00"), ("review", 1, "#0f0"), ("none", 0, "#999")], title="t")
    assert len(h.rects) == 2 and "75%" in " ".join(lbl.text for lbl in h.labels)
    assert hbars([("x", 0, "#000")], title="t").empty
