"""Micro-batching: messages that arrive while the detector is busy are decided together in one encoder call.

No timer and no artificial delay: the first message is decided at once; whatever queues up while that runs
(a burst from the gateway) forms the next batch. The detector runs in a worker thread, so the event loop (and
the platforms' heartbeats) never waits on it.
"""

from __future__ import annotations

import asyncio
from typing import Protocol, Sequence

from .models import Decision


class BatchableDetector(Protocol):
    def decide_prepared(self, items: Sequence[tuple[object, str | None, tuple[str, ...]]]) -> list[Decision]: ...


class MicroBatcher:
    def __init__(self, detector: BatchableDetector, *, max_batch: int = 16, offload: bool = True) -> None:
        self.detector = detector
        self.max_batch = max_batch
        self.offload = offload
        self._queue: list[tuple[object, str | None, tuple[str, ...], asyncio.Future]] = []
        self._worker: asyncio.Task | None = None
        self.batches = 0  # counters for status pages and benchmarks
        self.items = 0

    async def decide(self, prepared: object, server_id: str | None, disabled_packs: tuple[str, ...]) -> Decision:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future = loop.create_future()
        self._queue.append((prepared, server_id, disabled_packs, fut))
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        while self._queue:
            batch = self._queue[: self.max_batch]
            del self._queue[: len(batch)]
            items = [(p, s, d) for p, s, d, _ in batch]
            try:
                if self.offload:
                    decisions = await asyncio.to_thread(self.detector.decide_prepared, items)
                else:
                    decisions = self.detector.decide_prepared(items)
            except Exception as exc:  # every waiter learns about the failure; the next batch still runs
                for *_, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            self.batches += 1
            self.items += len(batch)
            for (*_, fut), decision in zip(batch, decisions):
                if not fut.done():  # the waiter may have been cancelled
                    fut.set_result(decision)
