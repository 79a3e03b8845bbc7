"""Link checker (bot.tools.linkcheck) against a real aiohttp server on 127.0.0.1 - no mocked transport."""

from __future__ import annotations

import asyncio
import io
import socket
from collections import Counter

import httpx
import pytest
from aiohttp import web

from bot.core.models import CardText, Exemplar, KeyFact, Pack, Source, Stance, TalkingPoint
from bot.tools.linkcheck import LinkResult, ProgressBar, check_links, render_report, run_check_links


class Server:
    """A small site with good, broken, HEAD-refusing, redirecting and slow pages; records every request."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.release = asyncio.Event()
        self.base = ""
        self.runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        path, method = request.path, request.method
        if path == "/ok":
            return web.Response(text="fine")
        if path == "/missing":
            return web.Response(status=404, text="gone")
        if path == "/server-error":
            return web.Response(status=500)
        if path == "/no-head":  # HEAD not allowed, GET works
            return web.Response(status=405) if method == "HEAD" else web.Response(text="fine")
        if path == "/forbidden-head":  # some CDNs answer HEAD with 403
            return web.Response(status=403) if method == "HEAD" else web.Response(text="fine")
        if path == "/blocked":  # 403 for everything
            return web.Response(status=403)
        if path == "/redirect":
            raise web.HTTPFound("/ok")
        if path == "/redirect-to-missing":
            raise web.HTTPMovedPermanently("/missing")
        if path == "/loop":
            raise web.HTTPFound("/loop")
        if path == "/slow":
            try:
                await asyncio.wait_for(self.release.wait(), timeout=5)
            except asyncio.TimeoutError:
                pass
            return web.Response(text="late")
        if path.startswith("/c/"):  # for the concurrency limit
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                await asyncio.sleep(0.15)
            finally:
                self.in_flight -= 1
            return web.Response(text="fine")
        return web.Response(status=404)

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture
async def server():
    srv = Server()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", srv.handle)
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    srv.base = f"http://{host}:{port}"
    try:
        yield srv
    finally:
        srv.release.set()
        await runner.cleanup()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pack_with(sources_by_tp: dict[str, list[str]], pack_id: str = "links") -> Pack:
    card = CardText(title="t", summary="s", key_facts=(KeyFact("a", (1,)), KeyFact("b", (1,))), why_it_matters="w")
    tps = tuple(
        TalkingPoint(
            id=tp_id,
            claim="c",
            cards={"en": card},
            sources=tuple(Source(publisher="p", title="t", url=url, date="2020") for url in urls),
            exemplars=(Exemplar(text="x", stance=Stance.ASSERT, lang="en"),),
            pack_id=pack_id,
            pack_version="1",
        )
        for tp_id, urls in sources_by_tp.items()
    )
    return Pack(id=pack_id, version="1", name="n", description="", languages=("en",), talking_points=tps)


# (path, ok, final status, requests the server sees, error fragment)
CASES = [
    ("/ok", True, 200, [("HEAD", "/ok")], None),
    ("/missing", False, 404, [("HEAD", "/missing")], "HTTP 404 Not Found"),
    ("/server-error", False, 500, [("HEAD", "/server-error")], "HTTP 500"),
    ("/no-head", True, 200, [("HEAD", "/no-head"), ("GET", "/no-head")], None),
    ("/forbidden-head", True, 200, [("HEAD", "/forbidden-head"), ("GET", "/forbidden-head")], None),
    ("/blocked", False, 403, [("HEAD", "/blocked"), ("GET", "/blocked")], "HTTP 403 Forbidden"),
    ("/redirect", True, 200, [("HEAD", "/redirect"), ("HEAD", "/ok")], None),
    ("/redirect-to-missing", False, 404, [("HEAD", "/redirect-to-missing"), ("HEAD", "/missing")], "HTTP 404"),
]


@pytest.mark.parametrize(("path", "ok", "status", "requests", "error"), CASES, ids=[c[0] for c in CASES])
async def test_check_links_against_real_server(server, path, ok, status, requests, error):
    results = await check_links([pack_with({"tp-a": [server.url(path)]})], timeout=5)

    assert len(results) == 1
    result = results[0]
    assert (result.talking_point_id, result.url) == ("tp-a", server.url(path))
    assert (result.ok, result.status) == (ok, status)
    assert server.requests == requests
    if error is None:
        assert result.error is None
    else:
        assert error in result.error
    if path.startswith("/redirect"):
        assert result.final_url == server.url("/ok" if ok else "/missing")
    else:
        assert result.final_url is None
    assert result.method == ("GET" if ("GET", path) in requests else "HEAD")


async def test_redirect_loop_is_reported(server):
    [result] = await check_links([pack_with({"tp": [server.url("/loop")]})], timeout=5)

    assert not result.ok and result.status is None
    assert result.error == "too many redirects"


@pytest.mark.timeout(60)  # a hang guard: the slow endpoint must be cut off by the 0.5 s timeout, reported below
async def test_unreachable_hosts_and_timeouts_become_results_not_exceptions(server):
    port = closed_port()
    urls = [f"http://127.0.0.1:{port}/", "https://no-such-host.invalid/page", server.url("/slow"), server.url("/ok")]

    results = await check_links([pack_with({"tp": urls})], timeout=0.5)

    by_url = {r.url: r for r in results}
    refused, dns, slow, fine = (by_url[u] for u in urls)
    assert not refused.ok and refused.status is None and refused.error.startswith("connection failed")
    assert not dns.ok and dns.status is None and dns.error.startswith("connection failed")
    assert not slow.ok and slow.status is None and slow.error == "timed out after 0.5s"
    assert fine.ok and fine.status == 200


async def test_each_distinct_url_is_requested_once_and_results_keep_pack_order(server):
    packs = [
        pack_with({"tp-a": [server.url("/ok"), server.url("/missing")], "tp-b": [server.url("/ok")]}),
        pack_with({"tp-c": [server.url("/missing")]}, pack_id="second"),
    ]

    results = await check_links(packs)

    assert [(r.talking_point_id, r.url, r.ok) for r in results] == [
        ("tp-a", server.url("/ok"), True),
        ("tp-a", server.url("/missing"), False),
        ("tp-b", server.url("/ok"), True),
        ("tp-c", server.url("/missing"), False),
    ]
    assert Counter(server.requests) == {("HEAD", "/ok"): 1, ("HEAD", "/missing"): 1}


async def test_sources_named_without_a_url_are_not_requested(server):
    results = await check_links([pack_with({"tp": ["", server.url("/ok")]})])  # "" = "not confirmed" in the pack
    assert [(r.url, r.ok) for r in results] == [(server.url("/ok"), True)]
    assert server.requests == [("HEAD", "/ok")]


async def test_concurrency_is_bounded_by_the_semaphore(server):
    pack = pack_with({f"tp-{i}": [server.url(f"/c/{i}")] for i in range(10)})
    seen: list[tuple[int, int]] = []

    async with httpx.AsyncClient() as client:  # no connection limit of our own: only the semaphore limits
        results = await check_links(pack, concurrency=3, client=client,
                                    progress=lambda done, total, result: seen.append((done, total)))
        assert not client.is_closed  # a client passed in is left open for its owner

    assert all(r.ok for r in results) and len(results) == 10
    assert server.max_in_flight == 3
    assert seen == [(i, 10) for i in range(1, 11)]


async def test_accepts_a_registry_like_object_and_a_single_pack(server):
    pack = pack_with({"tp": [server.url("/ok")]})

    class Registry:
        packs = (pack,)

    assert [r.ok for r in await check_links(Registry())] == [True]
    assert [r.ok for r in await check_links(pack)] == [True]
    assert await check_links([]) == []


def test_render_report_lists_failures_only():
    results = [
        LinkResult("tp-a", "https://example.org/ok", True, 200, None),
        LinkResult("tp-a", "https://example.org/gone", False, 404, "HTTP 404 Not Found"),
        LinkResult("tp-b", "https://example.org/gone", False, 404, "HTTP 404 Not Found"),
        LinkResult("tp-c", "https://down.invalid/", False, None, "connection failed: [Errno -2] Name or service not known"),
    ]

    report = render_report(results, width=60)
    lines = report.splitlines()

    assert lines[0] == "Checked 4 source links (3 distinct URLs): 1 ok, 2 failed."
    assert lines[2:] == [
        "https://example.org/gone",
        "  HTTP 404 Not Found · cited by tp-a, tp-b",
        "https://down.invalid/",
        "  connection failed: [Errno -2] Name or service not known ·",
        "  cited by tp-c",
    ]
    assert "example.org/ok" not in report


def test_a_long_url_is_never_cut_and_the_rest_fits_the_width():
    url = "https://example.org/" + "very-long-segment/" * 8
    report = render_report([LinkResult("tp", url, False, 404, "HTTP 404 Not Found " + "detail " * 20)], width=50)

    assert url in report.splitlines()
    assert all(len(line) <= 50 for line in report.splitlines() if line != url)


def test_offline_is_said_once_instead_of_a_failure_per_link():
    error = "connection failed: [Errno -3] Temporary failure in name resolution"
    results = [LinkResult(f"tp-{n}", f"https://site{n}.example.org/", False, None, error) for n in range(60)]

    report = render_report(results)

    assert "this machine seems to be offline" in report
    assert report.count("Temporary failure in name resolution") == 1
    assert "site7.example.org" not in report
    # one answer among them: not offline, the failures are listed
    mixed = results + [LinkResult("tp-x", "https://up.example.org/", False, 404, "HTTP 404 Not Found")]
    assert "offline" not in render_report(mixed) and "site7.example.org" in render_report(mixed)


def test_render_report_when_everything_works():
    report = render_report([LinkResult("tp", "https://example.org/", True, 200, None)])

    assert report == "Checked 1 source link (1 distinct URL): 1 ok, 0 failed.\n"


def test_progress_bar_in_a_log_prints_the_start_and_each_ten_percent_step():
    stream = io.StringIO()
    bar = ProgressBar(stream, width=10)
    for done in range(1, 21):
        bar(done, 20)

    lines = stream.getvalue().splitlines()
    assert len(lines) == 11
    assert lines[0] == "checking links [..........]  1/20"
    assert lines[1] == "checking links [#.........]  2/20"
    assert lines[-1] == "checking links [##########] 20/20"


def test_progress_bar_on_a_terminal_redraws_one_line():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    bar = ProgressBar(stream, width=4)
    for done in range(1, 5):
        bar(done, 4)

    assert stream.getvalue() == (
        "\rchecking links [#...] 1/4\rchecking links [##..] 2/4\rchecking links [###.] 3/4"
        "\rchecking links [####] 4/4\n"
    )


async def test_run_check_links_exit_codes_and_report(server, capsys):
    out = io.StringIO()
    good = pack_with({"tp": [server.url("/ok"), server.url("/no-head")]})
    assert await run_check_links([good], out=out) == 0
    assert out.getvalue() == "Checked 2 source links (2 distinct URLs): 2 ok, 0 failed.\n"
    assert "checking links [" in capsys.readouterr().err  # progress bar on stderr

    out = io.StringIO()
    bad = pack_with({"tp": [server.url("/ok")], "tp-broken": [server.url("/missing")]})
    assert await run_check_links([bad], out=out, progress=False) == 1
    assert out.getvalue().splitlines()[2:4] == [server.url("/missing"), "  HTTP 404 Not Found · cited by tp-broken"]
    assert capsys.readouterr().err == ""


def test_render_report_never_cuts_urls():
    url = "https://example.org/" + "a-long-path-segment/" * 10
    report = render_report([LinkResult("tp", url, False, 410, "HTTP 410 Gone")])

    assert url in report
