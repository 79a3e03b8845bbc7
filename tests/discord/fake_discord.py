"""A local fake of Discord (REST + gateway) good enough to drive the real discord.py 2.x client.

Start it, point ``discord.http.Route.BASE`` and ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` at it
(:meth:`FakeDiscord.patch_discord_py`), log a client in with :attr:`FakeDiscord.token` and connect.

REST: the routes the bot uses (users/@me, oauth2/applications/@me, gateway[/bot], channel messages, interaction
callbacks, webhook follow-ups, application command bulk overwrite, ...). Every request is recorded as a
:class:`Call`; unknown routes are recorded and answered 404. Sent messages are validated against Discord's
limits (content, embeds, components) so a payload Discord would refuse fails here too.

Discord behaviour modelled because the bot must cope with it: member permissions computed from roles and channel
overwrites (:meth:`FakeDiscord.permissions_for`), ``default_member_permissions`` hiding commands from members who
lack them, the 3-second deadline for the first answer to an interaction (:attr:`FakeDiscord.interaction_deadline`),
429 answers with rate-limit headers (:meth:`FakeDiscord.rate_limit`, :attr:`FakeDiscord.channel_message_limit`), the
upload limit (``attachment_size_limit``) and gateway close codes at IDENTIFY (:attr:`FakeDiscord.close_on_identify`).

Gateway: HELLO, IDENTIFY -> READY (with a local ``resume_gateway_url``) + GUILD_CREATE, heartbeat ACK,
RESUME -> replay of missed events + RESUMED (or INVALID_SESSION). Tests push dispatches with
:meth:`FakeDiscord.dispatch` (or the helpers :meth:`user_message`, :meth:`edit_user_message`,
:meth:`delete_user_message`, :meth:`slash_command`, :meth:`click_button`, :meth:`message_command`) and can
drop the socket with :meth:`drop_connection` to exercise reconnects.

Nothing here knows about contextbot; it is reusable for any discord.py bot.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

import aiohttp
import discord
import yarl
from aiohttp import web

API_PREFIX = "/api/v10"
EPHEMERAL = 1 << 6
P = discord.Permissions

# Permission sets used by the default guild
EVERYONE_PERMS = P(view_channel=True, send_messages=True, read_message_history=True, use_application_commands=True,
                   embed_links=True, attach_files=True, add_reactions=True, send_messages_in_threads=True)
BOT_PERMS = P(view_channel=True, send_messages=True, send_messages_in_threads=True, embed_links=True,
              read_message_history=True)
MODERATOR_PERMS = P(EVERYONE_PERMS.value | P(manage_messages=True).value)
ADMIN_PERMS = P(MODERATOR_PERMS.value | P(manage_guild=True).value)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


@dataclass
class Call:
    """One REST request the client made."""

    method: str
    path: str  # without the /api/v10 prefix
    query: dict[str, str]
    json: Any = None
    files: list[tuple[str, bytes]] = field(default_factory=list)  # (filename, content)
    status: int = 200
    code: int = 0  # Discord's JSON error code when the request failed (0: no route here, or no error)


@dataclass
class Interaction:
    """An interaction the fake sent to the client, and what the client answered."""

    id: int
    token: str
    payload: dict
    created: float = 0.0  # loop time the interaction was dispatched (for the 3-second deadline)
    late: bool = False  # the client answered after the deadline (Discord answered 404 Unknown interaction)
    callback: dict | None = None  # the body of POST /interactions/{id}/{token}/callback
    followups: list[dict] = field(default_factory=list)  # bodies of POST /webhooks/{app}/{token}
    files: list[tuple[str, bytes]] = field(default_factory=list)

    @property
    def callback_type(self) -> int | None:
        return self.callback["type"] if self.callback else None

    @property
    def response_data(self) -> dict:
        return (self.callback or {}).get("data") or {}

    @property
    def deferred(self) -> bool:
        """Acknowledged first (5: "thinking", 6: deferred update of the clicked message), answered later."""
        return self.callback_type in (5, 6)

    def ephemeral(self) -> bool:
        """True if the answer the member sees is ephemeral (after "thinking", the defer decides; after a deferred
        update, the follow-up)."""
        flags = int(self.response_data.get("flags") or 0)
        if self.callback_type == 6:
            return bool(self.followups) and bool(int(self.followups[-1].get("flags") or 0) & EPHEMERAL)
        if self.callback_type != 5:
            return bool(flags & EPHEMERAL)
        return bool(flags & EPHEMERAL) and all(int(f.get("flags") or 0) & EPHEMERAL for f in self.followups)

    def answer(self) -> dict:
        """The message data the user sees: follow-up (or edit) after a defer, else the callback data."""
        if self.deferred and self.followups:
            return self.followups[-1]
        return self.response_data


class CommandNotAvailable(AssertionError):
    """The member may not use this command here (``default_member_permissions``): Discord does not even show it,
    so no interaction reaches the bot."""


@dataclass
class RateLimit:
    """Answer the next ``times`` requests matching ``method`` and ``pattern`` (a regex on the path) with 429."""

    method: str
    pattern: str
    times: int
    retry_after: float
    bucket: str = field(default_factory=lambda: secrets.token_hex(8))


@dataclass
class _Session:
    id: str
    seq: int = 0
    events: list[dict] = field(default_factory=list)  # sent dispatch frames, for RESUME replay
    ws: web.WebSocketResponse | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class FakeDiscord:
    def __init__(self, *, token: str | None = None, heartbeat_interval_ms: int = 41_250) -> None:
        self.token = token or "fake." + secrets.token_urlsafe(16)
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self._ids = itertools.count(1)
        self.calls: list[Call] = []
        self.messages: dict[int, dict] = {}
        self.channels: dict[int, dict] = {}
        self.guilds: dict[int, dict] = {}
        self.users: dict[int, dict] = {}
        self.members: dict[tuple[int, int], dict] = {}
        self.interactions: dict[int, Interaction] = {}
        self.commands: dict[str, list[dict]] = {}  # "global" or guild id -> registered commands
        self.forbidden_channels: set[int] = set()  # POSTs to these answer 403 Missing Permissions
        self.interaction_deadline = 3.0  # seconds to the first answer (callback) of an interaction
        self.attachment_size_limit = 10 * 1024 * 1024  # bytes per upload, also sent in interactions
        self.rate_limits: list[RateLimit] = []
        # (messages, seconds) per channel for POST /channels/{id}/messages, like Discord's per-channel bucket
        self.channel_message_limit: tuple[int, float] | None = None
        self._channel_posts: dict[int, list[float]] = {}
        # command permissions an admin set in Server Settings > Integrations: command name -> role ids allowed
        self.command_overrides: dict[str, set[str]] = {}
        # (method, path regex, async hook(call)) run after a matching request was handled, before it is answered:
        # lets a test make something happen "while the request is in flight"
        self.request_hooks: list[tuple[str, str, Callable[[Call], Any]]] = []
        self.close_on_identify: int | None = None  # e.g. 4011 (sharding required), 4014 (disallowed intents)
        self.identifies = 0
        self.connection_paths: list[str] = []  # "/gateway" or "/resume" (the READY resume_gateway_url), in order
        self.resumes = 0
        self.invalid_resumes = 0
        self.replay_on_resume = True
        self._sessions: dict[str, _Session] = {}
        self._current: _Session | None = None
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

        self.app_id = self.snowflake()
        self.owner = self.make_user("owner")
        self.bot_user = self.make_user("contextbot", bot=True)
        self.bot_user.update(verified=True, mfa_enabled=False, flags=0)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> "FakeDiscord":
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/resume", self._gateway)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        for s in self._sessions.values():
            if s.ws is not None and not s.ws.closed:
                await s.ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def resume_gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/resume"

    def patch_discord_py(self, monkeypatch) -> None:
        """Point discord.py's REST base and default gateway here (restored by ``monkeypatch``)."""
        monkeypatch.setattr(discord.http.Route, "BASE", self.api_base)
        monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(self.gateway_url))

    # ------------------------------------------------------------------ world building

    def snowflake(self) -> int:
        return discord.utils.time_snowflake(datetime.now(timezone.utc)) + next(self._ids)

    def make_user(self, name: str, *, bot: bool = False) -> dict:
        uid = self.snowflake()
        user = {"id": str(uid), "username": name, "discriminator": "0", "global_name": name, "avatar": None,
                "bot": bot, "public_flags": 0}
        self.users[uid] = user
        return user

    def make_guild(self, name: str = "Test server", channels: tuple[str, ...] = ("general",)) -> dict:
        gid = self.snowflake()
        roles = [
            self._role(gid, "@everyone", EVERYONE_PERMS, 0),
            self._role(self.snowflake(), "contextbot", BOT_PERMS, 1, managed=True),
            self._role(self.snowflake(), "Moderators", EVERYONE_PERMS, 2),
        ]
        guild = {
            "id": str(gid), "name": name, "icon": None, "owner_id": self.owner["id"], "roles": roles,
            "emojis": [], "stickers": [], "features": [], "channels": [], "threads": [], "members": [],
            "voice_states": [], "presences": [], "member_count": 2, "large": False, "unavailable": False,
            "joined_at": now_iso(), "verification_level": 0, "default_message_notifications": 0,
            "explicit_content_filter": 0, "mfa_level": 0, "nsfw_level": 0, "premium_tier": 0,
            "preferred_locale": "en-US", "system_channel_id": None, "system_channel_flags": 0,
            "afk_channel_id": None, "afk_timeout": 300, "description": None, "banner": None, "splash": None,
            "discovery_splash": None, "vanity_url_code": None, "application_id": None, "rules_channel_id": None,
            "public_updates_channel_id": None, "premium_subscription_count": 0, "max_members": 500000,
            "stage_instances": [], "guild_scheduled_events": [], "soundboard_sounds": [],
        }
        self.guilds[gid] = guild
        guild["members"].append(self._member(gid, self.bot_user, [roles[1]["id"]]))
        for i, cname in enumerate(channels):
            self.add_channel(gid, cname, position=i)
        return guild

    def _role(self, rid: int, name: str, perms: discord.Permissions, position: int, managed: bool = False) -> dict:
        return {"id": str(rid), "name": name, "permissions": str(perms.value), "position": position, "color": 0,
                "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
                "hoist": False, "managed": managed, "mentionable": False, "flags": 0, "icon": None,
                "unicode_emoji": None}

    def add_channel(self, guild_id: int, name: str, *, position: int = 0, type: int = 0,
                    overwrites: list[dict] | None = None) -> dict:
        """A channel; ``overwrites`` are Discord permission overwrites ({"id", "type", "allow", "deny"})."""
        cid = self.snowflake()
        channel = {"id": str(cid), "type": type, "guild_id": str(guild_id), "name": name, "position": position,
                   "permission_overwrites": list(overwrites or []), "parent_id": None, "nsfw": False, "topic": None,
                   "rate_limit_per_user": 0, "last_message_id": None, "flags": 0}
        self.channels[cid] = channel
        self.guilds[guild_id]["channels"].append(channel)
        return channel

    def _member(self, guild_id: int, user: dict, roles: list[str] | None = None) -> dict:
        member = {"user": user, "roles": list(roles or []), "joined_at": now_iso(), "deaf": False, "mute": False,
                  "flags": 0, "pending": False, "nick": None, "avatar": None, "premium_since": None,
                  "communication_disabled_until": None}
        self.members[(guild_id, int(user["id"]))] = member
        return member

    def add_role(self, guild: dict, name: str, perms: discord.Permissions) -> dict:
        """A server role (before the client connects: it learns roles from GUILD_CREATE)."""
        role = self._role(self.snowflake(), name, perms, len(guild["roles"]))
        guild["roles"].append(role)
        return role

    def add_member(self, guild: dict, user: dict, *role_names: str) -> dict:
        """Make ``user`` a member of ``guild`` with the named roles (replacing earlier roles)."""
        return self._member(int(guild["id"]), user, [self.role_id(guild, n) for n in role_names])

    def permissions_for(self, guild_id: int, user_id: int, channel: dict | None = None) -> discord.Permissions:
        """What Discord computes: @everyone and the member's roles (server level), then the channel's overwrites
        for @everyone, the member's roles and the member (channel level, when ``channel`` is given). The owner
        and Administrator have everything; without View Channel a member has nothing in that channel."""
        guild = self.guilds[guild_id]
        if guild["owner_id"] == str(user_id):
            return discord.Permissions.all()
        member = self.members.get((guild_id, user_id)) or {"roles": []}
        roles = {r["id"]: int(r["permissions"]) for r in guild["roles"]}
        value = roles.get(str(guild_id), 0)
        for rid in member["roles"]:
            value |= roles.get(rid, 0)
        if value & discord.Permissions(administrator=True).value:
            return discord.Permissions.all()
        if channel is not None:
            if channel.get("type") in (10, 11, 12) and channel.get("parent_id"):  # threads: the parent's overwrites
                channel = self.channels.get(int(channel["parent_id"]), channel)
            overwrites = {o["id"]: (int(o["allow"]), int(o["deny"])) for o in channel.get("permission_overwrites", [])}
            allow, deny = overwrites.get(str(guild_id), (0, 0))
            value = (value & ~deny) | allow
            allow = deny = 0
            for rid in member["roles"]:
                a, d = overwrites.get(rid, (0, 0))
                allow, deny = allow | a, deny | d
            value = (value & ~deny) | allow
            allow, deny = overwrites.get(str(user_id), (0, 0))
            value = (value & ~deny) | allow
            if not value & discord.Permissions(view_channel=True).value:
                return discord.Permissions.none()
        return discord.Permissions(value)

    async def update_channel(self, channel: dict, **changes: Any) -> None:
        """An admin edits ``channel`` (e.g. ``permission_overwrites``): CHANNEL_UPDATE dispatched."""
        channel.update(changes)
        await self.dispatch("CHANNEL_UPDATE", channel)

    async def delete_channel(self, channel: dict) -> None:
        """An admin deletes ``channel``: gone from REST (404 Unknown Channel) and CHANNEL_DELETE dispatched."""
        self.channels.pop(int(channel["id"]), None)
        guild = self.guilds[int(channel["guild_id"])]
        guild["channels"] = [c for c in guild["channels"] if c["id"] != channel["id"]]
        await self.dispatch("CHANNEL_DELETE", channel)

    def rate_limit(self, method: str, pattern: str, *, times: int = 1, retry_after: float = 0.05) -> RateLimit:
        """The next ``times`` matching requests get 429 with Discord's rate-limit headers."""
        limit = RateLimit(method, pattern, times, retry_after)
        self.rate_limits.append(limit)
        return limit

    def role_id(self, guild: dict, name: str) -> str:
        return next(r["id"] for r in guild["roles"] if r["name"] == name)

    def channel_by_name(self, guild: dict, name: str) -> dict:
        return next(c for c in guild["channels"] if c["name"] == name)

    def add_thread(self, parent: dict, name: str) -> dict:
        tid = self.snowflake()
        thread = {"id": str(tid), "type": 11, "guild_id": parent["guild_id"], "name": name, "parent_id": parent["id"],
                  "owner_id": self.owner["id"], "message_count": 0, "member_count": 1, "rate_limit_per_user": 0,
                  "flags": 0, "last_message_id": None,
                  "thread_metadata": {"archived": False, "auto_archive_duration": 1440,
                                      "archive_timestamp": now_iso(), "locked": False}}
        self.channels[tid] = thread
        self.guilds[int(parent["guild_id"])]["threads"].append(thread)
        return thread

    # ------------------------------------------------------------------ gateway

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        self.connection_paths.append(request.path)
        session: _Session | None = None
        await self._send_raw(ws, {"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}, "s": None, "t": None})
        async for msg in ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                continue
            frame = json.loads(msg.data)
            op, d = frame.get("op"), frame.get("d")
            if op == 1:  # heartbeat
                await self._send_raw(ws, {"op": 11, "d": None, "s": None, "t": None})
            elif op == 2:  # identify
                if d.get("token") != self.token:
                    await ws.close(code=4004, message=b"Authentication failed.")
                    break
                self.identifies += 1
                if self.close_on_identify is not None:
                    await ws.close(code=self.close_on_identify, message=b"fake: refused at IDENTIFY")
                    break
                session = _Session(id=uuid.uuid4().hex, ws=ws)
                self._sessions[session.id] = session
                self._current = session
                await self._dispatch(session, "READY", self._ready_payload(session))
                for guild in self.guilds.values():
                    await self._dispatch(session, "GUILD_CREATE", guild)
                await self._notify()
            elif op == 6:  # resume
                session = self._sessions.get(d.get("session_id", ""))
                if session is None or d.get("token") != self.token:
                    self.invalid_resumes += 1
                    await self._send_raw(ws, {"op": 9, "d": False, "s": None, "t": None})
                    continue
                self.resumes += 1
                async with session.lock:
                    session.ws = ws
                    self._current = session
                    if self.replay_on_resume:
                        for event in session.events:
                            if event["s"] > (d.get("seq") or 0):
                                await self._send_raw(ws, event)
                await self._dispatch(session, "RESUMED", {})
                await self._notify()
            # op 3 (presence), 4 (voice), 8 (request members): accepted and ignored
        await self._notify()
        return ws

    def _ready_payload(self, session: _Session) -> dict:
        return {
            "v": 10, "user": self.bot_user, "session_id": session.id, "session_type": "normal",
            "resume_gateway_url": self.resume_gateway_url,
            "guilds": [{"id": g["id"], "unavailable": True} for g in self.guilds.values()],
            "application": {"id": str(self.app_id), "flags": 0}, "private_channels": [], "relationships": [],
            "presences": [], "geo_ordered_rtc_regions": [], "guild_join_requests": [], "shard": [0, 1],
        }

    async def _send_raw(self, ws: web.WebSocketResponse, frame: dict) -> None:
        if not ws.closed:
            await ws.send_str(json.dumps(frame))

    async def _dispatch(self, session: _Session, event: str, data: Any) -> int:
        async with session.lock:
            session.seq += 1
            frame = {"op": 0, "t": event, "s": session.seq, "d": data}
            session.events.append(frame)
            if session.ws is not None and not session.ws.closed:
                await self._send_raw(session.ws, frame)
            return session.seq

    async def dispatch(self, event: str, data: Any) -> int:
        """Send a DISPATCH to the current session (buffered for RESUME if the socket is down)."""
        if self._current is None:
            raise RuntimeError("no gateway session; has the client connected?")
        return await self._dispatch(self._current, event, data)

    async def redeliver(self, seq: int) -> None:
        """Send an already-dispatched event again (at-least-once delivery) with a new sequence number."""
        assert self._current is not None
        old = next(e for e in self._current.events if e["s"] == seq)
        await self.dispatch(old["t"], old["d"])

    async def drop_connection(self, code: int = 4000) -> None:
        """Close the current socket the way Discord does before a resume (client should RESUME)."""
        session = self._current
        if session is not None and session.ws is not None:
            ws, session.ws = session.ws, None
            await ws.close(code=code, message=b"fake: reconnect")

    async def wait_for_resume(self, count: int = 1, timeout: float = 10.0) -> None:
        await self.wait_until(lambda: self.resumes >= count and self._current is not None and self._current.ws is not None, timeout)

    # ------------------------------------------------------------------ test-side events

    async def user_message(self, channel: dict, content: str, author: dict, *, roles: list[str] | None = None,
                           dispatch: bool = True, **extra: Any) -> dict:
        """A member writes ``content`` in ``channel``: stored and dispatched as MESSAGE_CREATE."""
        guild_id = int(channel["guild_id"])
        member = self.members.get((guild_id, int(author["id"]))) or self._member(guild_id, author, roles)
        data = self._message(int(channel["id"]), content, author, **extra)
        data["member"] = {k: v for k, v in member.items() if k != "user"}
        if dispatch:
            await self.dispatch("MESSAGE_CREATE", data)
        return data

    async def edit_user_message(self, message: dict, content: str) -> dict:
        message.update(content=content, edited_timestamp=now_iso())
        await self.dispatch("MESSAGE_UPDATE", message)
        return message

    async def delete_user_message(self, message: dict) -> None:
        self.messages.pop(int(message["id"]), None)
        await self.dispatch("MESSAGE_DELETE", {"id": message["id"], "channel_id": message["channel_id"],
                                               "guild_id": message.get("guild_id")})

    def _message(self, channel_id: int, content: str, author: dict, **extra: Any) -> dict:
        mid = self.snowflake()
        channel = self.channels.get(channel_id, {})
        data = {
            "id": str(mid), "channel_id": str(channel_id), "author": author, "content": content,
            "timestamp": now_iso(), "edited_timestamp": None, "tts": False, "mention_everyone": False,
            "mentions": [], "mention_roles": [], "attachments": [], "embeds": [], "components": [],
            "pinned": False, "type": 0, "flags": 0,
        }
        if channel.get("guild_id"):
            data["guild_id"] = channel["guild_id"]
        data.update(extra)
        self.messages[mid] = data
        return data

    def _interaction(self, type: int, data: dict, user: dict, channel: dict,
                     roles: list[str] | None = None, message: dict | None = None, locale: str = "en-US") -> Interaction:
        iid, token = self.snowflake(), "itoken-" + secrets.token_urlsafe(12)
        guild_id = int(channel["guild_id"])
        if roles is not None:
            self._member(guild_id, user, roles)
        member = dict(self.members.get((guild_id, int(user["id"]))) or self._member(guild_id, user))
        # like Discord: the member's permissions in this channel, from roles and overwrites
        member["permissions"] = str(self.permissions_for(guild_id, int(user["id"]), channel).value)
        payload = {
            "id": str(iid), "application_id": str(self.app_id), "type": type, "data": data, "token": token,
            "version": 1, "guild_id": str(guild_id), "guild": {"id": str(guild_id), "locale": "en-US", "features": []},
            "channel_id": channel["id"], "channel": {k: channel[k] for k in ("id", "type", "guild_id", "name") if k in channel},
            "member": member, "app_permissions": str(BOT_PERMS.value), "locale": locale, "guild_locale": "en-US",
            "entitlements": [], "authorizing_integration_owners": {"0": str(guild_id)}, "context": 0,
            "attachment_size_limit": self.attachment_size_limit,
        }
        if message is not None:
            payload["message"] = message
        record = Interaction(iid, token, payload, created=asyncio.get_running_loop().time())
        self.interactions[iid] = record
        return record

    def resolved(self, *, channels: tuple[dict, ...] = (), roles: tuple[dict, ...] = ()) -> dict:
        """``resolved`` data for channel / role options."""
        out: dict[str, Any] = {}
        if channels:
            out["channels"] = {c["id"]: {"id": c["id"], "name": c.get("name", ""), "type": c["type"],
                                         "permissions": str(EVERYONE_PERMS.value), "guild_id": c.get("guild_id"),
                                         "parent_id": c.get("parent_id")} for c in channels}
        if roles:
            out["roles"] = {r["id"]: r for r in roles}
        return out

    def command_id(self, name: str, type: int = 1) -> str:
        return self.command(name, type)["id"]

    def command(self, name: str, type: int = 1) -> dict:
        for cmds in self.commands.values():
            for c in cmds:
                if c["name"] == name and c.get("type", 1) == type:
                    return c
        raise KeyError(f"command {name!r} (type {type}) was never synced")

    def _check_available(self, command: dict, user: dict, channel: dict, roles: list[str] | None) -> None:
        """``default_member_permissions``: members without them (in this channel) do not get the command."""
        needed = command.get("default_member_permissions")
        if needed is None:
            return
        guild_id = int(channel["guild_id"])
        if roles is not None:
            self._member(guild_id, user, roles)
        member_roles = set((self.members.get((guild_id, int(user["id"]))) or {"roles": []})["roles"]) | {str(guild_id)}
        if member_roles & self.command_overrides.get(command["name"], set()):
            return  # an admin allowed one of the member's roles for this command
        have = self.permissions_for(guild_id, int(user["id"]), channel)
        if not (have.administrator or (have.value & int(needed)) == int(needed)):
            raise CommandNotAvailable(f"/{command['name']} is hidden from {user['username']} "
                                      f"(default_member_permissions {needed})")

    async def slash_command(self, name: str, options: list[dict] | None, *, user: dict, channel: dict,
                            roles: list[str] | None = None, focused: bool = False, locale: str = "en-US",
                            resolved: dict | None = None) -> Interaction:
        """``/name`` with raw option payloads (use :func:`sub` / :func:`opt` to build them).

        The member's permissions come from their roles (``roles`` replaces them) and the channel's overwrites.
        Raises :class:`CommandNotAvailable` when ``default_member_permissions`` hide the command from the member.
        ``focused=True`` sends it as an autocomplete interaction (type 4) instead. Channel and role options need
        ``resolved`` data (see :meth:`resolved`).
        """
        command = self.command(name)
        self._check_available(command, user, channel, roles)
        data = {"id": command["id"], "name": name, "type": 1, "options": options or [],
                "guild_id": channel["guild_id"]}
        if resolved:
            data["resolved"] = resolved
        record = self._interaction(4 if focused else 2, data, user, channel, roles, locale=locale)
        await self.dispatch("INTERACTION_CREATE", record.payload)
        return record

    async def message_command(self, name: str, target: dict, *, user: dict, channel: dict) -> Interaction:
        command = self.command(name, 3)
        self._check_available(command, user, channel, None)
        data = {"id": command["id"], "name": name, "type": 3, "target_id": target["id"],
                "resolved": {"messages": {target["id"]: target}}, "guild_id": channel["guild_id"]}
        record = self._interaction(2, data, user, channel)
        await self.dispatch("INTERACTION_CREATE", record.payload)
        return record

    async def click_button(self, message: dict, custom_id: str, *, user: dict, roles: list[str] | None = None,
                           locale: str = "en-US") -> Interaction:
        """A member clicks the button ``custom_id`` on ``message`` (a message the client posted)."""
        ids = [c.get("custom_id") for row in message.get("components", []) for c in row.get("components", [])]
        if custom_id not in ids:
            raise AssertionError(f"message {message['id']} has no button {custom_id!r} (has {ids})")
        channel = self.channels[int(message["channel_id"])]
        data = {"custom_id": custom_id, "component_type": 2}
        record = self._interaction(3, data, user, channel, roles, message=message, locale=locale)
        await self.dispatch("INTERACTION_CREATE", record.payload)
        return record

    # ------------------------------------------------------------------ waiting

    async def wait_until(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        async def waiter() -> Any:
            async with self._changed:
                while not (result := predicate()):
                    await self._changed.wait()
                return result

        return await asyncio.wait_for(waiter(), timeout)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for_answer(self, interaction: Interaction, timeout: float = 10.0) -> Interaction:
        """Until the client answered (a callback other than a defer, or a follow-up after a defer); fails if the
        first answer came after :attr:`interaction_deadline`."""
        await self.wait_until(lambda: interaction.late or (interaction.callback is not None
                              and (not interaction.deferred or interaction.followups)), timeout)
        assert not interaction.late, "the client missed the 3-second deadline for the first answer"
        return interaction

    def posted(self, channel: dict | int | str | None = None) -> list[dict]:
        """Message payloads the client POSTed to channels (optionally one channel), oldest first."""
        cid = str(channel["id"]) if isinstance(channel, dict) else (str(channel) if channel else None)
        return [c.json for c in self.calls if c.method == "POST" and c.status == 200
                and re.fullmatch(r"/channels/\d+/messages", c.path)
                and (cid is None or c.path.split("/")[2] == cid)]

    def bot_messages(self, channel: dict | None = None) -> list[dict]:
        """Stored (not deleted) messages the client created, optionally in one channel, oldest first."""
        return [m for m in self.messages.values() if m["author"]["id"] == self.bot_user["id"]
                and (channel is None or m["channel_id"] == channel["id"])]

    def unknown_routes(self) -> list[Call]:
        """Requests for routes the fake does not know (not: 404s Discord itself gives, like Unknown Message)."""
        return [c for c in self.calls if c.status == 404 and c.code == 0]

    # ------------------------------------------------------------------ REST

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        body, files = await self._read_body(request)
        call = Call(request.method, path, dict(request.query), body, files)
        self.calls.append(call)
        limited = self._rate_limited(request.method, path)
        if limited is not None:
            call.status = 429
            await self._notify()
            return limited
        try:
            if sum(len(data) for _, data in files) > self.attachment_size_limit:
                raise _Error(413, 40005, "Request entity too large")
            status, payload = await self._route(request.method, path, body, files)
        except _Error as e:
            status, payload = e.status, {"message": e.message, "code": e.code}
            call.code = e.code
        call.status = status
        for method, pattern, hook in list(self.request_hooks):
            if method == request.method and re.fullmatch(pattern, path):
                await hook(call)
        await self._notify()
        if status == 204:
            return web.Response(status=204)
        # discord.py only parses JSON when the content type is exactly "application/json" (no charset)
        return web.Response(status=status, body=json.dumps(payload).encode(), headers={"Content-Type": "application/json"})

    def _rate_limited(self, method: str, path: str) -> web.Response | None:
        """A 429 like Discord's (headers and body) if a :class:`RateLimit` or the channel bucket applies."""
        for limit in self.rate_limits:
            if limit.times > 0 and limit.method == method and re.fullmatch(limit.pattern, path):
                limit.times -= 1
                return self._too_many(limit.retry_after, limit.bucket)
        g = re.fullmatch(r"/channels/(\d+)/messages", path)
        if g and method == "POST" and self.channel_message_limit is not None:
            count, per = self.channel_message_limit
            now = asyncio.get_running_loop().time()
            recent = [t for t in self._channel_posts.get(int(g.group(1)), []) if now - t < per]
            if len(recent) >= count:
                return self._too_many(per - (now - recent[0]), "channel-" + g.group(1))
            self._channel_posts[int(g.group(1))] = recent + [now]
        return None

    @staticmethod
    def _too_many(retry_after: float, bucket: str) -> web.Response:
        headers = {"Content-Type": "application/json", "X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0",
                   "X-RateLimit-Reset-After": f"{retry_after:.3f}", "X-RateLimit-Bucket": bucket,
                   "X-RateLimit-Scope": "user", "Retry-After": str(max(1, round(retry_after))),
                   # Discord's answers come through its proxy; discord.py takes a 429 without Via for a
                   # Cloudflare ban and gives up instead of waiting
                   "Via": "1.1 google"}
        body = {"message": "You are being rate limited.", "retry_after": round(retry_after, 3), "global": False}
        return web.Response(status=429, body=json.dumps(body).encode(), headers=headers)

    async def _read_body(self, request: web.Request) -> tuple[Any, list[tuple[str, bytes]]]:
        if not request.can_read_body:
            return None, []
        if request.content_type.startswith("multipart/"):
            body, files = None, []
            reader = await request.multipart()
            async for part in reader:
                if part.name == "payload_json":
                    body = json.loads(await part.text())
                else:
                    files.append((part.filename or part.name or "", await part.read()))
            return body, files
        raw = await request.read()
        return (json.loads(raw) if raw else None), []

    async def _route(self, method: str, path: str, body: Any, files: list) -> tuple[int, Any]:
        m = lambda pattern: re.fullmatch(pattern, path)  # noqa: E731
        if method == "GET" and path == "/users/@me":
            return 200, self.bot_user
        if method == "GET" and path == "/oauth2/applications/@me":
            return 200, self._application()
        if method == "GET" and path in ("/gateway", "/gateway/bot"):
            return 200, {"url": self.gateway_url, "shards": 1, "session_start_limit":
                         {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}}
        if (g := m(r"/applications/(\d+)/(?:guilds/(\d+)/)?commands")):
            scope = g.group(2) or "global"
            if method == "PUT":
                self.commands[scope] = [self._command(c, g.group(2)) for c in body]
                return 200, self.commands[scope]
            if method == "GET":
                return 200, self.commands.get(scope, [])
        if (g := m(r"/channels/(\d+)")) and method == "GET":
            return 200, self._channel(int(g.group(1)))
        if (g := m(r"/channels/(\d+)/messages")) and method == "POST":
            channel = self._channel(int(g.group(1)))
            if int(channel["id"]) in self.forbidden_channels:
                raise _Error(403, 50013, "Missing Permissions")
            self._validate_message(body)
            ref = (body or {}).get("message_reference")
            if ref and int(ref["message_id"]) not in self.messages and ref.get("fail_if_not_exists", True):
                raise _Error(400, 50035, "Invalid Form Body (message_reference: Unknown message)")
            return 200, self._store_bot_message(int(channel["id"]), body, files)
        if (g := m(r"/channels/(\d+)/messages/(\d+)")):
            msg = self.messages.get(int(g.group(2)))
            if msg is None or msg["channel_id"] != g.group(1):
                raise _Error(404, 10008, "Unknown Message")
            if method == "GET":
                return 200, msg
            if method == "PATCH":
                self._validate_message(body, edit=True)
                msg.update({k: v for k, v in body.items() if k in ("content", "embeds", "components", "flags")})
                msg["edited_timestamp"] = now_iso()
                return 200, msg
            if method == "DELETE":
                del self.messages[int(g.group(2))]
                return 204, None
        if (g := m(r"/interactions/(\d+)/([^/]+)/callback")) and method == "POST":
            return 200, self._interaction_callback(int(g.group(1)), g.group(2), body, files)
        if (g := m(r"/webhooks/(\d+)/([^/]+)")) and method == "POST":
            record = self._by_token(g.group(2))
            self._validate_message(body)
            record.followups.append(body)
            record.files.extend(files)
            return 200, self._store_bot_message(int(record.payload["channel_id"]), body, files, interaction=record)
        if (g := m(r"/webhooks/(\d+)/([^/]+)/messages/(@original|\d+)")):
            record = self._by_token(g.group(2))
            if method == "PATCH":
                self._validate_message(body, edit=True)
                record.followups.append(body)
                clicked = record.payload.get("message")
                if record.callback_type == 6 and clicked is not None and g.group(3) == "@original":
                    clicked.update({k: v for k, v in body.items() if k in ("content", "embeds", "components")})
                    return 200, clicked  # a deferred update edits the message the button is on
                return 200, self._store_bot_message(int(record.payload["channel_id"]), body, files, interaction=record)
            if method == "DELETE":
                return 204, None
        raise _Error(404, 0, f"fake Discord: no route {method} {path}")

    def _application(self) -> dict:
        return {"id": str(self.app_id), "name": "contextbot", "description": "", "icon": None,
                "bot_public": False, "bot_require_code_grant": False, "owner": self.owner, "verify_key": "00" * 32,
                "flags": 0, "team": None, "summary": "", "rpc_origins": [], "bot": self.bot_user,
                "interactions_endpoint_url": None, "tags": [], "redirect_uris": [],
                "approximate_guild_count": len(self.guilds)}

    def _command(self, payload: dict, guild_id: str | None) -> dict:
        cmd = {"default_member_permissions": None, "nsfw": False, "options": [], "type": 1, **payload}
        cmd.update(id=str(self.snowflake()), application_id=str(self.app_id), version=str(self.snowflake()))
        cmd.setdefault("description", "")
        if cmd["default_member_permissions"] is not None:  # Discord answers with a string bit set
            cmd["default_member_permissions"] = str(cmd["default_member_permissions"])
        if guild_id:
            cmd["guild_id"] = guild_id
        return cmd

    def _channel(self, channel_id: int) -> dict:
        channel = self.channels.get(channel_id)
        if channel is None:
            raise _Error(404, 10003, "Unknown Channel")
        return channel

    def _by_token(self, token: str) -> Interaction:
        for record in self.interactions.values():
            if record.token == token:
                return record
        raise _Error(404, 10015, "Unknown Webhook")

    def _store_bot_message(self, channel_id: int, body: dict, files: list, *, interaction: Interaction | None = None) -> dict:
        body = body or {}
        extra: dict[str, Any] = {
            "embeds": body.get("embeds") or [], "components": body.get("components") or [],
            "flags": int(body.get("flags") or 0), "tts": bool(body.get("tts", False)),
            "attachments": [{"id": str(self.snowflake()), "filename": name, "size": len(data),
                             "url": f"{self.api_base}/attachments/{name}", "proxy_url": f"{self.api_base}/attachments/{name}"}
                            for name, data in files],
        }
        ref = body.get("message_reference")
        if ref:
            extra["message_reference"] = {"message_id": ref["message_id"], "channel_id": str(channel_id),
                                          "guild_id": ref.get("guild_id"), "type": 0}
            extra["referenced_message"] = self.messages.get(int(ref["message_id"]))
            extra["type"] = 19
        if interaction is not None:
            extra["webhook_id"] = str(self.app_id)
            extra["application_id"] = str(self.app_id)
        return self._message(channel_id, body.get("content") or "", self.bot_user, **extra)

    def _interaction_callback(self, iid: int, token: str, body: dict, files: list) -> dict:
        record = self.interactions.get(iid)
        if record is None or record.token != token:
            raise _Error(404, 10062, "Unknown interaction")
        if record.callback is not None:
            raise _Error(400, 40060, "Interaction has already been acknowledged.")
        if asyncio.get_running_loop().time() - record.created > self.interaction_deadline:
            record.late = True
            raise _Error(404, 10062, "Unknown interaction")  # the 3-second window for the first answer is over
        record.callback = body
        record.files.extend(files)
        ctype, data = body["type"], body.get("data") or {}
        flags = int(data.get("flags") or 0)
        resource: dict[str, Any] = {"type": ctype}
        info: dict[str, Any] = {"id": str(iid), "type": record.payload["type"],
                                "response_message_loading": ctype == 5,
                                "response_message_ephemeral": bool(flags & EPHEMERAL)}
        if ctype == 4:
            self._validate_message(data)
            msg = self._store_bot_message(int(record.payload["channel_id"]), data, files, interaction=record)
            resource["message"] = msg
            info["response_message_id"] = msg["id"]
        elif ctype == 6 and record.payload.get("message") is None:
            raise _Error(400, 50035, "DEFERRED_UPDATE_MESSAGE on an interaction without a message")
        elif ctype == 7:
            msg = record.payload.get("message")
            if msg is None:
                raise _Error(400, 50035, "UPDATE_MESSAGE on an interaction without a message")
            self._validate_message(data, edit=True)
            msg.update({k: v for k, v in data.items() if k in ("content", "embeds", "components")})
            resource["message"] = msg
            info["response_message_id"] = msg["id"]
        return {"interaction": info, "resource": resource}

    # ------------------------------------------------------------------ validation (Discord's limits)

    def _validate_message(self, body: dict | None, *, edit: bool = False) -> None:
        body = body or {}
        problems = []
        if len(body.get("content") or "") > 2000:
            problems.append("content: longer than 2000")
        embeds = body.get("embeds") or []
        if len(embeds) > 10:
            problems.append("embeds: more than 10")
        for i, e in enumerate(embeds):
            total = 0
            for key, limit in (("title", 256), ("description", 4096)):
                n = len(e.get(key) or "")
                total += n
                if n > limit:
                    problems.append(f"embeds.{i}.{key}: longer than {limit}")
            fields = e.get("fields") or []
            if len(fields) > 25:
                problems.append(f"embeds.{i}.fields: more than 25")
            for j, f in enumerate(fields):
                if not f.get("name") or not f.get("value"):
                    problems.append(f"embeds.{i}.fields.{j}: name and value required")
                if len(f.get("name", "")) > 256 or len(f.get("value", "")) > 1024:
                    problems.append(f"embeds.{i}.fields.{j}: too long")
                total += len(f.get("name", "")) + len(f.get("value", ""))
            footer = (e.get("footer") or {}).get("text") or ""
            if len(footer) > 2048:
                problems.append(f"embeds.{i}.footer.text: longer than 2048")
            total += len(footer)
            if total > 6000:
                problems.append(f"embeds.{i}: more than 6000 characters in total")
        for row in body.get("components") or []:
            for c in row.get("components", []):
                if len(c.get("custom_id") or "") > 100 or len(c.get("label") or "") > 80:
                    problems.append("components: custom_id or label too long")
        if not edit and not (body.get("content") or embeds or body.get("components") or body.get("attachments")
                             or body.get("poll") or body.get("sticker_ids")):
            problems.append("Cannot send an empty message")
        if problems:
            raise _Error(400, 50035, "Invalid Form Body: " + "; ".join(problems))


class _Error(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# ---------------------------------------------------------------------- option payload helpers


def opt(name: str, value: Any, type: int | None = None, *, focused: bool = False) -> dict:
    """A slash-command option value (type inferred: 3 string, 4 integer, 5 boolean)."""
    if type is None:
        type = 5 if isinstance(value, bool) else 4 if isinstance(value, int) else 3
    out = {"name": name, "type": type, "value": value}
    if focused:
        out["focused"] = True
    return out


def sub(name: str, *options: dict) -> dict:
    """A subcommand with its options."""
    return {"name": name, "type": 1, "options": list(options)}


def group(name: str, *subcommands: dict) -> dict:
    return {"name": name, "type": 2, "options": list(subcommands)}
