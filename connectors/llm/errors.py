"""One translation of the providers' SDK errors into core.llm.ModelError (both SDKs share their shape)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from core.llm import ModelError, kind_for_status, retry_after_seconds


@contextmanager
def provider_errors(sdk: Any, name: str) -> Iterator[None]:
    """Turn `sdk`'s (anthropic's or openai's) exceptions into ModelError, which the router retries or routes."""
    try:
        yield
    except sdk.APIStatusError as exc:
        raise ModelError(kind_for_status(exc.status_code), str(exc), exc.status_code,
                         retry_after_seconds(exc.response.headers)) from None
    except sdk.APITimeoutError:
        raise ModelError("timeout", f"{name} did not answer in time") from None
    except sdk.APIConnectionError as exc:
        raise ModelError("connection", str(exc)) from None
    except (sdk.APIResponseValidationError, ValueError) as exc:
        raise ModelError("invalid_response", str(exc)) from None
