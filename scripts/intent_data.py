"""Reading the labelled sentences of data/intents/ and the features the classifier sees (shared by the scripts)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from core.intent_model import LABELS, features, rule_label, view
from core.nlu import parse_message
from core.nlu_words import normalise

DATA = Path(__file__).resolve().parent.parent / "data" / "intents"
# The rules read times against a clock; any fixed one will do (the label does not depend on it).
NOW = dt.datetime(2026, 2, 11, 10, 0, tzinfo=ZoneInfo("Europe/London"))


def load(path: Path, strict: bool = True) -> list[tuple[str, str]]:
    """(label, sentence) pairs of one file; `strict=False` keeps labels the model does not know (scored wrong)."""
    pairs, label = [], None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("## "):
            label = line[3:].strip()
            if strict and label not in LABELS:
                raise SystemExit(f"{path}: unknown label {label!r}")
        elif line and not line.startswith("#"):
            if label is None:
                raise SystemExit(f"{path}: a sentence before any '## label' line")
            pairs.append((label, line))
    return pairs


def rule_labels(sentences: list[str]) -> list[str]:
    """What the rules alone read for each sentence."""
    return [rule_label(parse_message(s, NOW)) for s in sentences]


def matrix(encoder, sentences: list[str], layers: int, rule_scale: float) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The feature rows for sentences, as core.intent_model computes them at run time."""
    vectors = encoder.encode([view(normalise(s)) for s in sentences], layers=layers)
    return features(vectors, rule_labels(sentences), rule_scale, [normalise(s) for s in sentences])
