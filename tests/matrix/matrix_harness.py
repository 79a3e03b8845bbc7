"""Real nio clients acting as room members, and a runner for the real bot, for the Synapse tests."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, Callable

from nio import AsyncClient, AsyncClientConfig, RoomCreateResponse, RoomSendResponse, SyncResponse

from bot.config import MatrixConfig
from bot.matrix_adapter import MatrixBot, create_client, login

from synapse_server import Account, SynapseServer

Pred = Callable[[str, dict], bool]


class Member:
    """A logged-in user with a background sync loop recording every timeline event it sees."""

    def __init__(self, server: SynapseServer, account: Account) -> None:
        self.account = account
        self.user_id = account.user_id
        self.client = AsyncClient(server.url, account.user_id,
                                  config=AsyncClientConfig(encryption_enabled=False, store_sync_tokens=False))
        self.client.access_token = account.access_token
        self.client.user_id = account.user_id
        self.client.device_id = account.device_id
        self.events: list[tuple[str, dict]] = []
        self._cond = asyncio.Condition()
        self._task: asyncio.Task | None = None
        self._since: str | None = None

    async def start(self) -> "Member":
        resp = await self.client.sync(timeout=0, sync_filter={"room": {"timeline": {"limit": 0}}})
        assert isinstance(resp, SyncResponse), resp
        self._since = resp.next_batch
        self._task = asyncio.create_task(self._loop())
        return self

    async def _loop(self) -> None:
        flt = {"room": {"timeline": {"limit": 200}}, "presence": {"not_types": ["*"]}}
        while True:
            resp = await self.client.sync(timeout=5000, since=self._since, sync_filter=flt)
            if not isinstance(resp, SyncResponse):
                await asyncio.sleep(0.2)
                continue
            self._since = resp.next_batch
            fresh = []
            for room_id, info in resp.rooms.join.items():
                fresh += [(room_id, ev.source) for ev in info.timeline.events]
            for room_id, info in resp.rooms.leave.items():
                fresh += [(room_id, ev.source) for ev in info.timeline.events]
            if fresh:
                async with self._cond:
                    self.events.extend(fresh)
                    self._cond.notify_all()

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self.client.close()

    # ------------------------------------------------------------------ observing

    def find(self, pred: Pred) -> list[dict]:
        return [ev for room, ev in self.events if pred(room, ev)]

    async def wait_for(self, pred: Pred, what: str, timeout: float = 20.0) -> dict:
        deadline = time.monotonic() + timeout
        async with self._cond:
            while True:
                for room, ev in self.events:
                    if pred(room, ev):
                        return ev
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = "\n".join(f"  {r} {e.get('type')} {e.get('sender')} {str(e.get('content'))[:160]}"
                                     for r, e in self.events[-15:])
                    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last events:\n{seen}")
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._cond.wait(), remaining)

    # ------------------------------------------------------------------ acting

    async def send(self, room_id: str, content: dict, event_type: str = "m.room.message") -> str:
        resp = await self.client.room_send(room_id, event_type, content)
        assert isinstance(resp, RoomSendResponse), resp
        return resp.event_id

    async def say(self, room_id: str, body: str, **extra: Any) -> str:
        return await self.send(room_id, {"msgtype": "m.text", "body": body, **extra})

    async def edit(self, room_id: str, event_id: str, body: str) -> str:
        return await self.send(room_id, {
            "msgtype": "m.text", "body": "* " + body,
            "m.new_content": {"msgtype": "m.text", "body": body},
            "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
        })

    async def react(self, room_id: str, event_id: str, key: str) -> str:
        return await self.send(room_id, {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}},
                               "m.reaction")

    async def redact(self, room_id: str, event_id: str) -> None:
        resp = await self.client.room_redact(room_id, event_id, reason="test")
        assert getattr(resp, "event_id", None), resp

    async def create_room(self, *, invite: tuple[str, ...] = (), power: dict[str, int] | None = None,
                          encrypted: bool = False, name: str = "test", room_version: str | None = None) -> str:
        """Create a private room (the server's default room version unless given; v12+ creators hold
        unlimited power and must not be listed in the power levels)."""
        initial_state = []
        if encrypted:
            initial_state.append({"type": "m.room.encryption", "state_key": "",
                                  "content": {"algorithm": "m.megolm.v1.aes-sha2"}})
        users = dict(power or {})
        if room_version is not None and room_version.isdigit() and int(room_version) < 12:
            users[self.user_id] = 100
        resp = await self.client.room_create(name=name, invite=list(invite), initial_state=initial_state,
                                             power_level_override={"users": users} if users else None,
                                             room_version=room_version)
        assert isinstance(resp, RoomCreateResponse), resp
        return resp.room_id

    async def join(self, room_id: str) -> None:
        resp = await self.client.join(room_id)
        assert getattr(resp, "room_id", None), resp


# ---------------------------------------------------------------------------------------- predicates


def content(ev: dict) -> dict:
    c = ev.get("content")
    return c if isinstance(c, dict) else {}


def reply_to_of(ev: dict) -> str | None:
    rel = content(ev).get("m.relates_to") or {}
    return (rel.get("m.in_reply_to") or {}).get("event_id")


def bot_reply_to(bot_id: str, room_id: str, event_id: str) -> Pred:
    return lambda r, ev: (r == room_id and ev.get("sender") == bot_id and ev.get("type") == "m.room.message"
                          and reply_to_of(ev) == event_id)


def edit_of(bot_id: str, room_id: str, event_id: str) -> Pred:
    """An ``m.replace`` edit by the bot of its event ``event_id``."""
    return lambda r, ev: (r == room_id and ev.get("sender") == bot_id
                          and (content(ev).get("m.relates_to") or {}).get("rel_type") == "m.replace"
                          and (content(ev).get("m.relates_to") or {}).get("event_id") == event_id)


def new_content(ev: dict) -> dict:
    c = content(ev).get("m.new_content")
    return c if isinstance(c, dict) else {}


def is_card(ev: dict) -> bool:
    return "<h4>" in str(content(ev).get("formatted_body", "")) and "ℹ️" in str(content(ev).get("body", ""))


def membership(room_id: str, user_id: str, state: str) -> Pred:
    return lambda r, ev: (r == room_id and ev.get("type") == "m.room.member" and ev.get("state_key") == user_id
                          and content(ev).get("membership") == state)


# ---------------------------------------------------------------------------------------- the bot


class BotRunner:
    """The real MatrixBot (real nio client, real service and SQLite) running in a background task."""

    def __init__(self, server: SynapseServer, account: Account, app: Any, **config: Any) -> None:
        self.server, self.account, self.app = server, account, app
        use_token = config.pop("use_token", False)
        self.bot_kwargs = {k: config.pop(k) for k in ("timeline_limit", "send_attempts", "alert_sweep_interval")
                           if k in config}
        self.config = MatrixConfig(
            homeserver=server.url, user_id=account.user_id,
            access_token=account.access_token if use_token else None,
            password=None if use_token else account.password, **config,
        )
        self.bot: MatrixBot | None = None
        self.task: asyncio.Task | None = None

    async def start(self, timeout: float = 20.0) -> MatrixBot:
        client = create_client(self.config)
        await login(client, self.config, self.app.service.settings)
        self.bot = MatrixBot(client, self.app.service, self.config, sync_timeout_ms=5000, **self.bot_kwargs)
        self.task = asyncio.create_task(self.bot.run())
        ready = asyncio.create_task(self.bot.ready.wait())
        done, _ = await asyncio.wait({ready, self.task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if self.task in done:
            self.task.result()  # raises the bot's error
        if ready not in done:
            ready.cancel()
            raise AssertionError("the bot did not finish its first sync in time")
        return self.bot

    async def stop(self) -> None:
        if self.bot is None:
            return
        await self.bot.stop()
        if self.task is not None:
            try:
                await asyncio.wait_for(self.task, 30)
            finally:
                await self.bot.client.close()
        self.bot, self.task = None, None
