"""Fuzz the platform surfaces with generated hostile payloads through the real libraries, and count failures.

Run: uv run python bench/fuzz_platforms.py [--inputs 10000] [--seed 13] [--platforms telegram,slack,discord]

The payloads are tests/platform_fuzz.py's hypothesis strategies: Telegram updates (messages, edited
messages, channel posts, callback queries with junk data, unknown update types; odd unicode, huge and
empty texts, entities out of range), Slack Socket Mode envelopes (events with missing fields and
wrong types, bot messages, thread replies, slash commands, block actions with junk values) and
Discord gateway dispatches (MESSAGE_CREATE and INTERACTION_CREATE with junk, unknown events). Each goes
through python-telegram-bot / slack-bolt / discord.py against tests/fakes/, then the adapter, the inbox
and the assistant, on a fresh embedded Postgres, offline brain. Prints, per platform, the payloads
tried, crashes (an error or a traceback logged, "something went wrong", or an owner's "/tasks" after
a round left unanswered), tracebacks sent to a person, and hangs (a round over 10 s per 10 payloads);
exits 1 if any. Numbers go in docs/reliability.md.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bots.app import open_runtime  # noqa: E402
from core.config import Settings  # noqa: E402
from tests.fuzz_support import Tally  # noqa: E402
from tests.platform_fuzz import dumps, fuzz_platform  # noqa: E402


async def run(platforms: list[str], inputs: int, base_seed: int) -> list[Tally]:
    results = []
    with tempfile.TemporaryDirectory(prefix="pixie-fuzz-platforms-") as tmp:
        settings = Settings(PIXIE_DATA_DIR=Path(tmp), PIXIE_LLM="offline", PIXIE_EMBEDDINGS="hash")
        async with open_runtime(settings, default_tz="UTC") as rt:
            for name in platforms:
                started = time.monotonic()
                tally = await fuzz_platform(rt, name, inputs, base_seed)
                results.append(tally)
                print(f"| {name:<8} | {tally.inputs:>7,} | {tally.crashes:>7} | {tally.tracebacks:>10} "
                      f"| {tally.hangs:>5} | {time.monotonic() - started:>7.1f} |", flush=True)
                for example in tally.examples:
                    print(f"    {dumps(example)}", file=sys.stderr)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=10_000, help="payloads per platform")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--platforms", default="telegram,slack,discord")
    args = parser.parse_args()
    logging.basicConfig(handlers=[logging.NullHandler()])  # failures are counted by the fuzz's own log watch
    print("| platform |  inputs | crashes | tracebacks | hangs | seconds |")
    print("| -------- | ------: | ------: | ---------: | ----: | ------: |")
    results = asyncio.run(run(args.platforms.split(","), args.inputs, args.seed))
    return 0 if all(t.clean for t in results) else 1


if __name__ == "__main__":
    sys.exit(main())
