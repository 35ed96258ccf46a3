"""The Discord bot in its own process, against the fake Discord (crash tests kill it with SIGKILL).

    python -m tests.discord_child --database-url URL --api-base URL --gateway URL --owners discord:501
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile

from bots.app import open_runtime
from bots.discord import DiscordBot
from core.access import parse_owners
from core.config import Settings
from core.inbox import Inbox
from tests.fakes.discord import TOKEN


async def main(args: argparse.Namespace) -> None:
    settings = Settings(PIXIE_DATA_DIR=tempfile.mkdtemp(), PIXIE_DATABASE_URL=args.database_url,
                        PIXIE_LLM="offline", PIXIE_EMBEDDINGS="hash")
    async with open_runtime(settings) as rt:
        rt.assistant.access.owners = parse_owners(args.owners)
        bot = DiscordBot(Inbox(rt.sessions, rt.assistant), TOKEN, api_base=args.api_base, gateway=args.gateway)
        print("running", flush=True)
        await bot.run()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--api-base", required=True)
    parser.add_argument("--gateway", required=True)
    parser.add_argument("--owners", required=True)
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(parser.parse_args()))
