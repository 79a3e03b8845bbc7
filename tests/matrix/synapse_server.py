"""A throwaway Synapse homeserver for the Matrix tests (SQLite, 127.0.0.1, a free port, raised rate limits).

Synapse lives in its own virtualenv, ``.venv-synapse`` at the repository root (``make test-deps``).
"""

from __future__ import annotations

import atexit
import hashlib
import hmac
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SYNAPSE_VENV = Path(os.environ.get("CONTEXTBOT_SYNAPSE_VENV") or ROOT / ".venv-synapse")  # override for odd layouts
SYNAPSE_PYTHON = SYNAPSE_VENV / "bin" / "python"
SERVER_NAME = "localhost"
SHARED_SECRET = "contextbot-test-shared-secret"

_FAST = {"per_second": 10000, "burst_count": 10000}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _overrides(port: int, data_dir: Path) -> str:
    cfg = {
        "listeners": [{
            "port": port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": False, "x_forwarded": False,
            "resources": [{"names": ["client"], "compress": False}],
        }],
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "enable_registration": False,
        "registration_shared_secret": SHARED_SECRET,
        "presence": {"enabled": False},
        "report_stats": False,
        "url_preview_enabled": False,
        "rc_message": _FAST,
        "rc_registration": _FAST,
        "rc_login": {"address": _FAST, "account": _FAST, "failed_attempts": _FAST},
        "rc_joins": {"local": _FAST, "remote": _FAST},
        "rc_joins_per_room": _FAST,
        "rc_invites": {"per_room": _FAST, "per_user": _FAST, "per_issuer": _FAST},
        "rc_admin_redaction": _FAST,
        "rc_room_creation": _FAST,
        "rc_3pid_validation": _FAST,
        "rc_reports": _FAST,
        "rc_presence": {"per_user": _FAST},
        "rc_delayed_event_mgmt": _FAST,
    }
    return json.dumps(cfg, indent=1) + "\n"  # JSON is YAML


@dataclass
class Account:
    user_id: str
    password: str
    access_token: str
    device_id: str

    @property
    def localpart(self) -> str:
        return self.user_id[1:].split(":", 1)[0]


class SynapseServer:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server_name = SERVER_NAME
        self.config = data_dir / "homeserver.yaml"
        self.overrides = data_dir / "overrides.yaml"
        self.console_log = data_dir / "console.log"
        self.proc: subprocess.Popen | None = None
        self._admin: Account | None = None
        self._counter = 0

    # ------------------------------------------------------------------ process

    def start(self, timeout: float = 60.0) -> None:
        env = {**os.environ, "SYNAPSE_NO_TLS": "1"}
        env.pop("PYTHONPATH", None)
        gen = subprocess.run(
            [str(SYNAPSE_PYTHON), "-m", "synapse.app.homeserver", "--server-name", SERVER_NAME,
             "--config-path", str(self.config), "--generate-config", "--report-stats=no",
             "--data-directory", str(self.data_dir)],
            cwd=self.data_dir, env=env, capture_output=True, text=True, timeout=120,
        )
        if gen.returncode != 0:
            raise RuntimeError(f"synapse --generate-config failed:\n{gen.stdout}\n{gen.stderr}")
        # The generated YAML has no trailing newline: overrides go into a second -c file, never appended.
        self.overrides.write_text(_overrides(self.port, self.data_dir), encoding="utf-8")
        log = open(self.console_log, "wb")
        self.proc = subprocess.Popen(
            [str(SYNAPSE_PYTHON), "-m", "synapse.app.homeserver", "-c", str(self.config), "-c", str(self.overrides)],
            cwd=self.data_dir, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        atexit.register(self.stop)  # even if the session is torn down abnormally
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Synapse exited with code {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/_matrix/client/versions", timeout=1) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Synapse did not become ready within {timeout}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def log_tail(self, lines: int = 80) -> str:
        out = []
        for path in (self.console_log, self.data_dir / "homeserver.log"):
            if path.exists():
                text = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
                out.append(f"--- {path.name} (last {len(text)} lines) ---\n" + "\n".join(text))
        return "\n".join(out) or "(no Synapse log)"

    # ------------------------------------------------------------------ HTTP helpers

    def request(self, method: str, path: str, body: dict | None = None, token: str | None = None) -> dict:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"{method} {path} -> {e.code}: {e.read().decode(errors='replace')}") from None

    def register(self, localpart: str | None = None, *, admin: bool = False, password: str = "test-password") -> Account:
        """Create a user with the shared-secret registration admin API."""
        if localpart is None:
            self._counter += 1
            localpart = f"user{self._counter}"
        nonce = self.request("GET", "/_synapse/admin/v1/register")["nonce"]
        mac = hmac.new(SHARED_SECRET.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join([nonce.encode(), localpart.encode(), password.encode(),
                                 b"admin" if admin else b"notadmin"]))
        res = self.request("POST", "/_synapse/admin/v1/register", {
            "nonce": nonce, "username": localpart, "password": password, "admin": admin, "mac": mac.hexdigest()})
        return Account(res["user_id"], password, res["access_token"], res["device_id"])

    def unique(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter}-{os.getpid()}"

    @property
    def admin(self) -> Account:
        if self._admin is None:
            self._admin = self.register("synapse-admin", admin=True)
        return self._admin

    def override_ratelimit(self, user_id: str, messages_per_second: float, burst_count: int) -> None:
        self.request("POST", f"/_synapse/admin/v1/users/{urllib.request.quote(user_id)}/override_ratelimit",
                     {"messages_per_second": messages_per_second, "burst_count": burst_count}, self.admin.access_token)
