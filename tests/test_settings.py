"""A setting Pixie cannot use is one clear line at start-up that names it, and exit 2 — never a traceback."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bots.cli import app
from core.config import get_settings

PASSWORD = "hunter2-secret"


async def pixie(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *args: str, env_file: bytes | None = None,
                **env: str) -> tuple[int, str]:
    """Run a `pixie` command in-process in `tmp_path` with `env`; (exit code, what it printed)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PIXIE_DATA_DIR", str(tmp_path / "data"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if env_file is not None:
        (tmp_path / ".env").write_bytes(env_file)
    get_settings.cache_clear()
    try:  # a command runs its own event loop: give it a thread
        out = await asyncio.to_thread(CliRunner().invoke, app, list(args))
    finally:
        get_settings.cache_clear()
    return out.exit_code, out.output  # stdout and stderr, as a terminal shows them


@pytest.mark.parametrize(("env", "env_file", "says"), [
    ({"PIXIE_DIGEST_TIME": "25:99"}, None, "PIXIE_DIGEST_TIME: '25:99' is not a time of day"),
    ({"PIXIE_EMBEDDINGS_DIMENSIONS": "abc"}, None, "PIXIE_EMBEDDINGS_DIMENSIONS: Input should be a valid integer"),
    ({}, b"PIXIE_LLM=offline\n\xff\xfe\x00\x81 binary\n", ".env: not UTF-8 text"),
    ({"PIXIE_LLM": "clever"}, None, "PIXIE_LLM: Input should be"),
    ({"PIXIE_DATABASE_URL": "not a url"}, None, "PIXIE_DATABASE_URL: not a database URL"),
    ({"PIXIE_DATABASE_URL": f"postgresql://bob:{PASSWORD}@127.0.0.1:1/pixie"}, None,
     "cannot connect to the database at 127.0.0.1:1: Connect call failed"),
])
async def test_a_bad_setting_is_one_line_naming_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                   env: dict[str, str], env_file: bytes | None, says: str) -> None:
    code, printed = await pixie(monkeypatch, tmp_path, "tasks", "--user", "ada", env_file=env_file, **env)
    assert code == 2, printed
    assert printed.startswith(f"pixie: {says}") and printed.count("\n") == 1, printed
    assert "Traceback" not in printed and PASSWORD not in printed


async def test_a_data_dir_that_is_a_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "data").write_text("not a folder")
    code, printed = await pixie(monkeypatch, tmp_path, "doctor")
    assert code == 2 and "PIXIE_DATA_DIR" in printed and "is a file, not a folder" in printed, printed


async def test_a_postgres_without_pgvector_says_what_is_missing(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    # The machine's own Postgres 15 on 127.0.0.1:5432 has no pgvector (see TESTING.md); nothing is written to it.
    code, printed = await pixie(monkeypatch, tmp_path, "migrate",
                                PIXIE_DATABASE_URL="postgresql://postgres@127.0.0.1:5432/postgres")
    assert code == 2, printed
    assert "no pgvector extension" in printed and "install" in printed and "aborted" not in printed


def test_good_settings_are_read_as_given(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from core.config import load_settings

    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("PIXIE_DIGEST_TIME=7:05\nPIXIE_EMBEDDINGS_DIMENSIONS=256\n")
    s = load_settings()
    assert s.digest_time == "07:05" and s.embeddings_dimensions == 256


def test_the_real_command_prints_no_traceback(tmp_path: Path) -> None:
    env = dict(os.environ, PIXIE_DATA_DIR=str(tmp_path), PIXIE_EMBEDDINGS_DIMENSIONS="abc")
    proc = subprocess.run([str(Path(sys.executable).with_name("pixie")), "chat", "--jsonl"], input="",
                          capture_output=True, text=True, env=env, timeout=60, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == ("pixie: PIXIE_EMBEDDINGS_DIMENSIONS: Input should be a valid integer, "
                                   "unable to parse string as an integer.")
