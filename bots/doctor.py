"""`pixie doctor`: what is configured, and whether each part answers."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import async_sessionmaker

from bots import platforms
from bots.app import open_runtime
from core.accounts import accounts_check
from core.config import Settings, get_settings
from core.redact import install_log_redaction, redact, secret_values
from core.vault import Vault, secret_key_check
from db.migrate import current_revisions, head_revisions
from db.models import Notification, User
from jobs.queue import ping

Check = tuple[str, bool | None, str]  # name, ok (None: not configured), detail


async def delivery_check(sessions: async_sessionmaker, now: dt.datetime | None = None) -> Check:
    """Notifications a platform refused for good in the last week (with why), and ones left in doubt."""
    now = now or dt.datetime.now(dt.UTC)
    async with sessions() as session:
        failed = list(await session.execute(
            select(Notification.kind, Notification.last_error, Notification.due_at, User.name)
            .join(User, User.id == Notification.user_id)
            .where(Notification.status == "failed", Notification.due_at >= now - dt.timedelta(days=7))
            .order_by(Notification.due_at.desc()).limit(50)))
        stuck = await session.scalar(select(func.count()).select_from(Notification).where(
            Notification.status == "sending", Notification.lease_until < now - dt.timedelta(minutes=10)))
    if not failed and not stuck:
        return ("deliveries", True, "no failed notifications in the last 7 days")
    lines = [f"{len(failed)} notification(s) could not be delivered in the last 7 days"]
    lines += [f"  {kind} for {name} due {due:%Y-%m-%d %H:%M} UTC — {error}" for kind, error, due, name in failed[:5]]
    if stuck:
        lines.append(f"  {stuck} still being sent after 10 minutes: is a worker running (`pixie worker`)?")
    return ("deliveries", False, "\n".join(lines))


async def queue_check() -> Check:
    """Whether the job queue's Redis answers."""
    try:
        return ("queue", True, await ping(get_settings()))
    except Exception as exc:  # doctor reports, it does not crash
        return ("queue", False, f"cannot reach Redis: {exc}")


async def run_checks() -> list[Check]:
    """Every check, in the order a newcomer would want to read them."""
    s = get_settings()
    install_log_redaction(*secret_values(s))  # what is printed below is masked with the same secrets
    checks: list[Check] = [("data dir", True, str(s.data_dir))]
    try:
        async with open_runtime(s) as rt:
            async with rt.engine.connect() as conn:
                version = (await conn.execute(text("SHOW server_version"))).scalar()
                vector = (await conn.execute(text(
                    "SELECT extversion FROM pg_extension WHERE extname = 'vector'"))).scalar()
                revs = await current_revisions(conn)
            where = "external" if s.database_url else f"embedded in {s.data_dir / 'pg'}"
            checks.append(("database", True, f"Postgres {version} ({where}), pgvector {vector}"))
            heads = head_revisions()
            checks.append(("schema", revs == heads, f"migration {', '.join(sorted(revs))} "
                                                      f"(newest {', '.join(sorted(heads))})"))
            checks.append(await delivery_check(rt.sessions))
            checks.append(("embeddings", True, f"{s.embeddings} → {rt.memory.embedder.name}"))
            checks.append(await accounts_check(rt.sessions, Vault.from_settings(s)))
    except Exception as exc:  # doctor reports, it does not crash
        checks.append(("database", False, f"cannot connect: {exc}"))
    checks.append(secret_key_check(s))
    checks.append(await queue_check())
    checks.append(("brain", True, describe_brain(s)))
    checks += platform_checks(s)
    # An error may quote a URL with its password, or a token: nothing doctor prints shows one.
    return [(name, ok, redact(detail)) for name, ok, detail in checks]


def platform_checks(s: Settings) -> list[Check]:
    """One line per registered chat platform: not configured, what its settings lack, or ready to run."""
    checks: list[Check] = []
    for platform in platforms.REGISTRY:
        if not platform.configured(s):
            checks.append((platform.display_name, None, f"not configured (set {platform.setting})"))
            continue
        problems = platform.adapter().problems(s)
        checks.append((platform.display_name, not problems, "; ".join(problems) or f"{platform.setting} set"))
    return checks


def describe_brain(s: Settings) -> str:
    """Which models answer, in order (no call is made: asking a model costs tokens)."""
    if s.llm == "offline":
        return "offline rules (PIXIE_LLM=offline)"
    from connectors.llm import build_providers

    providers = build_providers(s)
    if not providers:
        return "offline rules (no ANTHROPIC_API_KEY, OPENAI_API_KEY or OPENAI_BASE_URL set)"
    chain = ", then ".join(f"{p.name} ({p.fast_model} / {p.strong_model})" for p in providers)
    return f"{chain}, then the offline rules"
