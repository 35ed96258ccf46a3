"""A Pixie worker in its own process, delivering to the fake chat platform (crash and concurrency tests).

    python -m tests.worker_child --database-url URL --redis-db N --platform URL [--burst] [--lease S]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import tempfile

from arq.connections import RedisSettings

from bots.app import open_runtime
from core.config import Settings
from jobs.context import JobContext
from jobs.worker import close_worker, make_worker
from tests.fakes.chat_platform import HttpNotifier
from tests.jobs_support import redis_port


async def main(args: argparse.Namespace) -> None:
    settings = Settings(PIXIE_DATA_DIR=args.data_dir or tempfile.mkdtemp(), PIXIE_DATABASE_URL=args.database_url,
                        PIXIE_LLM="offline", PIXIE_EMBEDDINGS="hash")
    async with open_runtime(settings) as rt:
        notifier = HttpNotifier(args.platform)
        jc = JobContext(rt.sessions, rt.memory, notifier, lease=dt.timedelta(seconds=args.lease),
                        backoff_base=0.05, send_timeout=args.send_timeout, step_batch=args.step_batch)
        worker = make_worker(jc, RedisSettings(host="127.0.0.1", port=redis_port(), database=args.redis_db),
                             burst=args.burst, poll_delay=0.02, handle_signals=True)
        try:
            await worker.async_run()
        finally:
            await close_worker(worker)
            await notifier.close()
        print(f"jobs_complete={worker.jobs_complete}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-db", type=int, required=True)
    parser.add_argument("--platform", required=True)
    parser.add_argument("--data-dir")
    parser.add_argument("--burst", action="store_true")
    parser.add_argument("--lease", type=float, default=60.0)
    parser.add_argument("--send-timeout", type=float, default=20.0)
    parser.add_argument("--step-batch", type=int, default=25)
    logging.basicConfig(level=logging.INFO if os.environ.get("PIXIE_WORKER_LOG") else logging.WARNING)
    asyncio.run(main(parser.parse_args()))
