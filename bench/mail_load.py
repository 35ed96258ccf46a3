"""Forwarded mail under load: 1,000 mails arriving in one minute across 100 users, through dovecot.

Run: uv run python bench/mail_load.py [--mails 1000] [--users 100] [--over 60] [--database-url URL]

A real dovecot (tests/dovecot.py) receives the mails by APPEND, spread evenly over `--over`
seconds, each to a user's secret forwarding address (Delivered-To: pixie+<token>@…). Pixie reads
the mailbox as in production (connectors.mail_poller.watch: catch-up, IDLE, catch-up) and hands
each mail to the intake (connectors.mail_intake), which stores it, makes its tasks and queues the
user's one chat message. Measured per mail: from the end of its APPEND (it is in the mailbox) to
the commit of its queued notification. Checked: every mail handled once, one notification each.
One poller, one connection: a batch of up to 50 fetched in one FETCH, handled PARALLEL at a time
(connectors.mail_poller), moved out in one command per folder.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import re
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from jobs_common import fresh_engine, pct  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from connectors.imap import ImapMailbox, parse_imap_url  # noqa: E402
from connectors.mail_poller import BATCH, PARALLEL, watch  # noqa: E402
from core import mail_addresses  # noqa: E402
from core.embeddings import HashEmbedder  # noqa: E402
from core.memory import Memory  # noqa: E402
from core.vault import Vault  # noqa: E402
from db.engine import make_sessionmaker  # noqa: E402
from db.models import Identity, Notification, User  # noqa: E402
from jobs.mail import connect_mailbox, intake_for  # noqa: E402
from tests.dovecot import Dovecot  # noqa: E402
from tests.mail_support import AUTHSERV, mail, to_token  # noqa: E402

BODY = ("Hi {name},\n\nCould you please send the signed contract for order {n} to Bob by Friday?\n\n"
        "Thanks,\nCarol\n")


async def users(sessions, n: int, now: dt.datetime) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """`n` users who talk to Pixie on Telegram, with their forwarding tokens: [(name, token)]."""
    out = []
    async with sessions() as session, session.begin():
        for i in range(n):
            user = User(id=uuid.uuid4(), name=f"user{i}", tz="Europe/Berlin", created_at=now)
            session.add(user)
            await session.flush()
            session.add(Identity(user_id=user.id, platform="telegram", platform_user_id=f"u{i}",
                                 chat_id=f"c{i}", created_at=now))
            out.append((user.name, await mail_addresses.token_of(session, user.id)))
    return out


def deliver(dovecot: Dovecot, mails: list[tuple[str, bytes]], over: float, arrived: dict[str, float]) -> None:
    """APPEND the mails evenly over `over` seconds (a thread of its own, as the MTA is), noting each arrival."""
    start = time.perf_counter()
    with dovecot.client() as c:
        for k, (mid, raw) in enumerate(mails):
            pause = start + k * over / len(mails) - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            c.append("INBOX", raw, flags=())
            arrived[mid] = time.perf_counter()


async def main(args: argparse.Namespace) -> None:
    engine, _ = await fresh_engine(args.database_url)
    sessions = make_sessionmaker(engine)
    now = dt.datetime.now(dt.UTC)
    people = await users(sessions, args.users, now)
    dovecot = Dovecot().start()
    try:
        config = parse_imap_url(dovecot.url)
        account = await connect_mailbox(sessions, Vault(None, Path(dovecot.dir)), config, now)
        intake = intake_for(sessions, Memory(HashEmbedder()), config, account, AUTHSERV)
        mails = []
        for k in range(args.mails):
            name, token = people[k % len(people)]
            mid = f"<load-{k}-{uuid.uuid4().hex[:8]}@example.org>"
            mails.append((mid, mail(BODY.format(name=name, n=k), subject=f"Fwd: Order {k}", top=(to_token(token),),
                                    message_id=mid, date=now.strftime("%a, %d %b %Y %H:%M:%S +0000"))))
        arrived: dict[str, float] = {}
        handled: dict[str, float] = {}
        statuses: dict[str, int] = {}
        plain = intake.handle
        all_in = asyncio.Event()

        async def timed(raw_mail):  # type: ignore[no-untyped-def]
            outcome = await plain(raw_mail)
            found = re.search(rb"^Message-ID:\s*(<[^>\r\n]+>)", raw_mail.data, re.M | re.I)
            if found is not None and outcome.notification_id is not None:
                handled.setdefault(found.group(1).decode(), time.perf_counter())
            statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
            if len(handled) >= args.mails:
                all_in.set()
            return outcome

        intake.handle = timed  # type: ignore[method-assign]
        stop = asyncio.Event()
        poller = asyncio.create_task(watch(lambda: ImapMailbox(config), intake, stop, idle=30.0))
        producer = threading.Thread(target=deliver, args=(dovecot, mails, args.over, arrived))
        producer.start()
        try:
            await asyncio.wait_for(all_in.wait(), args.limit)
        except TimeoutError:
            pass
        stop.set()
        await poller
        producer.join()
        async with sessions() as session:
            queued = int(await session.scalar(select(func.count()).select_from(Notification)) or 0)
        lat = [handled[m] - arrived[m] for m in handled if m in arrived]
        print(f"{args.mails} mails over {args.over:.0f} s to {args.users} users; one poller (IDLE), batches of "
              f"{BATCH} handled {PARALLEL} at a time")
        print(f"  handled with a notification: {len(handled)}; outcomes {statuses}; notifications queued: {queued}")
        print(f"  left in INBOX: {dovecot.count('INBOX')}; in Pixie/Done: {dovecot.count('Pixie.Done')}")
        if lat:
            print(f"  arrival in mailbox → queued chat message: p50 {pct(lat, 50):.2f} s, p95 {pct(lat, 95):.2f} s,"
                  f" max {max(lat):.2f} s")
        once = len(handled) == args.mails == queued and statuses.get("duplicate", 0) == 0
        print(f"  each handled once: {'yes' if once else 'NO'}; target p95 ≤ 10 s: "
              f"{'met' if lat and once and pct(lat, 95) <= 10 else 'NOT met'}")
    finally:
        dovecot.stop()
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mails", type=int, default=1000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--over", type=float, default=60.0, help="seconds over which the mails arrive")
    parser.add_argument("--limit", type=float, default=300.0, help="give up after this many seconds")
    parser.add_argument("--database-url")
    asyncio.run(main(parser.parse_args()))
