"""`pixie doctor`: what is configured, and whether each part answers."""

from __future__ import annotations

from sqlalchemy import text

from core.config import get_settings
from db.migrate import current_revisions, head_revisions

Check = tuple[str, bool | None, str]  # name, ok (None: not configured), detail


async def run_checks() -> list[Check]:
    """Every check, in the order a newcomer would want to read them."""
    from core.runtime import open_runtime

    s = get_settings()
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
    except Exception as exc:  # doctor reports, it does not crash
        checks.append(("database", False, f"cannot connect: {exc}"))
    brain = "offline rules (no key needed)"
    if s.llm != "offline" and (s.anthropic_api_key or s.openai_api_key):
        brain = "a model is configured, but this version answers with the offline rules"
    checks.append(("brain", True, brain))
    checks.append(("embeddings", True, f"{s.embeddings} → hashing embedder"))
    for name, configured in (("slack", s.slack_bot_token), ("telegram", s.telegram_bot_token),
                             ("discord", s.discord_bot_token)):
        checks.append((name, None, "token set" if configured else "not configured"))
    return checks
