"""Micro-batching: messages that arrive while the detector is busy are decided together in one encoder call.

No timer and no artificial delay: the first message is decided at once; whatever queues up while that runs
(a burst from the gateway) forms the next batch. The detector runs in worker threads, so the event loop (and
the platforms' heartbeats) never waits on it.

``max_in_flight=2`` lets a second batch start while the first is still being decided. That pays when the
encoder works in another process (:class:`bot.core.encoder_process.ProcessEncoder`): the second batch waits at
the encoder, ready to go the moment the first batch's embeddings come back, while the first batch's retrieval,
stance and policy run here, so the encoder never idles and both cores are busy. (Splitting the detector into an
encode stage and a decide stage, with the second batch taken from the queue only once the encoder was free,
made larger batches but measured slower: the encoder idled between batches while the event loop handed over.)
"""

from __future__ import annotations

import asyncio
from typing import Protocol, Sequence

from .models import Decision


class BatchableDetector(Protocol):
    def decide_prepared(self, items: Sequence[tuple[object, str | None, tuple[str, ...]]]) -> list[Decision]: ...


class MicroBatcher:
    def __init__(self, detector: BatchableDetector, *, max_batch: int = 16, offload: bool = True,
                 max_in_flight: int = 1) -> None:
        if max_batch < 1 or max_in_flight < 1:
            raise ValueError("max_batch and max_in_flight must be >= 1")
        self.detector = detector
        self.max_batch = max_batch
        self.offload = offload
        self.max_in_flight = max_in_flight if offload else 1  # inline (offload=False) cannot overlap
        self._queue: list[tuple[object, str | None, tuple[str, ...], asyncio.Future]] = []
        self._workers: set[asyncio.Task] = set()
        self.batches = 0  # counters for status pages and benchmarks
        self.items = 0

    async def decide(self, prepared: object, server_id: str | None, disabled_packs: tuple[str, ...]) -> Decision:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future = loop.create_future()
        self._queue.append((prepared, server_id, disabled_packs, fut))
        # A worker that has returned is done at once, but its done-callback runs later: count live ones only,
        # or a message queued in between would wait for a worker that is never started.
        self._workers = {t for t in self._workers if not t.done()}
        if len(self._workers) < self.max_in_flight:
            self._workers.add(loop.create_task(self._drain()))
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
