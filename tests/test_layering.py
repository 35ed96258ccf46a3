"""core/ knows no platform, provider or connector SDK: adapters live in bots/, connectors/, jobs/."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import core

SDKS = ["anthropic", "openai", "telegram", "slack_bolt", "slack_sdk", "discord", "googleapiclient", "msal",
        "imapclient", "arq", "redis", "aiohttp"]


def test_importing_every_core_module_loads_no_sdk() -> None:
    modules = [f"core.{m.name}" for m in pkgutil.iter_modules(core.__path__)]
    assert "core.assistant" in modules and len(modules) > 20
    probe = ("import importlib, sys\n"
             f"for m in {modules!r}: importlib.import_module(m)\n"
             f"print(sorted({{s for s in {SDKS!r} if s in sys.modules}}))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.strip() == "[]", out.stdout
