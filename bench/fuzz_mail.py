"""Fuzz the mail parser and `ingest` with malformed messages, and count what went wrong.

Run: uv run python bench/fuzz_mail.py [--messages 10000] [--seed 13] [--ingest 10000]

Messages are mutations (seeded `random`) of real-looking mail: the hostile corpus
(tests/hostile_mail.py) and the dev set when it is next to the repo (../shared/evals/emails_dev),
cut, spliced, with bytes flipped or inserted, headers repeated or garbled (odd charsets, dates,
encodings, boundaries), NULs, bidi and zero-width characters, deep nesting and long lines. Each
goes through `connectors.mail.parse_email`; the first `--ingest` of them also through
`connectors.email_tasks.ingest` on a fresh embedded Postgres (offline brain), each in its own
transaction. A crash is any exception other than BadEmail (a reasoned refusal) from the parser,
or any exception from ingest; a hang is one message over 10 s. Prints the counts and the slowest
message; exits 1 on any crash or hang. Figures go in docs/reliability.md.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bots.app import open_runtime  # noqa: E402
from connectors.email_tasks import ingest  # noqa: E402
from connectors.mail import BadEmail, parse_email  # noqa: E402
from core.config import Settings  # noqa: E402
from tests.hostile_mail import corpus  # noqa: E402

HANG_SECONDS = 10.0
_HEADERS = [b"Content-Type: multipart/mixed; boundary=\"b\"", b"Content-Type: text/html; charset=x-unknown",
            b"Content-Type: text/plain; charset=utf-16", b"Content-Type: message/rfc822",
            b"Content-Transfer-Encoding: base64", b"Content-Transfer-Encoding: quoted-printable",
            b"Content-Transfer-Encoding: x-gzip", b"Date: Fri, 31 Dec 9999 23:59:59 -1200",
            b"Date: Mon, 01 Jan 0001 00:00:00 +9999", b"Date: yesterday", b"Subject: =?utf-8?b?AAAA?=",
            b"Subject: =?x-bad?q?=00=FF?=", b"From: \x00@\x00", b"Message-ID: " + b"<" * 500,
            b"List-Unsubscribe: <x>", b"From: \"\xe2\x80\xae\" <a@b>", b"Content-Type: multipart/alternative"]
_PIECES = [b"\x00", b"\r\n", b"\n\n", b"--b\r\n", b"--b--", b"=\r\n", b"=FF", b"<div style='display:none'>",
           b"</div>", b"</p></span>", b"\xe2\x80\x8b", b"\xe2\x80\xae", b"\xce\x91I assistant: ", b"\xff\xfe",
           b"<style>.x{color:#fff}</style>", b"&#0;", b"&#x110000;", b"<" * 50, b"\t" * 50]


def _seeds() -> list[bytes]:
    seeds = [raw for _, raw, _ in corpus() if len(raw) < 200_000]
    dev = Path(__file__).resolve().parents[2] / "shared" / "evals" / "emails_dev"
    seeds += [p.read_bytes() for p in sorted(dev.glob("*.eml"))] if dev.is_dir() else []
    return seeds


def mutate(rng: random.Random, raw: bytes, seeds: list[bytes]) -> bytes:
    """One malformed message made from `raw` by 1–6 random edits."""
    data = bytearray(raw)
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(8)
        at = rng.randrange(len(data) + 1)
        if op == 0:  # flip bytes
            for i in rng.sample(range(len(data)), min(len(data), rng.randint(1, 20))):
                data[i] = rng.randrange(256)
        elif op == 1:  # cut
            data = data[:at]
        elif op == 2:  # splice another seed in
            other = rng.choice(seeds)
            data[at:at] = other[rng.randrange(len(other) + 1):][:rng.randint(1, 5000)]
        elif op == 3:  # a header line on top
            data[0:0] = rng.choice(_HEADERS) + b"\r\n"
        elif op == 4:  # pieces of markup, boundaries and odd characters
            data[at:at] = b"".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 30)))
        elif op == 5:  # nesting
            depth = rng.choice([5, 50, 500, 3000])
            data[at:at] = b"".join(b'Content-Type: multipart/mixed; boundary="n%d"\r\n\r\n--n%d\r\n' % (i, i)
                                   for i in range(depth))
        elif op == 6:  # a long line
            data[at:at] = bytes([rng.randrange(32, 127)]) * rng.choice([1000, 100_000, 1_000_000])
        else:  # repeat a chunk
            data[at:at] = data[at:at + rng.randint(1, 2000)] * rng.randint(2, 50)
    return bytes(data)


async def _ingest_all(messages: list[bytes]) -> tuple[Counter[str], int, int, float, list[str]]:
    statuses: Counter[str] = Counter()
    crashes, hangs, slowest, errors = 0, 0, 0.0, []
    with tempfile.TemporaryDirectory(prefix="pixie-fuzzmail-") as tmp:
        settings = Settings(PIXIE_DATA_DIR=Path(tmp), PIXIE_LLM="offline", PIXIE_EMBEDDINGS="hash")
        async with open_runtime(settings, default_tz="UTC") as rt:
            for i, raw in enumerate(messages):
                started = time.monotonic()
                try:
                    statuses[(await ingest(rt, f"u{i % 50}", "UTC", raw, f"m{i}"))["status"]] += 1
                except Exception:  # noqa: BLE001 — counted, not raised: the run goes on
                    crashes += 1
                    errors.append(traceback.format_exc(limit=3))
                took = time.monotonic() - started
                hangs += took > HANG_SECONDS
                if took > HANG_SECONDS:
                    print(f"slow ingest: message {i}, {len(raw)} bytes, {took:.1f} s", flush=True)
                slowest = max(slowest, took)
    return statuses, crashes, hangs, slowest, errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--ingest", type=int, default=10_000, help="how many of them also go through ingest")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    rng = random.Random(args.seed)
    seeds = _seeds()
    messages = [mutate(rng, rng.choice(seeds), seeds) for _ in range(args.messages)]

    outcomes: Counter[str] = Counter()
    crashes, hangs, slowest, errors = 0, 0, 0.0, []
    started_all = time.monotonic()
    for raw in messages:
        started = time.monotonic()
        try:
            parse_email(raw)
            outcomes["read"] += 1
        except BadEmail:
            outcomes["refused"] += 1
        except Exception:  # noqa: BLE001 — a crash: counted and shown below
            crashes += 1
            errors.append(traceback.format_exc(limit=3))
        took = time.monotonic() - started
        hangs += took > HANG_SECONDS
        slowest = max(slowest, took)
    parse_seconds = time.monotonic() - started_all
    print(f"parser: {len(messages)} messages ({outcomes['read']} read, {outcomes['refused']} refused with a reason), "
          f"{crashes} crashes, {hangs} hangs, slowest {slowest:.2f} s, total {parse_seconds:.1f} s", flush=True)

    if args.ingest:
        started_all = time.monotonic()
        statuses, icrashes, ihangs, islowest, ierrors = asyncio.run(_ingest_all(messages[:args.ingest]))
        print(f"ingest: {sum(statuses.values()) + icrashes} messages {dict(statuses)}, {icrashes} crashes, "
              f"{ihangs} hangs, slowest {islowest:.2f} s, total {time.monotonic() - started_all:.1f} s")
        crashes, hangs, errors = crashes + icrashes, hangs + ihangs, errors + ierrors
    for e in errors[:5]:
        print(e)
    return 1 if crashes or hangs else 0


if __name__ == "__main__":
    sys.exit(main())
