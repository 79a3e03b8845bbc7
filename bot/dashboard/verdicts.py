"""Recording a moderator's verdict from the dashboard (one incident page or the queue's bulk form)."""

from __future__ import annotations

from typing import Any

from ..core.models import Incident, IncidentStatus
from .auth import Access
from .formatting import verdict_version
from .web import NOTE_MAX, VERDICTS, Dashboard, DashboardError

# A form posted without a version (a script, an old page) was filled in for an open incident.
OPEN_VERSION = "open||"


def is_stale(inc: Incident, version: Any, username: str) -> bool:
    """Whether someone else changed the incident's verdict since the moderator's page showed ``version``.

    A moderator's own later change (another tab) is not a conflict. Overwriting a colleague's verdict takes a
    form that was filled in for it: the conflict page offers one, carrying the current version."""
    if verdict_version(inc) == (str(version or "") or OPEN_VERSION):
        return False
    return inc.reviewer != username


async def resolve_one(d: Dashboard, access: Access, inc: Incident, status: IncidentStatus, note: str | None,
                      bulk: bool = False) -> None:
    """Record the verdict (callers hold ``d.verdict_lock`` from their staleness check to here)."""
    # the service records the verdict and its learner (wired by the composition root) teaches the detector
    updated, result = await d.bot.service.resolve_and_learn(inc.id, status, access.username, note)
    detail: dict[str, Any] = {"status": status.value, "previous": inc.status.value, "note": note}
    if inc.reviewer and inc.reviewer != access.username and inc.status is not IncidentStatus.OPEN:
        detail["replaced"] = {"reviewer": inc.reviewer, "status": inc.status.value,
                              "resolved_at": inc.resolved_at.isoformat() if inc.resolved_at else None}
    if bulk:
        detail["bulk"] = True
    if result is not None:
        if result.exemplar is not None:
            detail["exemplar_id"] = result.exemplar.id
            detail["exemplar"] = "positive" if result.exemplar.positive else "negative"
        if result.retired:
            detail["retired_exemplars"] = [e.id for e in result.retired]
        if result.notes:
            detail["notes"] = list(result.notes)
    await d.store.record_audit(access.username, "resolve", incident_id=inc.id, platform=inc.platform,
                               server_id=inc.server_id, detail=detail)


def parse_verdict(raw: Any) -> IncidentStatus:
    try:
        status = IncidentStatus(str(raw or ""))
    except ValueError:
        raise DashboardError(400, "Choose a verdict: confirmed, false positive or dismissed.") from None
    if status not in VERDICTS:
        raise DashboardError(400, "Choose a verdict: confirmed, false positive or dismissed.")
    return status


def parse_note(raw: Any) -> str | None:
    note = str(raw or "").strip()
    return note[:NOTE_MAX] or None

