"""The Matrix bot: a sync loop over a matrix-nio ``AsyncClient`` wired to the :class:`IncidentService`.

All dependencies come in through the constructor (client, service, config); nothing is built at import time.
Detection, modes, thresholds and the reply budget live in the core; this class only converts events, posts
what the service asks for and executes text commands (parsed in :mod:`.commands`).

Sync and restarts
    The sync token is stored in SQLite (``SettingsRepository.set_value``) after every processed sync. On the
    very first start the bot does one ``full_state`` sync with a timeline limit of 0 and discards its events
    (no reaction to history). On a restart it resumes from the stored token (``full_state`` once, to rebuild
    the room state); if the server reports a gap (``limited`` timeline) the missing events are fetched with
    ``/messages`` back to the stored token, so nothing sent while the bot was down is missed. Events before the
    bot's own join in a room are never processed. Delivery is at-least-once: the token is stored after the
    events were handled, and the service de-duplicates incidents and cards per message.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import Any, Awaitable, Callable, Iterable

from nio import (
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    JoinResponse,
    LoginResponse,
    MegolmEvent,
    MessageDirection,
    ReactionEvent,
    RedactionEvent,
    RoomEncryptionEvent,
    RoomGetEventResponse,
    RoomGetStateEventResponse,
    RoomLeaveResponse,
    RoomMemberEvent,
    RoomMessagesResponse,
    RoomMessageText,
    RoomResolveAliasResponse,
    RoomSendResponse,
    SyncError,
    SyncResponse,
    WhoamiResponse,
)
from nio.api import Api

from bot.config import ConfigError, MatrixConfig
from bot.core.lang import detect_language
from bot.core.models import ChannelMode, Incident, IncidentStatus, IncomingMessage
from bot.core.phrases import check_summary, phrase
from bot.core.ports import AlertPost, CardPost, IncidentFilter, SettingsRepository
from bot.core.sanitize import clip
from bot.core.service import IncidentService, Outcome

from . import commands as cmds
from .campaigns import COMMANDS as CAMPAIGN_COMMANDS, MatrixCampaigns
from .convert import (
    CHECK_MARK,
    CROSS_MARK,
    PLATFORM,
    THUMBS_DOWN,
    THUMBS_UP,
    content_of,
    edit_target,
    edited_text,
    incoming_from_event,
    invite_allowed,
    message_text,
    normalize_reaction,
    reply_target,
    server_id_for_room,
    server_part,
    thread_root,
)
from .render import (
    Verbatim,
    alert_content,
    card_content,
    card_html,
    card_text,
    esc,
    incident_detail,
    incidents_content,
    lines_notice,
    notice_content,
    replacement_content,
    text_notice,
    withdrawn_card_content,
)

log = logging.getLogger(__name__)

#: Timeline event types the bot reads (everything else is filtered out server-side).
TIMELINE_TYPES = ("m.room.message", "m.reaction", "m.room.redaction", "m.room.member", "m.room.encryption",
                  "m.room.encrypted")
MAX_BACKFILL = 500  # events fetched per room to close a gap after downtime
INCIDENT_LIST_LIMIT = 10

ENCRYPTED_NOTICE = ("contextbot cannot read end-to-end encrypted rooms, so it will not do anything here. "
                    "Moderators: use contextbot in unencrypted rooms, or remove it from this room.")
REJECT_REASON = "contextbot only joins rooms when invited by an allowed user or homeserver (matrix.allowed_inviters)."


class MatrixStartupError(ConfigError):
    """The bot cannot start for a reason the operator must fix (credentials, homeserver)."""


def create_client(config: MatrixConfig) -> AsyncClient:
    """An AsyncClient for ``config``: no encryption, no client-side 429 retries (the bot retries, bounded)."""
    if not config.homeserver or not config.user_id:
        raise MatrixStartupError("matrix.homeserver and matrix.user_id are required to run the Matrix bot")
    client_config = AsyncClientConfig(
        max_limit_exceeded=0,  # return M_LIMIT_EXCEEDED to us; MatrixBot.send retries a bounded number of times
        encryption_enabled=False,
        store_sync_tokens=False,
        request_timeout=90,
    )
    return AsyncClient(config.homeserver, config.user_id, config=client_config)


async def login(client: AsyncClient, config: MatrixConfig, settings: SettingsRepository) -> None:
    """Log in with ``MATRIX_ACCESS_TOKEN`` (preferred) or ``MATRIX_PASSWORD``.

    With a password the device id is remembered in the key/value store so restarts reuse one device instead
    of creating a new one each time. The access token itself is never stored.
    """
    user_id = config.user_id or ""
    if config.access_token:
        client.access_token = config.access_token
        client.user_id = user_id
        resp = await client.whoami()
        if not isinstance(resp, WhoamiResponse):
            raise MatrixStartupError(f"matrix: the homeserver rejected MATRIX_ACCESS_TOKEN ({resp})")
        if resp.user_id != user_id:
            raise MatrixStartupError(f"matrix: MATRIX_ACCESS_TOKEN belongs to {resp.user_id}, not matrix.user_id {user_id}")
        client.device_id = resp.device_id or ""
        return
    if not config.password:
        raise MatrixStartupError("matrix: set MATRIX_ACCESS_TOKEN or MATRIX_PASSWORD in the environment")
    key = f"matrix:device_id:{user_id}"
    device = await settings.get_value(key)
    if device:
        client.device_id = device
    resp = await client.login(config.password, device_name=config.device_name)
    if not isinstance(resp, LoginResponse):
        raise MatrixStartupError(f"matrix: login as {user_id} failed ({resp})")
    if resp.device_id and resp.device_id != device:
        await settings.set_value(key, resp.device_id)


class MatrixBot:
    def __init__(
        self,
        client: AsyncClient,
        service: IncidentService,
        config: MatrixConfig,
        *,
        settings: SettingsRepository | None = None,
        sync_timeout_ms: int = 30_000,
        timeline_limit: int = 50,
        send_attempts: int = 5,
        max_retry_wait: float = 30.0,
        alert_sweep_interval: float = 600.0,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.service = service
        self.config = config
        self.settings: SettingsRepository = settings if settings is not None else service.settings
        self.sync_timeout_ms = sync_timeout_ms
        self.timeline_limit = timeline_limit
        self.send_attempts = max(1, send_attempts)
        self.max_retry_wait = max_retry_wait
        self._sleep = sleep
        self._monotonic = monotonic
        self.alert_sweep_interval = alert_sweep_interval
        self._last_sweep: float | None = None
        self.prefix = config.command_prefix
        self.management_room: str | None = None
        self.campaign_ui = MatrixCampaigns(self)  # campaign alerts (bot/matrix_adapter/campaigns.py)
        self.ready = asyncio.Event()  # set once the first sync has been processed and its token stored
        self._since: str | None = None
        self._resumed = False
        self._stopping = False
        self._sync_task: asyncio.Future | None = None
        self._encrypted_noticed: set[str] = set()

    # ------------------------------------------------------------------ identity / keys

    @property
    def user_id(self) -> str:
        return self.client.user_id or self.config.user_id or ""

    @property
    def token_key(self) -> str:
        return f"matrix:sync_token:{self.user_id}"

    def server_id(self, room_id: str) -> str:
        return server_id_for_room(room_id, self.user_id)

    def room_name(self, room_id: str) -> str | None:
        """The room's name (or canonical alias) as the bot last saw it, on one line; None if it has none."""
        room = self.client.rooms.get(room_id)
        name = (getattr(room, "name", None) or getattr(room, "canonical_alias", None)) if room is not None else None
        return clip(" ".join(name.split()), 80) if isinstance(name, str) and name.strip() else None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Resolve and join the management room (if configured); load the stored sync token."""
        self._since = await self.settings.get_value(self.token_key)
        log.info("matrix: running as %s (device %s) on %s", self.user_id, self.client.device_id or "?",
                 self.config.homeserver)
        if self.config.allowed_inviters:
            log.info("matrix: accepting invites from %s", ", ".join(self.config.allowed_inviters))
        else:
            log.warning("matrix: matrix.allowed_inviters is empty, so every invite is refused; list the users "
                        "(@user:server) or homeservers allowed to add the bot to rooms")
        room = self.config.management_room
        if room:
            if room.startswith("#"):
                resp = await self.client.room_resolve_alias(room)
                if isinstance(resp, RoomResolveAliasResponse):
                    room = resp.room_id
                else:
                    log.error("matrix: cannot resolve management room alias %s: %s", room, resp)
                    room = None
            if room:
                self.management_room = room
                joined = await self.client.join(room)
                if isinstance(joined, JoinResponse):
                    log.info("matrix: management room %s", room)
                else:
                    log.warning("matrix: cannot join the management room %s (%s); invite the bot there", room, joined)

    async def run(self) -> None:
        """Sync until :meth:`stop` is called."""
        await self.start()
        failures = 0
        while not self._stopping:
            try:
                ok = await self.sync_once()
            except asyncio.CancelledError:
                if self._stopping:
                    break
                raise
            except MatrixStartupError:
                raise
            except Exception:  # network trouble, a bad response, a database hiccup: retry with backoff
                log.exception("matrix: sync loop error; retrying")
                ok = False
            if ok:
                failures = 0
                await self._guard(self.sweep_alerts(), "alert sweep", self.management_room or "-")
            else:
                failures += 1
                await self._sleep(min(60.0, 0.5 * 2 ** min(failures, 7)))

    async def stop(self) -> None:
        """Stop after the current batch of events (an idle long-poll is cancelled at once)."""
        self._stopping = True
        if self._sync_task is not None and not self._sync_task.done():
            self._sync_task.cancel()
        await self.campaign_ui.flush()

    def _filter(self, limit: int) -> dict[str, Any]:
        none = {"not_types": ["*"]}
        return {
            "presence": none,
            "account_data": none,
            "room": {
                "timeline": {"limit": limit, "types": list(TIMELINE_TYPES)},
                "state": {"lazy_load_members": True},
                "ephemeral": none,
                "account_data": none,
            },
        }

    async def sync_once(self) -> bool:
        """One sync request and the handling of its events. Returns False on a (retryable) sync error."""
        first_start = self._since is None
        if first_start:
            # First start ever: learn the rooms, react to nothing that happened before.
            kwargs = dict(timeout=0, sync_filter=self._filter(0), full_state=True)
        elif not self._resumed:
            # Restart: full state once (room state is not persisted), timeline since the stored token.
            kwargs = dict(timeout=0, sync_filter=self._filter(self.timeline_limit), since=self._since, full_state=True)
        else:
            kwargs = dict(timeout=self.sync_timeout_ms, sync_filter=self._filter(self.timeline_limit), since=self._since)
        self._sync_task = asyncio.ensure_future(self.client.sync(**kwargs))
        try:
            resp = await self._sync_task
        finally:
            self._sync_task = None
        if isinstance(resp, SyncError) or not isinstance(resp, SyncResponse):
            code = getattr(resp, "status_code", None)
            if code in ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN"):
                raise MatrixStartupError(f"matrix: the homeserver rejected the bot's credentials ({resp})")
            retry = getattr(resp, "retry_after_ms", None)
            log.warning("matrix: sync failed: %s", resp)
            if retry:
                await self._sleep(min(self.max_retry_wait, retry / 1000))
            return False
        await self.handle_sync(resp, initial=first_start, since=self._since)
        if resp.next_batch != self._since:
            await self.settings.set_value(self.token_key, resp.next_batch)
        self._since = resp.next_batch
        self._resumed = True
        if not self.ready.is_set():
            rooms = sorted(self.client.rooms)
            log.info("matrix: in %d room(s)%s", len(rooms), ": " + ", ".join(
                f"{self.room_name(r) or '(unnamed)'} ({r})" for r in rooms) if rooms else "")
        self.ready.set()
        return True

    # ------------------------------------------------------------------ sync processing

    async def handle_sync(self, resp: SyncResponse, *, initial: bool, since: str | None) -> None:
        for room_id, info in resp.rooms.invite.items():
            await self._guard(self.on_invite(room_id, info.invite_state), "invite", room_id)
        for room_id, info in resp.rooms.join.items():
            events = list(info.timeline.events)
            if initial:
                events = []  # history: discarded
            elif info.timeline.limited and since and self._own_join_index(events) < 0:
                events = await self._backfill(room_id, info.timeline.prev_batch, since) + events
            events = self._after_own_join(events)
            seen: set[str] = set()
            for event in events:
                eid = getattr(event, "event_id", None)
                if eid in seen:
                    continue
                seen.add(eid)
                await self._guard(self.on_event(room_id, event), "event", room_id)
            await self._guard(self.check_encryption(room_id, events), "encryption notice", room_id)
        for room_id in resp.rooms.leave:
            log.info("matrix: left or removed from %s", room_id)
            self._encrypted_noticed.discard(room_id)

    async def _guard(self, coro: Awaitable[Any], what: str, room_id: str) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except MatrixStartupError:
            raise
        except Exception:  # one bad event must not stop the bot
            log.exception("matrix: handling %s in %s failed", what, room_id)

    def _own_join_index(self, events: list) -> int:
        """Index of the bot's latest own join in ``events`` (-1 if absent)."""
        for i in range(len(events) - 1, -1, -1):
            ev = events[i]
            if (isinstance(ev, RoomMemberEvent) and ev.state_key == self.user_id and ev.membership == "join"
                    and ev.prev_membership != "join"):
                return i
        return -1

    def _after_own_join(self, events: list) -> list:
        i = self._own_join_index(events)
        return events[i + 1:] if i >= 0 else events

    async def _backfill(self, room_id: str, prev_batch: str | None, since: str) -> list:
        """Events between the stored token and the start of a limited timeline (oldest first)."""
        if not prev_batch:
            return []
        collected: list = []
        start = prev_batch
        while len(collected) < MAX_BACKFILL:
            resp = await self.client.room_messages(
                room_id, start=start, end=since, direction=MessageDirection.back, limit=100,
                message_filter={"types": list(TIMELINE_TYPES)},
            )
            if not isinstance(resp, RoomMessagesResponse):
                log.warning("matrix: could not fetch missed events in %s: %s", room_id, resp)
                break
            collected.extend(resp.chunk)
            if not resp.chunk or not resp.end or resp.end == start:
                break
            start = resp.end
        if len(collected) >= MAX_BACKFILL:
            log.warning("matrix: more than %d missed events in %s; older ones are skipped", MAX_BACKFILL, room_id)
        collected.reverse()
        log.info("matrix: sync gap in %s recovered: fetched %d missed event(s)", room_id, len(collected))
        return collected

    async def on_event(self, room_id: str, event: Any) -> None:
        if getattr(event, "sender", None) == self.user_id:
            return
        if isinstance(event, RoomMessageText):
            content = content_of(event)
            if edit_target(content):
                await self.on_edit(room_id, event)
                return
            command = cmds.parse_command(message_text(content), self.prefix)  # without a reply fallback
            if command is not None:
                await self.on_command(room_id, event, command)
                return
            await self.on_message(room_id, event)
        elif isinstance(event, ReactionEvent):
            await self.on_reaction(room_id, event)
        elif isinstance(event, RedactionEvent) or (getattr(event, "source", {}) or {}).get("type") == "m.room.redaction":
            await self.on_redaction(room_id, event)

    # ------------------------------------------------------------------ invites & encryption

    async def on_invite(self, room_id: str, invite_state: Iterable[Any]) -> None:
        inviter = None
        for ev in invite_state:
            if isinstance(ev, InviteMemberEvent) and ev.state_key == self.user_id and ev.membership == "invite":
                inviter = ev.sender
        if invite_allowed(inviter, self.config.allowed_inviters):
            resp = await self._with_retry(lambda: self.client.join(room_id), "join")
            if isinstance(resp, JoinResponse):
                log.info("matrix: joined %s (invited by %s)", room_id, inviter)
            else:
                log.warning("matrix: could not join %s: %s", room_id, resp)
            return
        log.info("matrix: refused the invite to %s from %s (not in matrix.allowed_inviters)", room_id, inviter)
        await self.reject_invite(room_id, REJECT_REASON)

    async def reject_invite(self, room_id: str, reason: str) -> None:
        """Reject an invite, telling the inviter why (the reason shows in their client)."""
        method, path = Api.room_leave(self.client.access_token, room_id)
        try:
            resp = await self.client._send(RoomLeaveResponse, method, path, json.dumps({"reason": reason}))
        except Exception as e:  # pragma: no cover - fall back to the plain public API
            log.debug("matrix: leave with reason failed (%s); plain leave", e)
            resp = None
        if not isinstance(resp, RoomLeaveResponse):
            resp = await self.client.room_leave(room_id)
        if not isinstance(resp, RoomLeaveResponse):
            log.warning("matrix: could not reject the invite to %s: %s", room_id, resp)

    async def check_encryption(self, room_id: str, events: list) -> None:
        """Say once per room (remembered across restarts) that encrypted rooms cannot be read."""
        if room_id in self._encrypted_noticed:
            return
        room = self.client.rooms.get(room_id)
        encrypted = bool(room is not None and room.encrypted) or any(
            isinstance(e, (MegolmEvent, RoomEncryptionEvent)) for e in events)
        if not encrypted:
            return
        key = f"matrix:encrypted_notice:{room_id}"
        if await self.settings.get_value(key):
            self._encrypted_noticed.add(room_id)
            return
        if await self.send(room_id, text_notice(ENCRYPTED_NOTICE)):
            await self.settings.set_value(key, "1")
            self._encrypted_noticed.add(room_id)

    # ------------------------------------------------------------------ messages

    def _incoming(self, room_id: str, event: Any, **kw: Any) -> IncomingMessage:
        return incoming_from_event(room_id, event, own_user_id=self.user_id, server_id=self.server_id(room_id), **kw)

    async def on_message(self, room_id: str, event: RoomMessageText) -> None:
        if room_id == self.management_room:
            return  # the moderators' room is never watched
        msg = self._incoming(room_id, event)
        if not msg.text.strip():
            return
        outcome = await self.service.handle_message(msg)
        await self.act(room_id, msg, outcome)

    async def on_edit(self, room_id: str, event: RoomMessageText) -> None:
        if room_id == self.management_room:
            return
        content = content_of(event)
        target = edit_target(content)
        text = edited_text(content)
        if not target or text is None or cmds.parse_command(text, self.prefix) is not None:
            return
        original = await self.client.room_get_event(room_id, target)
        if not isinstance(original, RoomGetEventResponse):
            log.info("matrix: ignoring edit of %s in %s: original not available (%s)", target, room_id, original)
            return
        if getattr(original.event, "sender", None) != event.sender:
            log.warning("matrix: ignoring edit of %s by %s: not the original sender", target, event.sender)
            return
        msg = self._incoming(room_id, event, message_id=target, text=text,
                             thread_id=thread_root(content_of(original.event)), is_edit=True)
        outcome = await self.service.handle_edit(msg)
        await self.act(room_id, msg, outcome)

    async def act(self, room_id: str, msg: IncomingMessage, outcome: Outcome) -> None:
        """Post what the service decided: the card (then ``card_posted``) and/or the moderator alert; after an
        edit, take down a card that lost its reason and bring the message's alerts up to date."""
        if outcome.card is not None:
            event_id = await self.send(room_id, card_content(outcome.card, reply_to=msg.message_id, thread_root=msg.thread_id))
            if event_id:
                await self.service.card_posted(msg, outcome, event_id)
            else:
                await self.service.card_not_posted(outcome)  # give the reserved budget slot back
        elif outcome.suppressed:
            log.info("matrix: card for %s in %s held back: %s", msg.message_id, room_id, outcome.suppressed)
        if outcome.withdraw is not None:
            await self.withdraw(outcome.withdraw, "the message was edited")
        for incident in outcome.edited:
            await self.refresh_alerts(incident)
        if outcome.alert and outcome.incident is not None:
            await self.alert(outcome.incident)
        if outcome.campaign is not None:
            await self.campaign_ui.on_event(outcome.campaign)

    async def withdraw(self, post: CardPost, why: str) -> None:
        """Take a card down by editing it into a one-line "withdrawn" notice (see docs/matrix.md, 9.); once
        that is done the budget stops counting it."""
        if await self.send(post.channel_id, withdrawn_card_content(post.post_message_id, post.lang)):
            await self.service.withdraw_card(post)
            log.info("matrix: withdrew card %s in %s: %s", post.post_message_id, post.channel_id, why)

    def _title(self, incident: Incident) -> str | None:
        tp = self.service.catalog.get(incident.talking_point_id)
        return tp.title if tp else None

    def _alert_content(self, incident: Incident) -> dict[str, Any]:
        return alert_content(incident, self._title(incident), self.prefix, self.room_name(incident.channel_id))

    async def alert(self, incident: Incident) -> None:
        if not self.management_room:
            log.info("matrix: incident #%s needs review (no matrix.management_room configured)", incident.id)
            return
        event_id = await self.send(self.management_room, self._alert_content(incident))
        if event_id:
            await self.service.incidents.record_alert_post(AlertPost(
                0, PLATFORM, incident.id, self.management_room, event_id, self.service.clock(),
                content_removed=incident.content is None))

    async def _edit_alert(self, alert: AlertPost, incident: Incident) -> bool:
        room = alert.channel_id or self.management_room
        if not room:
            return False
        return bool(await self.send(room, replacement_content(alert.post_message_id, self._alert_content(incident))))

    async def refresh_alerts(self, incident: Incident) -> None:
        """Edit the incident's alerts (same event ids) to show it as it is now: status, text or no text."""
        for alert in await self.service.incidents.alert_posts_for_incident(incident.id):
            if await self._edit_alert(alert, incident) and incident.content is None and not alert.content_removed:
                await self.service.incidents.mark_alert_content_removed(alert.id)

    async def sweep_alerts(self, *, force: bool = False) -> int:
        """Edit "content removed" into alerts whose incident lost its text (a redaction, or a retention purge
        run by ``python -m bot incidents purge``); at most every ``alert_sweep_interval`` seconds unless
        ``force``. Returns the number of alerts edited."""
        now = self._monotonic()
        if not force and self._last_sweep is not None and now - self._last_sweep < self.alert_sweep_interval:
            return 0
        self._last_sweep = now
        edited = 0
        for alert in await self.service.incidents.alerts_showing_purged_content(PLATFORM):
            incident = await self.service.incidents.get_incident(alert.incident_id)
            if incident is None or incident.content is not None:
                continue
            if await self._edit_alert(alert, incident):
                edited += 1
            # marked even when the edit failed (a deleted room, no power): retrying every sweep would not help
            await self.service.incidents.mark_alert_content_removed(alert.id)
        if edited:
            log.info("matrix: removed the excerpt from %d alert(s) whose message is gone", edited)
        return edited

    async def on_redaction(self, room_id: str, event: Any) -> None:
        source = getattr(event, "source", {}) or {}
        redacts = getattr(event, "redacts", None) or source.get("redacts") or content_of(source).get("redacts")
        if not isinstance(redacts, str) or not redacts:
            return
        changed = await self.service.handle_delete(PLATFORM, room_id, redacts)
        if changed:
            log.info("matrix: purged stored content of %s in %s (%d incident(s))", redacts, room_id, changed)
            await self.sweep_alerts(force=True)
        post = await self.service.live_card(PLATFORM, room_id, redacts)
        if post is not None:
            await self.withdraw(post, "the message was redacted")
        own = await self.service.incidents.card_post_by_post_id(PLATFORM, redacts)
        if own is not None and not own.retracted:  # a moderator removed one of the bot's cards: stop counting it
            await self.service.withdraw_card(own)
            log.info("matrix: card %s in %s was redacted by %s", redacts, room_id, getattr(event, "sender", "?"))

    # ------------------------------------------------------------------ reactions

    async def on_reaction(self, room_id: str, event: ReactionEvent) -> None:
        key = normalize_reaction(event.key)
        if key in (THUMBS_UP, THUMBS_DOWN):
            await self.service.record_feedback(PLATFORM, event.reacts_to, event.sender, key == THUMBS_UP)
            return
        if key not in (CHECK_MARK, CROSS_MARK) or room_id != self.management_room:
            return
        if await self.campaign_ui.on_reaction(room_id, event, key):
            return
        alert = await self.service.incidents.alert_post_by_post_id(PLATFORM, event.reacts_to)
        if alert is None:
            return
        if not await self.is_moderator(room_id, event.sender):
            await self.send(room_id, self._refusal("resolve incidents", reply_to=event.reacts_to))
            return
        status = IncidentStatus.CONFIRMED if key == CHECK_MARK else IncidentStatus.FALSE_POSITIVE
        await self._resolve(room_id, alert.incident_id, status, event.sender, None, reply_to=event.reacts_to)

    async def _resolve(self, room_id: str, incident_id: int, status: IncidentStatus, reviewer: str,
                       note: str | None, *, reply_to: str, thread: str = "") -> None:
        incident = await self.service.resolve(incident_id, status, reviewer, note)
        if incident is None:
            await self.send(room_id, text_notice(f"No incident #{incident_id}.", reply_to=reply_to, thread_root=thread))
            return
        await self.send(room_id, lines_notice(
            [(f"Incident #{incident.id} marked {incident.status.value} by ", Verbatim(reviewer), ".")],
            reply_to=reply_to, thread_root=thread))
        await self.refresh_alerts(incident)

    # ------------------------------------------------------------------ permissions

    async def power_level(self, room_id: str, user_id: str) -> float:
        """The user's power level in the room (fetched fresh; room creators of v12 rooms are infinite)."""
        content: dict | None = None
        resp = await self.client.room_get_state_event(room_id, "m.room.power_levels")
        if isinstance(resp, RoomGetStateEventResponse) and isinstance(resp.content, dict):
            content = resp.content
        if content is None:
            room = self.client.rooms.get(room_id)
            return float(room.power_levels.get_user_level(user_id)) if room is not None else 0.0
        users = content.get("users") if isinstance(content.get("users"), dict) else {}
        try:
            level = float(users.get(user_id, content.get("users_default", 0)))
        except (TypeError, ValueError):
            level = 0.0
        if level < self.config.moderator_power_level and not server_part(room_id):
            # Room version 12+: creators are not listed in power levels; the room id is the create event's hash.
            create = await self.client.room_get_event(room_id, "$" + room_id[1:])
            if isinstance(create, RoomGetEventResponse):
                source = getattr(create.event, "source", {}) or {}
                extra = content_of(source).get("additional_creators") or []
                if user_id == source.get("sender") or user_id in extra:
                    return float("inf")
        return level

    async def is_moderator(self, room_id: str, user_id: str) -> bool:
        return await self.power_level(room_id, user_id) >= self.config.moderator_power_level

    def _refusal(self, what: str, *, reply_to: str | None, thread: str = "") -> dict[str, Any]:
        return text_notice(f"Sorry, only moderators (power level ≥ {self.config.moderator_power_level} in this room) "
                           f"can {what}.", reply_to=reply_to, thread_root=thread)

    # ------------------------------------------------------------------ commands

    async def on_command(self, room_id: str, event: RoomMessageText, command: cmds.Command) -> None:
        content = content_of(event)
        reply_to, thread = event.event_id, thread_root(content)

        async def say(text: str) -> None:
            await self.send(room_id, text_notice(text, reply_to=reply_to, thread_root=thread))

        if isinstance(command, cmds.Unknown) and command.name in CAMPAIGN_COMMANDS:
            await self.campaign_ui.command(room_id, event, message_text(content).split()[1:])
            return
        if command.moderator and not await self.is_moderator(room_id, event.sender):
            await self.send(room_id, self._refusal(f"use {self.prefix} {command.name}", reply_to=reply_to, thread=thread))
            return
        if isinstance(command, cmds.Help):
            await say(cmds.help_text(self.prefix, self.config.moderator_power_level))
        elif isinstance(command, cmds.BadUsage):
            await say(command.message)
        elif isinstance(command, cmds.Unknown):
            await say(f"Unknown command “{command.name}”. Try {self.prefix} help.")
        elif isinstance(command, cmds.Context):
            lang = detect_language(command.topic)  # no client language in Matrix: the topic's own language
            card = self.service.context_card(command.topic, lang)
            if card is None:
                await say(phrase(lang, "no_topic_named", topic=command.topic))
            else:
                await self.send(room_id, card_content(card, reply_to=reply_to, thread_root=thread))
        elif isinstance(command, cmds.Check):
            await self._check(room_id, command, reply_to, thread, content, say)
        elif isinstance(command, cmds.Incidents):
            await self._list_incidents(room_id, command, reply_to, thread)
        elif isinstance(command, cmds.ShowIncident):
            incident = await self._incident_here(room_id, command.incident_id)
            if incident is None:
                await say(f"No incident #{command.incident_id} in this room.")
            else:
                await self.send(room_id, lines_notice(
                    incident_detail(incident, self._title(incident), self.room_name(incident.channel_id)),
                    reply_to=reply_to, thread_root=thread))
        elif isinstance(command, cmds.Resolve):
            if await self._incident_here(room_id, command.incident_id) is None:
                await say(f"No incident #{command.incident_id} in this room.")
                return
            await self._resolve(room_id, command.incident_id, command.status, event.sender, command.note,
                                reply_to=reply_to, thread=thread)
        elif isinstance(command, cmds.Mode):
            await self._mode(room_id, command, say)

    async def _check(self, room_id, command: cmds.Check, reply_to, thread, content, say) -> None:
        text = command.text
        if not text:
            target = reply_target(content)
            if target:
                original = await self.client.room_get_event(room_id, target)
                if isinstance(original, RoomGetEventResponse):
                    text = message_text(content_of(original.event))
        if not text.strip():
            await say("Usage: " + cmds.usage(self.prefix)["check"])
            return
        decision, card = await self.service.check_text(text, server_id=self.server_id(room_id), platform="matrix")
        tp = self.service.catalog.get(decision.talking_point_id) if decision.talking_point_id else None
        # no client language in Matrix: answered in the checked text's language, like the card
        summary = check_summary(decision, tp.title_in(decision.lang) if tp else None, decision.lang)
        if card is None:
            await say(summary)
            return
        body = summary + "\n\n" + card_text(card)
        formatted = f"<p>{esc(summary)}</p>" + card_html(card)
        await self.send(room_id, notice_content(body, formatted, reply_to=reply_to, thread_root=thread))

    async def _incident_here(self, room_id: str, incident_id: int):
        """The incident if it may be handled from this room (any Matrix incident in the management room)."""
        incident = await self.service.incidents.get_incident(incident_id)
        if incident is None or incident.platform != PLATFORM:
            return None
        if room_id != self.management_room and incident.channel_id != room_id:
            return None
        return incident

    async def _list_incidents(self, room_id, command: cmds.Incidents, reply_to, thread) -> None:
        topic = command.topic
        if topic and self.service.catalog.get(topic) is None:
            hits = self.service.search_topics(topic, limit=1)
            topic = hits[0].id if hits else topic
        flt = IncidentFilter(
            platform=PLATFORM,
            channel_id=None if room_id == self.management_room else room_id,
            status=IncidentStatus.OPEN if command.only_open else None,
            talking_point_id=topic,
        )
        total = await self.service.incidents.count_incidents(flt)
        pages = max(1, -(-total // INCIDENT_LIST_LIMIT))
        page = min(command.page, pages)
        rows = await self.service.incidents.list_incidents(flt, limit=INCIDENT_LIST_LIMIT,
                                                           offset=(page - 1) * INCIDENT_LIST_LIMIT)
        scope = "all rooms" if room_id == self.management_room else "this room"
        first = (page - 1) * INCIDENT_LIST_LIMIT + 1
        shown = f"{first}–{first + len(rows) - 1} of {total}" if rows else f"0 of {total}"
        header = (f"{'Open' if command.only_open else 'All'} incidents in {scope}"
                  + (f" for {topic}" if topic else "") + f": {shown} (newest first), page {page} of {pages}")
        footer = ""
        if page < pages:
            words = [self.prefix, "incidents", "open" if command.only_open else "all"] + ([topic] if topic else [])
            footer = f"Next page: {' '.join(words)} {page + 1}"
        await self.send(room_id, incidents_content(rows, header=header, reply_to=reply_to, thread_root=thread,
                                                   footer=footer))

    async def _mode(self, room_id: str, command: cmds.Mode, say) -> None:
        if room_id == self.management_room:
            await say("This is the management room; it is never watched.")
            return
        server = self.server_id(room_id)
        if command.mode is None:
            mode = await self.settings.get_channel_mode(PLATFORM, server, room_id)
            await say(f"Mode in this room: {mode.value}. Set it with {self.prefix} mode off|log|review|reply.")
            return
        await self.settings.set_channel_mode(PLATFORM, server, room_id, command.mode)
        explain = {
            ChannelMode.OFF: "the bot ignores this room",
            ChannelMode.LOG: "matches are logged for moderators, nothing is posted",
            ChannelMode.REVIEW: "matches are logged and moderators are alerted",
            ChannelMode.REPLY: "confident assertions get a context card; the rest goes to review",
        }[command.mode]
        await say(f"Mode set to {command.mode.value}: {explain}.")

    # ------------------------------------------------------------------ sending

    async def _with_retry(self, call: Callable[[], Awaitable[Any]], what: str) -> Any:
        """Run ``call``; on M_LIMIT_EXCEEDED sleep ``retry_after_ms`` and retry (bounded)."""
        resp = None
        for attempt in range(1, self.send_attempts + 1):
            resp = await call()
            code = getattr(resp, "status_code", None)
            retry_ms = getattr(resp, "retry_after_ms", None)
            if code != "M_LIMIT_EXCEEDED" and not retry_ms:
                return resp
            if attempt == self.send_attempts:
                break
            wait = min(self.max_retry_wait, (retry_ms or 1000) / 1000)
            log.info("matrix: rate limited on %s; retrying in %.1fs (attempt %d/%d)", what, wait, attempt, self.send_attempts)
            await self._sleep(wait)
        log.warning("matrix: %s still rate limited after %d attempts", what, self.send_attempts)
        return resp

    async def send(self, room_id: str, content: dict[str, Any], event_type: str = "m.room.message") -> str | None:
        """Send an event (same transaction id on every retry, so the server de-duplicates). Returns its id."""
        content.setdefault("m.mentions", {})
        txn = uuid.uuid4().hex
        resp = await self._with_retry(
            lambda: self.client.room_send(room_id, event_type, content, tx_id=txn), f"send to {room_id}")
        if isinstance(resp, RoomSendResponse):
            return resp.event_id
        log.warning("matrix: could not send to %s: %s", room_id, resp)
        return None


async def run_matrix(app: Any, config: Any) -> None:
    """Entry point behind ``python -m bot run matrix``. ``app`` is :class:`bot.app.App`; ``config`` the
    :class:`bot.config.Config` (or its ``matrix`` section)."""
    mcfg: MatrixConfig = getattr(config, "matrix", config)
    source = getattr(config, "source", "config")
    if not mcfg.homeserver or not mcfg.user_id:
        raise MatrixStartupError(f"{source}: matrix.homeserver and matrix.user_id are required to run the Matrix bot")
    if not (mcfg.access_token or mcfg.password):
        raise MatrixStartupError(f"{source}: matrix: set MATRIX_ACCESS_TOKEN or MATRIX_PASSWORD in the environment")
    client = create_client(mcfg)
    try:
        await login(client, mcfg, app.service.settings)
        bot = MatrixBot(client, app.service, mcfg)
        await bot.run()
    finally:
        await client.close()
