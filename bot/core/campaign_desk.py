"""The campaign desk: feeds the :class:`~bot.core.campaigns.CampaignTracker` with decided messages, stores the
campaigns it raises (through :class:`~bot.core.ports.CampaignRepository`) and resolves a whole campaign in one
moderator action. Platform neutral; adapters post and edit the alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Awaitable, Callable

import numpy as np

from .campaigns import KIND_TALKING_POINT, CampaignEvent, CampaignTracker, Sighting, describe, with_campaign_id
from .models import Decision, Incident, IncidentStatus, IncomingMessage, Stance
from .normalize import normalize
from .ports import CampaignRecord, CampaignRepository
from .stance import CUES, DEBUNK_WORD, cue_features

VERDICTS = {"confirmed": IncidentStatus.CONFIRMED, "false_positive": IncidentStatus.FALSE_POSITIVE,
            "dismissed": IncidentStatus.DISMISSED}
ALIASES = {"confirm": "confirmed", "yes": "confirmed", "fp": "false_positive", "false": "false_positive",
           "false-positive": "false_positive", "dismiss": "dismissed", "no": "dismissed"}

ResolveIncident = Callable[[int, IncidentStatus, str, "str | None"], Awaitable["Incident | None"]]


_CUE = {name: i for i, (name, _) in enumerate(CUES)}


def counter_speech(text: str) -> bool:
    """A text that calls something fake or propaganda *and* says whose claim it is or quotes it ("The 'Bucha was
    staged' claim has been debunked") argues about a claim; copies of it are people agreeing, not a raid."""
    if not DEBUNK_WORD.search(text[:2000]):  # at a word's start: "allies" and "bombs" call nothing false
        return False
    cues = cue_features(text)
    return bool(cues[_CUE["attribution"]] or cues[_CUE["quote"]] or cues[_CUE["negation"]])


def parse_verdict(word: str) -> str | None:
    w = word.strip().lower()
    w = ALIASES.get(w, w)
    return w if w in VERDICTS else None


class CampaignDesk:
    def __init__(self, tracker: CampaignTracker, repository: CampaignRepository) -> None:
        self.tracker = tracker
        self.repository = repository

    async def observe(self, msg: IncomingMessage, decision: Decision, incident: Incident | None,
                      now: datetime) -> CampaignEvent | None:
        """A decided message: the campaign event it causes (stored), or None (the common, cheap case)."""
        cfg = self.tracker.settings
        if not cfg.enabled or not msg.server_id:
            return None
        long_text = cfg.copypasta and len(msg.text) >= cfg.copypasta_min_chars
        # counter speech only matters to copypasta, which needs a text this long (the tracker measures the
        # normalised text of a long message, else the case-folded one): the cue scan is skipped for the rest,
        # nearly every message of a busy server
        may_copy = long_text or (cfg.copypasta and len(msg.text.casefold()) >= cfg.copypasta_min_chars)
        s = Sighting(
            platform=msg.platform, server_id=msg.server_id, channel_id=msg.channel_id, message_id=msg.message_id,
            author_id=msg.author_id, at=msg.created_at or now, text=msg.text, link=msg.link,
            talking_point_id=decision.talking_point_id, stance=decision.stance, action=decision.action,
            author_created_at=msg.author_created_at, author_joined_at=msg.author_joined_at,
            incident_id=incident.id if incident is not None else None,
            near_point=decision.talking_point_id or (decision.candidates[0][0] if decision.candidates else None),
            counter_speech=decision.talking_point_id is None and may_copy and counter_speech(msg.text),
        )
        if not long_text and not self.tracker.counts_toward_talking_point(s) and s.stance is not Stance.REFUTE:
            return None
        norm = normalize(msg.text).text if long_text else None
        vec = decision.vector
        if vec is not None:
            vec = np.asarray(vec, dtype=np.float32).reshape(-1)
            n = float(np.linalg.norm(vec))
            vec = vec / n if n > 0 else None
        event = self.tracker.observe(s, vec, norm)
        if event is None:
            return None
        if event.campaign_id is None:
            rec = await self.repository.create_campaign(msg.platform, msg.server_id, event.kind,
                                                        event.talking_point_id, event.members)
            self.tracker.set_campaign_id(msg.platform, msg.server_id, event.key, rec.id)
            return with_campaign_id(event, rec.id)
        await self.repository.add_members(event.campaign_id, [event.added])
        return event

    async def resolve(self, campaign_id: int, verdict: str, reviewer: str,
                      resolve_incident: ResolveIncident | None = None) -> tuple[CampaignRecord | None, int]:
        """Resolve the whole campaign: its status, and every still-open incident of its messages gets the same
        verdict (through ``resolve_incident``, so verdicts also teach the detector). Returns (campaign, incidents
        resolved)."""
        status = VERDICTS[verdict]
        rec = await self.repository.get_campaign(campaign_id)
        if rec is None:
            return None, 0
        done = 0
        if resolve_incident is not None:
            seen: set[int] = set()
            for m in await self.repository.campaign_members(campaign_id):
                if m.incident_id is None or m.incident_id in seen:
                    continue
                seen.add(m.incident_id)
                inc = await resolve_incident(m.incident_id, status, reviewer, f"campaign #{campaign_id}")
                done += inc is not None
        return await self.repository.resolve_campaign(campaign_id, verdict, reviewer), done

    async def purge_message(self, platform: str, channel_id: str, message_id: str) -> int:
        """A deleted message: its text leaves the tracker and the stored campaign."""
        self.tracker.forget_message(platform, None, channel_id, message_id)
        return await self.repository.purge_message_content(platform, channel_id, message_id)


VERDICT_LABEL = {"confirmed": "Confirmed", "false_positive": "False positive", "dismissed": "Dismissed",
                 "open": "Open"}


def alert_sections(rec: CampaignRecord, members: list[Sighting], point_title: str | None, now: datetime,
                   channel: Callable[[str], str] = lambda c: c, author: Callable[[str], str] = lambda a: a,
                   max_messages: int = 8, excerpt: int = 90) -> tuple[str, list[tuple[str, str]]]:
    """A campaign alert as (title, [(section name, text)]), shared by the Discord, Matrix and dashboard
    renderers: the talking point, authors with account and join age, channels, latest messages, a timeline."""
    what = (f"talking point {point_title or rec.talking_point_id}" if rec.kind == KIND_TALKING_POINT
            else "copypasta (no known talking point)")
    title = f"Campaign #{rec.id}: {what}"
    info = describe(members, now)
    authors = ", ".join(f"{author(a)} (account {acc}, joined {joined})" if acc != "?" or joined != "?" else author(a)
                        for a, acc, joined in info["authors"][:20])
    if len(info["authors"]) > 20:
        authors += f" and {len(info['authors']) - 20} more"
    lines = []
    for m in members[-max_messages:]:
        text = " ".join(m.text.split())
        text = (text[:excerpt] + "…") if len(text) > excerpt else (text or "(content removed)")
        lines.append(f"{m.at:%H:%M} {author(m.author_id)} in {channel(m.channel_id)}: {text}"
                     + (f" {m.link}" if m.link.startswith("https://") else ""))
    tl = " · ".join(f"{t:%H:%M} {n}" for t, n in info["timeline"])
    span = ""
    if info["first_at"] is not None:
        span = f"{info['first_at']:%Y-%m-%d %H:%M}–{info['last_at']:%H:%M} UTC"
    return title, [
        ("Status", f"{VERDICT_LABEL.get(rec.status, rec.status)} · {len(members)} messages from "
                   f"{len(info['authors'])} accounts in {len(info['channels'])} channels · {span}"),
        ("Authors", authors or "-"),
        ("Channels", ", ".join(channel(c) for c in info["channels"]) or "-"),
        ("Latest messages", "\n".join(lines) or "-"),
        ("Timeline", tl or "-"),
    ]
