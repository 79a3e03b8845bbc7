"""MicroBatcher: bursts are decided together, at most max_in_flight batches at once, failures reach every waiter."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bot.core.batching import MicroBatcher
from bot.core.models import Action, Decision, Explanation


def _decision(text: str) -> Decision:
    expl = Explanation(None, None, {}, 0.0, 0.0, 0.0, None, None, False, f"decided {text}", "en")
    return Decision(Action.NONE, None, None, 0.0, expl)


class RecordingDetector:
    """Records each batch it is given; can be held at a gate so tests control when a batch finishes."""

    def __init__(self, *, hold: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.running = 0
        self.max_running = 0
        self._lock = threading.Lock()
        self.release = threading.Event()
        if not hold:
            self.release.set()

    def decide_prepared(self, items):
        texts = [p for p, _, _ in items]
        with self._lock:
            self.batches.append(texts)
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        try:
            assert self.release.wait(10), "test never released the detector"
            if any(t == "boom" for t in texts):
                raise RuntimeError("detector exploded")
            return [_decision(t) for t in texts]
        finally:
            with self._lock:
                self.running -= 1


async def _wait_for(predicate, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.005)


async def test_messages_queued_while_busy_form_the_next_batch():
    det = RecordingDetector(hold=True)
    b = MicroBatcher(det, max_batch=16)
    first = asyncio.create_task(b.decide("m0", None, ()))
    await _wait_for(lambda: len(det.batches) == 1)
    rest = [asyncio.create_task(b.decide(f"m{i}", None, ())) for i in range(1, 6)]
    await asyncio.sleep(0.01)
    det.release.set()
    results = await asyncio.gather(first, *rest)
    assert det.batches == [["m0"], ["m1", "m2", "m3", "m4", "m5"]]
    assert [r.explanation.reason for r in results] == [f"decided m{i}" for i in range(6)]
    assert (b.batches, b.items) == (2, 6)


async def test_batches_never_exceed_max_batch():
    det = RecordingDetector(hold=True)
    b = MicroBatcher(det, max_batch=3)
    tasks = [asyncio.create_task(b.decide(f"m{i}", None, ())) for i in range(8)]
    await asyncio.sleep(0.01)
    det.release.set()
    await asyncio.gather(*tasks)
    assert [len(x) for x in det.batches] == [3, 3, 2]
    assert sorted(t for batch in det.batches for t in batch) == sorted(f"m{i}" for i in range(8))


@pytest.mark.parametrize("in_flight", [1, 2, 3])
async def test_at_most_max_in_flight_batches_run_at_once(in_flight):
    det = RecordingDetector(hold=True)
    b = MicroBatcher(det, max_batch=1, max_in_flight=in_flight)
    tasks = [asyncio.create_task(b.decide(f"m{i}", None, ())) for i in range(6)]
    await _wait_for(lambda: det.running == in_flight)
    await asyncio.sleep(0.02)  # nobody else starts while they are held
    assert det.running == in_flight
    det.release.set()
    await asyncio.gather(*tasks)
    assert det.max_running == in_flight
    assert len(det.batches) == 6


async def test_a_failing_batch_fails_its_waiters_only():
    det = RecordingDetector(hold=True)
    b = MicroBatcher(det, max_batch=2)
    first = asyncio.create_task(b.decide("ok0", None, ()))
    await _wait_for(lambda: len(det.batches) == 1)
    bad = [asyncio.create_task(b.decide(t, None, ())) for t in ("boom", "ok1")]
    later = asyncio.create_task(b.decide("ok2", None, ()))
    await asyncio.sleep(0.01)
    det.release.set()
    assert (await first).explanation.reason == "decided ok0"
    for t in bad:
        with pytest.raises(RuntimeError, match="exploded"):
            await t
    assert (await later).explanation.reason == "decided ok2"


async def test_a_cancelled_waiter_does_not_break_the_batch():
    det = RecordingDetector(hold=True)
    b = MicroBatcher(det, max_batch=4)
    first = asyncio.create_task(b.decide("m0", None, ()))
    await _wait_for(lambda: len(det.batches) == 1)
    gone = asyncio.create_task(b.decide("m1", None, ()))
    kept = asyncio.create_task(b.decide("m2", None, ()))
    await asyncio.sleep(0.01)
    gone.cancel()
    det.release.set()
    await first
    assert (await kept).explanation.reason == "decided m2"
    assert gone.cancelled()


async def test_inline_mode_runs_one_batch_at_a_time():
    det = RecordingDetector()
    b = MicroBatcher(det, offload=False, max_in_flight=4)
    assert b.max_in_flight == 1
    results = await asyncio.gather(*(b.decide(f"m{i}", None, ()) for i in range(3)))
    assert len(results) == 3 and det.max_running == 1


def test_bad_limits_are_refused():
    with pytest.raises(ValueError):
        MicroBatcher(RecordingDetector(), max_batch=0)
    with pytest.raises(ValueError):
        MicroBatcher(RecordingDetector(), max_in_flight=0)


@pytest.mark.parametrize("offload", [False, True])
async def test_a_message_right_after_the_previous_result_is_still_decided(offload):
    """Regression: a worker that had just finished (its done-callback not run yet) was counted as running, so a
    message queued at that moment waited forever."""
    b = MicroBatcher(RecordingDetector(), offload=offload, max_in_flight=1)

    async def one_after_another() -> list[str]:
        # awaited directly: the next decide() runs in the same step that receives the previous result
        return [(await b.decide(f"m{i}", None, ())).explanation.reason for i in range(20)]

    assert await asyncio.wait_for(one_after_another(), timeout=10) == [f"decided m{i}" for i in range(20)]
