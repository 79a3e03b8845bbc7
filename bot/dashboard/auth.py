"""Dashboard access: scrypt password hashes, signed session cookies, CSRF tokens, per-server access and
failed-login rate limiting. No aiohttp here (the web layer, :mod:`bot.dashboard.web` and the page modules, uses these).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterable

from ..config import Config, ConfigError, DashboardModerator
from ..core.ports import server_key

MIN_SECRET_LENGTH = 32

# ------------------------------------------------------------------------------------------ passwords

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
_DKLEN = 32
_MAXMEM = 64 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """``scrypt$N$r$p$salt$hash`` (salt and hash URL-safe base64) with a random 16-byte salt."""
    if not password:
        raise ValueError("the password must not be empty")
    salt = secrets.token_bytes(16)
    dk = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=_DKLEN, maxmem=_MAXMEM)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(dk)}"


def verify_password(password: str, encoded: str) -> bool:
    """True if ``password`` matches the ``scrypt$...`` hash (constant-time compare; False for a bad hash)."""
    try:
        scheme, n, r, p, salt, want = encoded.split("$")
        if scheme != "scrypt":
            return False
        n_, r_, p_ = int(n), int(r), int(p)
        if not (2 <= n_ <= 2**20 and n_ & (n_ - 1) == 0 and 1 <= r_ <= 64 and 1 <= p_ <= 16):
            return False
        want_b = _unb64(want)
        dk = hashlib.scrypt(password.encode("utf-8"), salt=_unb64(salt), n=n_, r=r_, p=p_,
                            dklen=len(want_b) or _DKLEN, maxmem=_MAXMEM)
    except (ValueError, TypeError, MemoryError):
        return False
    return hmac.compare_digest(dk, want_b)


# A hash of a random password: checked for unknown usernames so a login takes the same time either way.
_DUMMY_HASH: str | None = None


def dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
    return _DUMMY_HASH


# ------------------------------------------------------------------------------------------ access


def parse_server_entry(entry: str) -> tuple[str, str] | None:
    """``"platform:server_id"`` -> (platform, server_id); ``"*"`` -> None (all). ValueError if malformed."""
    entry = entry.strip()
    if entry == "*":
        return None
    platform, sep, server_id = entry.partition(":")
    if not sep or not platform or not server_id or not platform.isidentifier():
        raise ValueError(f"{entry!r}: expected \"platform:server_id\" (e.g. \"discord:123456789\") or \"*\"")
    return platform, server_id


@dataclass(frozen=True)
class Access:
    """What one moderator may see: every server (``all_servers``) or the listed (platform, server_id) pairs."""

    username: str
    admin: bool
    all_servers: bool
    servers: frozenset[tuple[str, str]]

    @classmethod
    def of(cls, mod: DashboardModerator) -> "Access":
        pairs: set[tuple[str, str]] = set()
        everything = False
        for entry in mod.servers:
            parsed = parse_server_entry(entry)
            if parsed is None:
                everything = True
            else:
                pairs.add(parsed)
        return cls(mod.username, mod.admin, everything, frozenset(pairs))

    def can_see(self, platform: str, server_id: str) -> bool:
        return self.all_servers or (platform, server_id) in self.servers

    @property
    def scope(self) -> tuple[str, ...] | None:
        """``"platform:server_id"`` keys for the storage layer; None = every server."""
        if self.all_servers:
            return None
        return tuple(sorted(server_key(p, s) for p, s in self.servers))

    def platforms(self) -> tuple[str, ...] | None:
        if self.all_servers:
            return None
        return tuple(sorted({p for p, _ in self.servers}))


def check_dashboard_config(cfg: Config) -> dict[str, Access]:
    """Refuse to serve without moderators or with a missing/short secret. Returns username -> Access."""
    d = cfg.dashboard
    where = cfg.source
    if not d.moderators:
        raise ConfigError(
            f"{where}: dashboard.moderators: no moderators configured; add a [[dashboard.moderators]] table with "
            "username, password_hash (from: python -m bot dashboard hash-password) and servers")
    if not d.secret:
        raise ConfigError(
            f"{where}: dashboard: set CONTEXTBOT_DASHBOARD_SECRET in the environment (at least {MIN_SECRET_LENGTH} "
            "characters, e.g. from: python -c 'import secrets; print(secrets.token_urlsafe(32))')")
    if len(d.secret) < MIN_SECRET_LENGTH:
        raise ConfigError(
            f"{where}: dashboard: CONTEXTBOT_DASHBOARD_SECRET is too short ({len(d.secret)} characters); use at "
            f"least {MIN_SECRET_LENGTH}, e.g. from: python -c 'import secrets; print(secrets.token_urlsafe(32))'")
    out: dict[str, Access] = {}
    for i, m in enumerate(d.moderators):
        if m.username in out:
            raise ConfigError(f"{where}: dashboard.moderators[{i}].username: duplicate username {m.username!r}")
        if len(m.password_hash.split("$")) != 6:
            raise ConfigError(f"{where}: dashboard.moderators[{i}].password_hash: not a hash from "
                              "python -m bot dashboard hash-password")
        try:
            out[m.username] = Access.of(m)
        except ValueError as e:
            raise ConfigError(f"{where}: dashboard.moderators[{i}].servers: {e}") from None
    return out


# ------------------------------------------------------------------------------------------ sessions


@dataclass(frozen=True)
class Session:
    sid: str
    csrf: str
    exp: int  # unix time
    user: str | None = None  # None: anonymous (login page) session

    @classmethod
    def new(cls, ttl: float, user: str | None = None, now: float | None = None) -> "Session":
        now = time.time() if now is None else now
        return cls(secrets.token_urlsafe(18), secrets.token_urlsafe(32), int(now + ttl), user)


class SessionCodec:
    """Session <-> cookie value: ``base64url(json) "." hex(HMAC-SHA256(secret, "contextbot-session:" + body))``."""

    _CONTEXT = b"contextbot-session:"

    def __init__(self, secret: str, clock: Callable[[], float] = time.time) -> None:
        self._key = hashlib.sha256(b"contextbot-dashboard-session-key:" + secret.encode("utf-8")).digest()
        self._clock = clock

    def _mac(self, body: str) -> str:
        return hmac.new(self._key, self._CONTEXT + body.encode("ascii"), hashlib.sha256).hexdigest()

    def encode(self, s: Session) -> str:
        body = _b64(json.dumps({"sid": s.sid, "csrf": s.csrf, "exp": s.exp, "u": s.user},
                               separators=(",", ":")).encode("utf-8"))
        return f"{body}.{self._mac(body)}"

    def decode(self, value: str | None) -> Session | None:
        """The session if the cookie is authentic and unexpired; else None. (Whether a logged-in session was
        logged out is the database's to say: see :func:`session_key`.)"""
        if not value or len(value) > 4096 or "." not in value:
            return None
        body, _, mac = value.rpartition(".")
        try:
            body.encode("ascii")
        except UnicodeEncodeError:
            return None
        if not hmac.compare_digest(mac.encode("ascii", "replace"), self._mac(body).encode("ascii")):
            return None
        try:
            data = json.loads(_unb64(body))
            s = Session(str(data["sid"]), str(data["csrf"]), int(data["exp"]),
                        data["u"] if isinstance(data.get("u"), str) else None)
        except (ValueError, KeyError, TypeError):
            return None
        if s.exp <= self._clock():
            return None
        return s

    def with_user(self, user: str, ttl: float) -> Session:
        """A fresh session (new id and CSRF token: no fixation) for a user who just logged in."""
        return Session.new(ttl, user, self._clock())


def session_key(sid: str) -> str:
    """What the database keeps of a session id (hex SHA-256): enough to look a cookie up, not to forge one."""
    return hashlib.sha256(b"contextbot-session-id:" + sid.encode("utf-8")).hexdigest()


def csrf_ok(session: Session | None, token: str | None) -> bool:
    if session is None or not token:
        return False
    return hmac.compare_digest(session.csrf.encode("utf-8"), str(token).encode("utf-8", "replace"))


# ------------------------------------------------------------------------------------------ rate limit


class LoginRateLimiter:
    """Failed logins within ``window`` seconds, counted three ways (in memory, per process):

    * per account *and* address (``per_pair``): the limit every attempt is under;
    * per address over all accounts (``per_address``): a spray of guesses from one address;
    * per account over all addresses (``per_account``): guesses at one account from many addresses.

    The two wide limits hold up only an account that has not logged in from that address before (``trusted``
    in :meth:`retry_after`): someone else's failures never lock a moderator out of the address they use, which
    behind a NAT or a reverse proxy is everyone's address. A successful login clears the pair's failures."""

    def __init__(self, per_pair: int = 5, per_address: int = 20, per_account: int = 20, window: float = 15 * 60,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_pair = per_pair
        self.per_address = per_address
        self.per_account = per_account
        self.window = window
        self._clock = clock
        self._fail: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _account(username: str) -> str:
        return username.strip().casefold()

    def _counters(self, username: str, ip: str | None) -> list[tuple[str, int]]:
        """(counter key, its limit): the account-and-address pair first, then the two wide ones."""
        account, address = self._account(username), ip or ""
        return [(f"pair:{account}\n{address}", self.per_pair), ("ip:" + address, self.per_address),
                ("user:" + account, self.per_account)]

    def _prune(self, key: str, now: float) -> deque[float] | None:
        q = self._fail.get(key)
        if q is None:
            return None
        while q and q[0] <= now - self.window:
            q.popleft()
        if not q:
            del self._fail[key]
            return None
        return q

    def retry_after(self, username: str, ip: str | None, *, trusted: bool = False) -> float | None:
        """Seconds until another attempt is allowed, or None if the attempt may go ahead. ``trusted``: this
        account has logged in from this address before (only the per-pair limit applies)."""
        now = self._clock()
        wait = 0.0
        with self._lock:
            counters = self._counters(username, ip)
            for key, limit in counters[:1] if trusted else counters:
                q = self._prune(key, now)
                if q is not None and len(q) >= limit:
                    wait = max(wait, q[-limit] + self.window - now)
        return wait if wait > 0 else None

    def failure(self, username: str, ip: str | None) -> None:
        now = self._clock()
        with self._lock:
            if len(self._fail) > 50_000:  # bound memory under a spray of random names
                for key in list(self._fail):
                    self._prune(key, now)
            for key, limit in self._counters(username, ip):
                self._fail.setdefault(key, deque(maxlen=limit * 4)).append(now)

    def success(self, username: str, ip: str | None) -> None:
        with self._lock:
            self._fail.pop(self._counters(username, ip)[0][0], None)


def moderators_by_name(mods: Iterable[DashboardModerator]) -> dict[str, DashboardModerator]:
    return {m.username: m for m in mods}


__all__ = [
    "Access",
    "LoginRateLimiter",
    "MIN_SECRET_LENGTH",
    "Session",
    "SessionCodec",
    "check_dashboard_config",
    "csrf_ok",
    "dummy_hash",
    "hash_password",
    "moderators_by_name",
    "parse_server_entry",
    "session_key",
    "verify_password",
]
