"""The learned part of the offline brain: which kind of request a message is, with a probability.

A softmax regression over two things: the sentence vector of the bundled all-MiniLM-L6-v2 (its first
`layers` layers, mean-pooled) and what the rules read (one-hot). It is trained from the labelled
sentences in data/intents/ by scripts/build_intent_model.py into core/intent_model.npz; nothing is
downloaded. Without the local model installed there is no classifier and the rules decide alone.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from threadpoolctl import ThreadpoolController

from core.intents import Intent

if TYPE_CHECKING:
    from core.minilm import MiniLMEncoder

log = logging.getLogger(__name__)

WEIGHTS = Path(__file__).with_name("intent_model.npz")

# What a message can be. The tools, then the kinds of message that change nothing.
TOOL_LABELS = ("create_task", "create_event", "complete_task", "delete_task", "update_task", "update_event",
               "cancel_event", "list_tasks", "list_events", "check_availability", "remember", "search_memory",
               "forget", "set_digest", "set_timezone", "cancel_events", "correct_last", "about_me")
# chat: small talk, thanks, complaints, news about the past, hypotheticals, negations;
# cannot_do: an errand in the world Pixie cannot run itself ("book me a table somewhere nice").
# time_now: "what time is it?" (answered from the clock, nothing looked up).
TALK_LABELS = ("chat", "help", "out_of_scope", "cannot_do", "unknown", "time_now")
LABELS = TOOL_LABELS + TALK_LABELS


# A quoted title is a name, not a wish: 'delete "cancel the gym"' is a delete, whatever the title says.
_QUOTED = re.compile(r"\"[^\"]{2,}\"|“[^”]{2,}”")


def view(text: str) -> str:
    """The text as the classifier reads it: lower case, a quoted title read as "it"."""
    return _QUOTED.sub("it", text).lower()


def rule_label(intent: Intent) -> str:
    """The label of what the rules read (a tool, or the kind of reply they chose)."""
    if intent.tool is not None:
        return intent.tool if intent.tool in TOOL_LABELS else "unknown"
    kind = intent.reply_kind or "unknown"
    talk = {"greeting": "chat", "thanks": "chat", "bye": "chat", "ack": "chat"}
    return talk.get(kind, kind if kind in LABELS else "unknown")


# Said to be done on the user's behalf ("… for me", "get me a …", "book us …"): two words a sentence vector
# hardly weighs, which alone part "buy a present for Jo for me" (an errand) from "buy a present for Jo" (a task).
_ERRAND = re.compile(r"\b(?:for\s+(?:me|us)\b(?!\s+to\b)|on\s+(?:my|our)\s+behalf|(?:get|book|order|find|buy|fetch|grab"
                     r"|reserve)\s+(?:me|us)\b)")


# Said to be kept for the user to do ("add …", "put … on my list", "note to self", "remind me"): the other side.
_MINE = re.compile(r"^(?:(?:please|pls|can\s+you|could\s+you)\s+)?(?:add|put|stick|chuck|pop|jot)\b"
                   r"|\bon\s+(?:my|the)\s+(?:list|to-?do|todos?|to-do\s+list)\b|\bnote\s+to\s+self\b|\bremind\s+me\b"
                   r"|\bdon'?t\s+let\s+me\s+forget\b")
CUES = 2  # the columns after the rules' one-hot: an errand said, a chore kept said


def features(vectors: np.ndarray, rule_labels: list[str], rule_scale: float, texts: list[str]) -> np.ndarray:
    """The classifier's input rows: sentence vector, the rules' reading one-hot, then whether an errand is said
    and whether a chore to keep is said (all scaled)."""
    onehot = np.zeros((len(rule_labels), len(LABELS) + CUES), dtype=np.float32)
    for row, (label, text) in enumerate(zip(rule_labels, texts, strict=True)):
        seen = view(text)
        onehot[row, LABELS.index(label)] = rule_scale
        onehot[row, -2] = rule_scale if _ERRAND.search(seen) else 0.0
        onehot[row, -1] = rule_scale if _MINE.search(seen) else 0.0
    return np.concatenate([vectors.astype(np.float32), onehot], axis=1)


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax."""
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


@dataclass(frozen=True)
class Reading:
    """The classifier's answer: every label's probability, best first."""

    ranked: tuple[tuple[str, float], ...]

    @property
    def label(self) -> str:
        """The most likely label."""
        return self.ranked[0][0]

    @property
    def confidence(self) -> float:
        """The most likely label's probability."""
        return self.ranked[0][1]

    def p(self, label: str) -> float:
        """One label's probability."""
        return next((p for name, p in self.ranked if name == label), 0.0)


class IntentModel:
    """The trained weights with the encoder they were trained on."""

    def __init__(self, encoder: MiniLMEncoder, weights: np.ndarray, bias: np.ndarray, layers: int,
                 rule_scale: float) -> None:
        self.encoder = encoder
        self.weights = weights
        self.bias = bias
        self.layers = layers
        self.rule_scale = rule_scale

    def vectors(self, texts: list[str]) -> np.ndarray:
        """Sentence vectors as the classifier was trained on them.

        One short sentence is a few small matrix products: one BLAS thread does them in ~5 ms, where
        threads that wait on each other on a busy machine took 30 ms and more (measured on 2 cores).
        """
        with _blas().limit(limits=1, user_api="blas"):
            return self.encoder.encode([view(t) for t in texts], layers=self.layers)

    def read(self, text: str, rules: str) -> Reading:
        """How likely each label is for `text`, given what the rules read (`rules`, a label)."""
        x = features(self.vectors([text]), [rules], self.rule_scale, [text])
        probs = softmax(x @ self.weights + self.bias)[0]
        order = np.argsort(-probs)
        return Reading(tuple((LABELS[i], float(probs[i])) for i in order))


_lock = threading.Lock()


@functools.cache
def _blas() -> ThreadpoolController:
    return ThreadpoolController()


@functools.cache
def _load() -> IntentModel | None:
    from core.embeddings import local_model_installed

    if not local_model_installed() or not WEIGHTS.exists():
        return None
    try:
        from core.minilm import shared_encoder

        data = np.load(WEIGHTS, allow_pickle=False)
        if tuple(str(x) for x in data["labels"]) != LABELS:
            log.warning("%s was built for other labels: rebuild it (scripts/build_intent_model.py)", WEIGHTS)
            return None
        encoder = shared_encoder()
        if data["weights"].shape[0] != encoder.dim + len(LABELS) + CUES:
            log.warning("%s was built for other features: rebuild it (scripts/build_intent_model.py)", WEIGHTS)
            return None
        return IntentModel(encoder, data["weights"], data["bias"], int(data["layers"]),
                           float(data["rule_scale"]))
    except Exception:  # a broken install must not stop the rules from answering
        log.exception("the intent classifier could not load: the offline rules decide alone")
        return None


def intent_model() -> IntentModel | None:
    """The classifier, loaded once per process (about 0.3 s); None when the local model is not installed."""
    with _lock:
        return _load()


__all__ = ["LABELS", "TALK_LABELS", "TOOL_LABELS", "IntentModel", "Reading", "features", "intent_model",
           "rule_label", "softmax", "view"]
