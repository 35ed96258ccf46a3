"""Property-based fuzzing of every input surface Pixie reads here: `--jsonl` lines, chat text, settings.

Kept to a few hundred inputs so the suite stays quick; bench/fuzz_inputs.py runs tens of thousands
of the same inputs and docs/reliability.md holds its figures.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bots.app import Runtime
from tests.fuzz_support import CHAT_TEXT, ENV_FILE, JSONL_LINE, SANE_NOW, Tally, chat_round, jsonl_round, settings_case


# The database persists across examples (that is the point: it must stay usable), so the
# function-scoped runtime is shared on purpose; no example database, so every run is fresh.
def fuzz(examples: int) -> settings:
    """Hypothesis settings for `examples` inputs, with no deadline (a turn talks to Postgres)."""
    return settings(max_examples=examples, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])


@fuzz(30)
@given(lines=st.lists(JSONL_LINE, min_size=1, max_size=8))
async def test_every_jsonl_line_gets_one_answer_and_the_stream_goes_on(rt: Runtime, lines: list[str]) -> None:
    tally = Tally()
    await jsonl_round(rt, lines, tally)
    assert tally.clean, tally.examples


@fuzz(40)
@given(texts=st.lists(CHAT_TEXT, min_size=1, max_size=4), now=SANE_NOW)
async def test_any_chat_text_gets_a_reply_and_never_a_failure(rt: Runtime, texts: list[str], now: dt.datetime) -> None:
    tally = Tally()
    await chat_round(rt, texts, now, tally)
    assert tally.clean, tally.examples


@fuzz(300)
@given(content=ENV_FILE)
def test_any_env_file_loads_or_is_refused_in_one_line(tmp_path: Path, content: bytes) -> None:
    tally = Tally()
    settings_case(tmp_path / ".env", content, tally)
    assert tally.clean, tally.examples


@pytest.mark.parametrize("line", ['[' * 50_000, '{"text": "hi", "user": "a\\u0000b"}',
                                  '{"text": "hi", "now": "0001-01-01T00:00:00+00:00"}',
                                  '{"text": "hi", "now": "9999-12-31T23:59:59+00:00"}',
                                  '{"text": "\\ud800 set my timezone to UTC-14"}'])
async def test_the_lines_that_once_killed_the_stream(rt: Runtime, line: str) -> None:
    tally = Tally()
    await jsonl_round(rt, [line, line], tally)
    assert tally.clean and tally.inputs == 2, tally.examples
