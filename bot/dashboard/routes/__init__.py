"""The dashboard's pages, one module per page (each adds its own routes)."""

from __future__ import annotations

from aiohttp import web

from . import audit, auth_routes, campaigns, exemplars, incident, narratives, overview, points, queue

PAGES = (auth_routes, overview, queue, incident, points, exemplars, audit, campaigns, narratives)


def add_routes(router: web.UrlDispatcher) -> None:
    for page in PAGES:
        page.add_routes(router)
