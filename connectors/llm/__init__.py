"""Model providers: which are configured, in which order they are asked."""

from __future__ import annotations

from core.config import Settings
from core.llm import Provider


def build_providers(settings: Settings) -> list[Provider]:
    """The configured providers, the one PIXIE_LLM names first; empty when none is configured."""
    from connectors.llm.anthropic import AnthropicClient
    from connectors.llm.openai import OpenAIClient

    found: dict[str, Provider] = {}
    if settings.anthropic_api_key:
        found["anthropic"] = Provider("anthropic", AnthropicClient(settings.anthropic_api_key,
                                                                   settings.anthropic_base_url),
                                      settings.anthropic_fast_model, settings.anthropic_strong_model)
    if settings.openai_api_key or settings.openai_base_url:
        base = settings.openai_base_url
        compatible = bool(base) and "api.openai.com" not in (base or "")
        found["openai"] = Provider("openai", OpenAIClient(settings.openai_api_key, base, compatible),
                                   settings.openai_fast_model, settings.openai_strong_model)
    first = settings.llm if settings.llm in found else None
    order = ([first] if first else []) + [name for name in ("anthropic", "openai") if name != first]
    return [found[name] for name in order if name in found]


__all__ = ["build_providers"]
