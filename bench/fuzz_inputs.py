"""Fuzz every input surface with generated hostile input, and count what went wrong.

Run: uv run python bench/fuzz_inputs.py [--inputs 10000] [--seed 13] [--surfaces jsonl,chat,settings]

The generators are tests/fuzz_support.py's (hypothesis strategies): `pixie chat --jsonl` lines
(random and deeply nested JSON, numbers too big to read, odd unicode, NULs and lone surrogates,
random `now` and `user`), chat text through the assistant (the same, plus phrases with far dates
and odd zones), and `.env` files (random bytes, every setting with bad values). They run on a
fresh embedded Postgres in a temporary data dir, offline brain. Prints, per surface, the inputs
tried, crashes (an exception that escaped, or a turn that failed inside), tracebacks shown to a
person, and hangs (a round over 10 s per 10 lines); exits 1 if any. Numbers go in docs/reliability.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from bots.app import Runtime, open_runtime  # noqa: E402
from core.config import Settings  # noqa: E402
from tests.fuzz_support import (  # noqa: E402
    CHAT_TEXT,
    ENV_FILE,
    JSONL_LINE,
    SANE_NOW,
    Tally,
    chat_round,
    jsonl_round,
    settings_case,
)

PER_ROUND = 10  # jsonl lines (or chat texts) per generated example


def _settings(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
                    suppress_health_check=list(HealthCheck))


def drive(target: int, tally: Tally, run: Callable[[int, int], None], per_example: int = PER_ROUND) -> None:
    """Call `run(examples, round)` until `tally` has seen `target` inputs (hypothesis may stop a run early)."""
    round_no = 0
    while tally.inputs < target:
        run(-(-(target - tally.inputs) // per_example), round_no)
        round_no += 1


def fuzz_jsonl(loop: asyncio.AbstractEventLoop, rt: Runtime, target: int, base_seed: int) -> Tally:
    """`pixie chat --jsonl` through run_jsonl, PER_ROUND lines per stream."""
    tally = Tally()

    def jsonl_run(examples: int, round_no: int) -> None:
        @seed(base_seed + round_no)
        @_settings(examples)
        @given(st.lists(JSONL_LINE, min_size=PER_ROUND, max_size=PER_ROUND))
        def one(lines: list[str]) -> None:
            loop.run_until_complete(jsonl_round(rt, lines, tally))

        one()

    drive(target, tally, jsonl_run)
    return tally


def fuzz_chat(loop: asyncio.AbstractEventLoop, rt: Runtime, target: int, base_seed: int) -> Tally:
    """Chat text through the assistant, as several people."""
    tally = Tally()

    def chat_run(examples: int, round_no: int) -> None:
        @seed(base_seed + round_no)
        @_settings(examples)
        @given(st.lists(CHAT_TEXT, min_size=PER_ROUND, max_size=PER_ROUND), SANE_NOW, st.integers(0, 20))
        def one(texts: list[str], now: dt.datetime, who: int) -> None:
            loop.run_until_complete(chat_round(rt, texts, now, tally, user=f"chat{who}"))

        one()

    drive(target, tally, chat_run)
    return tally


def fuzz_settings(target: int, base_seed: int) -> Tally:
    """`.env` files read into Settings."""
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="pixie-fuzz-env-") as tmp:
        env_file = Path(tmp) / ".env"

        def env_run(examples: int, round_no: int) -> None:
            @seed(base_seed + round_no)
            @_settings(examples)
            @given(ENV_FILE)
            def one(content: bytes) -> None:
                settings_case(env_file, content, tally)

            one()

        drive(target, tally, env_run, per_example=1)
    return tally


def report(name: str, tally: Tally, seconds: float) -> None:
    """One row of the table, and the first failures to reproduce."""
    print(f"| {name:<8} | {tally.inputs:>7,} | {tally.crashes:>7} | {tally.tracebacks:>10} | {tally.hangs:>5} "
          f"| {seconds:>7.1f} |", flush=True)
    for example in tally.examples:
        print(f"    {example}", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=10_000, help="inputs per surface")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--surfaces", default="jsonl,chat,settings")
    args = parser.parse_args()
    surfaces = args.surfaces.split(",")
    logging.basicConfig(level=logging.CRITICAL)  # a failure is counted here, not printed as it happens

    print("| surface  |  inputs | crashes | tracebacks | hangs | seconds |")
    print("| -------- | ------: | ------: | ---------: | ----: | ------: |")
    results: list[Tally] = []
    if "settings" in surfaces:
        started = time.monotonic()
        results.append(fuzz_settings(args.inputs, args.seed))
        report("settings", results[-1], time.monotonic() - started)
    if {"jsonl", "chat"} & set(surfaces):
        with tempfile.TemporaryDirectory(prefix="pixie-fuzz-") as tmp:
            loop = asyncio.new_event_loop()
            opened = open_runtime(Settings(PIXIE_DATA_DIR=Path(tmp), PIXIE_LLM="offline", PIXIE_EMBEDDINGS="hash"),
                                  default_tz="UTC")
            rt = loop.run_until_complete(opened.__aenter__())
            try:
                for name, fuzz in (("jsonl", fuzz_jsonl), ("chat", fuzz_chat)):
                    if name in surfaces:
                        started = time.monotonic()
                        results.append(fuzz(loop, rt, args.inputs, args.seed))
                        report(name, results[-1], time.monotonic() - started)
            finally:
                loop.run_until_complete(opened.__aexit__(None, None, None))
                loop.close()
    return 0 if all(t.clean for t in results) else 1


if __name__ == "__main__":
    sys.exit(main())
