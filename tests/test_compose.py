"""compose.yaml and .env.example agree with the code (Docker does not run here, so we read them)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import typer.main
import yaml

from bots.cli import app
from core.config import Settings

ROOT = Path(__file__).resolve().parent.parent
PIXIE_SERVICES = ("migrate", "worker", "bots")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def aliases() -> set[str]:
    return {f.alias or name.upper() for name, f in Settings.model_fields.items()}


def cli_commands() -> set[str]:
    group = typer.main.get_command(app)
    return set(group.commands)  # type: ignore[attr-defined]


def interpolated(compose_text: str) -> set[str]:
    return set(re.findall(r"\$\{([A-Z0-9_]+)", compose_text))


def test_the_stack_has_its_services_with_health_checks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "migrate", "worker", "bots"}
    assert services["postgres"]["image"].startswith("pgvector/pgvector:pg")  # the official pgvector image
    assert services["redis"]["image"].startswith("redis:")
    for name in ("postgres", "redis", "worker", "bots"):
        assert services[name]["healthcheck"]["test"], name
    assert services["migrate"]["restart"] == "no"  # one shot
    for name in ("worker", "bots"):
        needs = services[name]["depends_on"]
        assert needs["migrate"]["condition"] == "service_completed_successfully"
        assert needs["redis"]["condition"] == "service_healthy"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_every_volume_is_declared_and_data_is_kept(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    for name, service in compose["services"].items():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            assert source in declared, f"{name} mounts undeclared volume {source}"
    assert any(m.endswith("/var/lib/postgresql/data") for m in compose["services"]["postgres"]["volumes"])


def test_pixie_services_run_commands_the_cli_has(compose: dict[str, Any]) -> None:
    commands = cli_commands()
    assert {"worker", "run", "migrate", "doctor"} <= commands
    for name in PIXIE_SERVICES:
        service = compose["services"][name]
        cmd = service["command"]
        assert cmd[0] == "pixie" and cmd[1] in commands, (name, cmd)
        check = service.get("healthcheck", {}).get("test")
        if check:
            assert check[0] == "CMD" and check[1] == "pixie" and check[2] in commands
        assert service["build"] == "." and (ROOT / "Dockerfile").is_file()
    assert "--check" in {p.opts[0] for p in typer.main.get_command(app).commands["worker"].params  # type: ignore[attr-defined]
                         if p.opts}


def test_pixie_services_use_only_real_settings_and_reach_the_other_services(compose: dict[str, Any]) -> None:
    known = aliases()
    db = compose["services"]["postgres"]["environment"]
    for name in PIXIE_SERVICES:
        env = compose["services"][name]["environment"]
        assert set(env) <= known, set(env) - known
        url = urlparse(env["PIXIE_DATABASE_URL"].replace("${POSTGRES_PASSWORD:-pixie}", "pw"))
        assert (url.hostname, url.username, url.path.lstrip("/")) == ("postgres", db["POSTGRES_USER"],
                                                                       db["POSTGRES_DB"])
        assert urlparse(env["PIXIE_REDIS_URL"]).hostname == "redis"
        Settings(**env)  # every value parses


def test_env_example_lists_every_setting(compose: dict[str, Any]) -> None:
    text = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, re.M))
    missing = aliases() - listed
    assert not missing, f".env.example lacks {sorted(missing)}"
    extra = listed - aliases()
    assert extra <= interpolated((ROOT / "compose.yaml").read_text()), f"not settings: {sorted(extra)}"
    Settings(_env_file=ROOT / ".env.example")  # type: ignore[call-arg]  # the file as shipped loads
