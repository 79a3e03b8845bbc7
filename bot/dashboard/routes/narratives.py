"""``/narratives``: emerging narratives for pack authors (issue #16.3) - clusters of on-topic assertions that
match no talking point, growing across servers; a cluster's members; and a draft talking point made from a cluster,
downloaded as pack YAML for review. Nothing here goes live: the draft is only a download.

Scoping as everywhere on the dashboard: a moderator sees clusters with a member in one of their servers, and the
texts of members in their servers only; the counts (members, servers) stay cross-server, without other servers'
names or texts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web

from ...core.narratives import draft_pack_yaml, draft_talking_point, slugify
from ...core.ports import NarrativeCluster, NarrativeMember
from ...core.sanitize import clip
from ...narratives_cli import validate_draft
from ...storage.narratives import SqliteNarrativeRepository
from ..auth import Access
from ..formatting import fmt_dt
from ..web import DashboardError, access_of, form_of, login_required, state_of

WINDOWS = (1, 7, 30)  # days
MIN_SERVERS = (1, 2, 3)
MIN_MEMBERS = (1, 2, 5, 10)  # messages in the window (default 2: a single message is not a narrative yet)
MAX_CLAIM = 300  # as the pack loader's limit
MAX_ID = 60


def repo_of(request: web.Request) -> SqliteNarrativeRepository:
    d = state_of(request)
    tracker = getattr(d.bot.service, "narratives", None)
    return tracker.repo if tracker is not None else SqliteNarrativeRepository(d.bot.db)


def _choice(raw: str | None, choices: tuple[int, ...], default: int) -> int:
    try:
        value = int(raw or "")
    except ValueError:
        return default
    return value if value in choices else default


def cluster_view(c: NarrativeCluster, access: Access) -> dict[str, Any]:
    """What a moderator may see of a cluster: the servers they moderate by name, the others as a count."""
    mine = [(k, n) for k, n in c.servers.items() if access.can_see(*k.split(":", 1))]
    return {"c": c, "servers": mine, "other_servers": len(c.servers) - len(mine),
            "other_members": sum(c.servers.values()) - sum(n for _, n in mine)}


async def _visible_cluster(request: web.Request) -> tuple[NarrativeCluster, list[NarrativeMember]]:
    access = access_of(request)
    repo = repo_of(request)
    cluster = await repo.get_cluster(int(request.match_info["id"]), scope=access.scope)
    if cluster is None:
        raise DashboardError(404, "No such narrative cluster (or none of its messages is in a server you moderate).")
    return cluster, await repo.members(cluster.id, limit=200, scope=access.scope)


@login_required()
async def narratives_page(request: web.Request) -> web.StreamResponse:
    d = state_of(request)
    access = access_of(request)
    days = _choice(request.query.get("days"), WINDOWS, 7)
    min_servers = _choice(request.query.get("min_servers"), MIN_SERVERS, 1)
    min_members = _choice(request.query.get("min_members"), MIN_MEMBERS, 2)
    clusters = await repo_of(request).list_clusters(since=d.clock() - timedelta(days=days), min_servers=min_servers,
                                                    min_members=min_members, limit=50, scope=access.scope)
    return d.render(request, "narratives.html", nav="narratives", clusters=[cluster_view(c, access) for c in clusters],
                    days=days, windows=WINDOWS, min_servers=min_servers, server_choices=MIN_SERVERS,
                    min_members=min_members, member_choices=MIN_MEMBERS,
                    enabled=getattr(d.bot.service, "narratives", None) is not None)


def _prefill(cluster: NarrativeCluster) -> dict[str, Any]:
    first = next((m.content for m in cluster.representatives if m.content), "")
    claim = clip(" ".join(first.split()), MAX_CLAIM)
    return {"claim": claim, "claim_id": slugify(claim, 40) if claim else f"narrative-{cluster.id}", "title": "",
            "chosen": {m.id for m in cluster.representatives if m.content}}


async def _render_detail(request: web.Request, cluster: NarrativeCluster, members: list[NarrativeMember], *,
                         form: dict[str, Any], errors: list[str] = (), status: int = 200) -> web.Response:
    d = state_of(request)
    return d.render(request, "narrative.html", status=status, nav="narratives",
                    v=cluster_view(cluster, access_of(request)), members=members, form=form, errors=list(errors),
                    max_claim=MAX_CLAIM, max_id=MAX_ID)


@login_required()
async def narrative_page(request: web.Request) -> web.StreamResponse:
    cluster, members = await _visible_cluster(request)
    return await _render_detail(request, cluster, members, form=_prefill(cluster))


@login_required()
async def narrative_draft(request: web.Request) -> web.StreamResponse:
    """The draft talking point as a pack YAML download (re-shows the form with the problems when it is not valid)."""
    d = state_of(request)
    access = access_of(request)
    cluster, members = await _visible_cluster(request)
    post = form_of(request)
    raw_ids = post.getall("exemplar", []) if hasattr(post, "getall") else []
    chosen = {int(x) for x in raw_ids if str(x).isdigit()}
    form = {"claim": str(post.get("claim") or "").strip(), "claim_id": str(post.get("claim_id") or "").strip(),
            "title": str(post.get("title") or "").strip(), "chosen": chosen}
    errors: list[str] = []
    if not form["claim"]:
        errors.append("Write the claim: one sentence saying what the messages assert.")
    elif len(form["claim"]) > MAX_CLAIM:
        errors.append(f"The claim is {len(form['claim'])} characters long; at most {MAX_CLAIM}.")
    if not any(ch.isascii() and ch.isalnum() for ch in form["claim_id"]) or len(form["claim_id"]) > MAX_ID:
        errors.append(f"Give the talking point an id (lowercase words joined by '-', at most {MAX_ID} characters).")
    picked = [m for m in members if m.id in chosen and m.content]
    if not picked:
        errors.append("Pick at least one message (with its text still kept) as an example of the claim.")
    if not errors:
        tp = draft_talking_point(claim_id=form["claim_id"], claim=form["claim"], title=form["title"] or None,
                                 exemplars=[(m.content or "", m.lang) for m in picked])
        text = draft_pack_yaml(tp)
        errors = [f"Pack check: {p}" for p in validate_draft(text)]
    if errors:
        return await _render_detail(request, cluster, members, form=form, errors=errors, status=400)
    await d.store.record_audit(access.username, "export_narrative_draft",
                               detail={"cluster": cluster.id, "talking_point": tp["id"], "exemplars": len(picked)})
    header = (f"# contextbot: DRAFT talking point from emerging narrative #{cluster.id}, exported {fmt_dt(d.clock())}"
              f" by {access.username}.\n"
              "# Nothing is live. A pack author writes the cards, sources and refute/report exemplars, reviews the\n"
              "# assert exemplars, deletes the 'draft' key, then runs: python -m bot packs validate\n")
    resp = web.Response(text=header + text, content_type="text/plain", charset="utf-8")
    resp.headers["Content-Disposition"] = f'attachment; filename="{tp["id"]}.draft.yaml"'
    return resp


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_get("/narratives", narratives_page)
    r.add_get(r"/narratives/{id:\d+}", narrative_page)
    r.add_post(r"/narratives/{id:\d+}/draft", narrative_draft)


__all__ = ["add_routes", "cluster_view"]
