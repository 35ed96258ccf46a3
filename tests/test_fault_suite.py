"""The fault suite, bounded for CI: bench/faults.py with 3 kill -9 points per scenario and a fixed seed.

Real processes throughout: Postgres and Redis servers, `pixie run` and `pixie worker`, the fake
Telegram Bot API with people writing all along. The full run (20 points) is `uv run python bench/faults.py`.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(900)  # four scenarios of real processes: about 3-4 minutes on a busy machine


def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_faults", ROOT / "bench" / "faults.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_faults"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
async def results() -> dict[str, object]:
    faults = bench()
    found = await faults.main(points=3, seed=2026, users=5, say=lambda line: print(line, flush=True))
    return {r.scenario: r for r in found}


@pytest.mark.parametrize("scenario", ["postgres", "redis", "run", "worker"])
async def test_kill_9_under_a_burst_loses_nothing_doubles_nothing_and_recovers_within_10_s(
        results: dict[str, object], scenario: str) -> None:
    r = results[scenario]
    assert r.faults == 3 and r.sent > 30  # type: ignore[attr-defined]
    assert r.lost == 0 and r.answered == r.sent, r  # type: ignore[attr-defined]
    assert r.stored_twice == 0, r  # type: ignore[attr-defined]  # no message ever acted on twice
    # A message Telegram took in the instant its sender died (a reply: `pixie run`; a reminder: the
    # worker, in `pixie run` or `pixie worker`) is sent again: Telegram has no idempotency key to stop
    # it. Any other double message is a bug.
    assert r.duplicated == r.duplicated_at_kill and (scenario == "run" or r.duplicated == 0), r  # type: ignore
    assert r.reminders_lost == 0, r  # type: ignore[attr-defined]
    assert r.reminders_doubled == r.reminders_doubled_at_kill, r  # type: ignore[attr-defined]
    assert scenario in ("run", "worker") or r.reminders_doubled == 0, r  # type: ignore[attr-defined]
    assert r.max_recovery <= 10, r  # type: ignore[attr-defined]
    assert r.slow_told == r.slow or scenario == "run", r  # type: ignore[attr-defined]  # a dead bot tells nobody
    assert r.tracebacks == 0, r.traceback_samples  # type: ignore[attr-defined]
