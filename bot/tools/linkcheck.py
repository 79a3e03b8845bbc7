"""Check that the source URLs of talking-point packs still resolve (``python -m bot packs check-links``).

Each distinct URL is requested once (HEAD, falling back to GET when the server refuses HEAD with 405/403/501),
following redirects, with at most ``concurrency`` requests in flight. Every failure - an HTTP error status,
a refused connection, a DNS failure, a timeout, a TLS error - becomes a :class:`LinkResult` with error text;
:func:`check_links` never raises for a bad link.
"""

from __future__ import annotations

import asyncio
import sys
import textwrap
from dataclasses import dataclass
from typing import Any, Callable, Iterable, TextIO

import httpx

from bot.core.models import Pack
from bot.tools.terminal import PIPE_WIDTH, terminal_width

__all__ = ["LinkResult", "check_links", "render_report", "seems_offline", "ProgressBar", "run_check_links"]

USER_AGENT = "Mozilla/5.0 (compatible; contextbot-linkcheck/0.1; source link checker)"
FALLBACK_TO_GET = frozenset({403, 405, 501})

Progress = Callable[[int, int, "LinkResult"], Any]


@dataclass(frozen=True)
class LinkResult:
    talking_point_id: str
    url: str
    ok: bool
    status: int | None  # final HTTP status after redirects; None when no response arrived
    error: str | None  # why it failed (None when ok)
    final_url: str | None = None  # where redirects ended, when different from ``url``
    method: str = "HEAD"  # the request that produced ``status``


def _pairs(packs: Any) -> list[tuple[str, str]]:
    """(talking point id, url) for every source of ``packs`` (a registry, a Pack, or an iterable of Packs) that has
    a URL (sources the pack marks "not confirmed" have none to check)."""
    if isinstance(packs, Pack):
        packs = [packs]
    elif hasattr(packs, "packs") and not isinstance(packs, (list, tuple)):
        packs = packs.packs
    return [(tp.id, source.url) for pack in packs for tp in pack.talking_points for source in tp.sources if source.url]


def _describe(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, (httpx.TimeoutException, TimeoutError)):
        return f"timed out after {timeout:g}s"
    if isinstance(exc, httpx.TooManyRedirects):
        return "too many redirects"
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        return f"connection failed: {text}"
    if isinstance(exc, httpx.HTTPError):
        return f"{type(exc).__name__}: {text}"
    return f"{type(exc).__name__}: {text}"


async def _request(client: httpx.AsyncClient, method: str, url: str, timeout: float) -> httpx.Response:
    """One request with a total deadline; the body is never downloaded."""
    async with asyncio.timeout(timeout):
        async with client.stream(method, url, follow_redirects=True, timeout=timeout) as response:
            return response


async def _check_url(client: httpx.AsyncClient, url: str, timeout: float) -> tuple[bool, int | None, str | None, str | None, str]:
    method = "HEAD"
    try:
        response = await _request(client, "HEAD", url, timeout)
        if response.status_code in FALLBACK_TO_GET:
            method = "GET"
            response = await _request(client, "GET", url, timeout)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure becomes a result, never an exception
        return False, None, _describe(exc, timeout), None, method
    status = response.status_code
    final = str(response.url)
    final_url = final if final != url else None
    if 200 <= status < 300:
        return True, status, None, final_url, method
    reason = response.reason_phrase or ""
    return False, status, f"HTTP {status}{' ' + reason if reason else ''}", final_url, method


async def check_links(
    packs: Any,
    *,
    concurrency: int = 8,
    timeout: float = 10.0,
    client: httpx.AsyncClient | None = None,
    progress: Progress | None = None,
) -> list[LinkResult]:
    """Check every source URL of ``packs`` (a PackRegistry, a Pack or an iterable of Packs).

    Returns one :class:`LinkResult` per (talking point, source) in pack order; a URL cited by several talking
    points is requested once. ``progress(done, total, result)`` is called after each distinct URL.
    """
    pairs = _pairs(packs)
    urls = list(dict.fromkeys(url for _, url in pairs))
    if not urls:
        return []
    semaphore = asyncio.Semaphore(max(1, concurrency))
    own_client = client is None
    if client is None:
        client = httpx.AsyncClient(
            headers={"User-Agent": USER_AGENT, "Accept": "*/*"},
            timeout=timeout,
            follow_redirects=True,
            limits=httpx.Limits(max_connections=max(1, concurrency)),
        )
    outcomes: dict[str, tuple[bool, int | None, str | None, str | None, str]] = {}
    done = 0
    first_tp = {}
    for tp_id, url in pairs:
        first_tp.setdefault(url, tp_id)

    async def one(url: str) -> None:
        nonlocal done
        async with semaphore:
            outcomes[url] = await _check_url(client, url, timeout)
        done += 1
        if progress is not None:
            ok, status, error, final_url, method = outcomes[url]
            progress(done, len(urls), LinkResult(first_tp[url], url, ok, status, error, final_url, method))

    try:
        await asyncio.gather(*(one(url) for url in urls))
    finally:
        if own_client:
            await client.aclose()
    results = []
    for tp_id, url in pairs:
        ok, status, error, final_url, method = outcomes[url]
        results.append(LinkResult(tp_id, url, ok, status, error, final_url, method))
    return results


# ------------------------------------------------------------------------------------------------ output


class ProgressBar:
    """A text progress bar for :func:`check_links` (``progress=ProgressBar()``), written to stderr.

    On a terminal it redraws one line (``[#######.......]  12/40``); elsewhere (CI logs) it prints a line
    at every 10 % step so logs stay short.
    """

    def __init__(self, stream: TextIO | None = None, width: int = 30, label: str = "checking links"):
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.label = label
        self._last_step = -1
        isatty = getattr(self.stream, "isatty", None)
        self.interactive = bool(isatty and isatty())

    def render(self, done: int, total: int) -> str:
        filled = self.width if total <= 0 else round(self.width * done / total)
        return f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {done:>{len(str(total))}}/{total}"

    def __call__(self, done: int, total: int, result: LinkResult | None = None) -> None:
        line = self.render(done, total)
        if self.interactive:
            self.stream.write("\r" + line + ("\n" if done >= total else ""))
        else:
            step = 10 if total <= 0 else (10 * done) // total
            if step == self._last_step and done < total:
                return
            self._last_step = step
            self.stream.write(line + "\n")
        self.stream.flush()


def seems_offline(results: Iterable[LinkResult]) -> bool:
    """True when not a single request got an answer and every failure is a connection failure or a timeout:
    the machine is offline (or a firewall or proxy blocks it), not the links broken."""
    results = list(results)
    return bool(results) and all(
        not r.ok and r.status is None and (r.error or "").startswith(("connection failed", "timed out"))
        for r in results
    )


def render_report(results: Iterable[LinkResult], width: int = PIPE_WIDTH) -> str:
    """A summary line, then each failed URL (never cut: it is what the pack author has to fix) with why it
    failed and which talking points cite it, wrapped to ``width`` columns. When nothing answered at all, one
    "you seem to be offline" paragraph instead of a list of identical failures."""
    results = list(results)
    failed = [r for r in results if not r.ok]
    distinct = len({r.url for r in results})
    broken = len({r.url for r in failed})
    lines = textwrap.wrap(
        f"Checked {len(results)} source link{'s' if len(results) != 1 else ''} "
        f"({distinct} distinct URL{'s' if distinct != 1 else ''}): "
        f"{distinct - broken} ok, {broken} failed.", width)
    if not failed:
        return "\n".join(lines) + "\n"
    lines.append("")
    if seems_offline(results):
        lines += textwrap.wrap("No link got any response: this machine seems to be offline, or a firewall or proxy "
                               "blocks outgoing connections. Check the network and run it again.", width)
        lines += textwrap.wrap(f"first error: {failed[0].error}", width, initial_indent="  ",
                               subsequent_indent="    ", break_long_words=False)
        return "\n".join(lines) + "\n"
    by_url: dict[str, list[LinkResult]] = {}
    for r in failed:
        by_url.setdefault(r.url, []).append(r)
    for url, cited in by_url.items():
        first = cited[0]
        why = first.error or (f"HTTP {first.status}" if first.status is not None else "failed")
        points = ", ".join(dict.fromkeys(r.talking_point_id for r in cited))
        lines.append(url)
        lines += textwrap.wrap(f"{why} · cited by {points}", width, initial_indent="  ", subsequent_indent="  ",
                               break_long_words=False, break_on_hyphens=False)
    return "\n".join(lines) + "\n"


async def run_check_links(
    registry_or_packs: Any,
    out: TextIO = sys.stdout,
    *,
    concurrency: int = 8,
    timeout: float = 10.0,
    client: httpx.AsyncClient | None = None,
    progress: bool | Progress = True,
) -> int:
    """Check all links, print the report to ``out``; exit code 0 when every link works, else 1.

    ``progress``: True for a :class:`ProgressBar` on stderr, False for none, or a callback.
    """
    callback: Progress | None
    if progress is True:
        callback = ProgressBar()
    elif progress is False:
        callback = None
    else:
        callback = progress
    results = await check_links(registry_or_packs, concurrency=concurrency, timeout=timeout, client=client,
                                progress=callback)
    out.write(render_report(results, terminal_width(out)))
    out.flush()
    return 0 if all(r.ok for r in results) else 1
