"""Train the offline brain's intent classifier from data/intents/train.txt into core/intent_model.npz.

Run: uv run python scripts/build_intent_model.py [--layers 3] [--rule-scale 0.5] [--l2 1e-5] [--cv 5]

A softmax regression (numpy, full-batch gradient descent with Adam) over the bundled MiniLM's
sentence vector and the rules' one-hot reading. Classes are weighted by their size so that a
label with few examples still counts. Deterministic: the same data gives the same weights.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.intent_model import LABELS, TALK_LABELS, WEIGHTS, softmax  # noqa: E402
from core.minilm import MiniLMEncoder  # noqa: E402
from core.tools import TOOLS  # noqa: E402
from scripts.intent_data import DATA, load, matrix  # noqa: E402

# Sentences that judge the model and must never train it (data/intents/heldout*.txt and the stories' set).
HELD_OUT = sorted(DATA.glob("heldout*.txt")) + [DATA.parent.parent / "tests" / "data" / "intents_stories_heldout.txt"]


def train(x: np.ndarray, y: np.ndarray, l2: float, steps: int = 1500,
          lr: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Weights and bias of a class-weighted, L2-regularised softmax regression."""
    n, d = x.shape
    k = len(LABELS)
    counts = np.bincount(y, minlength=k).astype(np.float64)
    weight = np.where(counts > 0, n / (k * np.maximum(counts, 1)), 0.0)[y][:, None]
    onehot = np.eye(k)[y]
    w, b = np.zeros((d, k)), np.zeros(k)
    mw, vw, mb, vb = np.zeros_like(w), np.zeros_like(w), np.zeros_like(b), np.zeros_like(b)
    for t in range(1, steps + 1):
        p = softmax(x @ w + b)
        g = (p - onehot) * weight / n
        gw, gb = x.T @ g + l2 * w, g.sum(0)
        for param, grad, m, v in ((w, gw, mw, vw), (b, gb, mb, vb)):
            m *= 0.9
            m += 0.1 * grad
            v *= 0.999
            v += 0.001 * grad * grad
            param -= lr * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
    return w.astype(np.float32), b.astype(np.float32)


def cross_validate(x: np.ndarray, y: np.ndarray, l2: float, folds: int) -> float:
    """Accuracy on each held-back fold of the training data (chooses the settings without the held-out set).

    Also prints, per confidence threshold, how many held-back writes would be asked about first and how
    many held-back messages that must change nothing would still be written (picks safety.CONFIDENT).
    """
    order = np.random.default_rng(0).permutation(len(y))
    probs = np.zeros((len(y), len(LABELS)))
    for k in range(folds):
        test = order[k::folds]
        fit = np.setdiff1d(order, test)
        w, b = train(x[fit], y[fit], l2)
        probs[test] = softmax(x[test] @ w + b)
    guess, p = probs.argmax(1), probs.max(1)
    writes = np.array([LABELS[g] in TOOLS and TOOLS[LABELS[g]].changes for g in guess])
    talk = np.array([LABELS[t] in TALK_LABELS for t in y])
    for threshold in (0.3, 0.4, 0.5, 0.6, 0.7):
        asked = int((writes & (p < threshold) & ~talk).sum())
        unsafe = int((writes & (p >= threshold) & talk).sum())
        wrong = int((writes & (p >= threshold) & ~talk & (guess != y)).sum())
        print(f"  threshold {threshold}: writes asked about {asked}/{int((~talk).sum())}, "
              f"talk written {unsafe}/{int(talk.sum())}, wrong writes made {wrong}")
    return float((guess == y).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=3, help="MiniLM layers to run (1-6): fewer is faster")
    parser.add_argument("--rule-scale", type=float, default=0.5, help="how loud the rules' reading is")
    parser.add_argument("--l2", type=float, default=1e-5)
    parser.add_argument("--out", type=Path, default=WEIGHTS)
    parser.add_argument("--cv", type=int, default=0, help="only report K-fold accuracy of the training data")
    args = parser.parse_args()
    pairs = load(DATA / "train.txt")
    held = {s.lower() for path in HELD_OUT for _, s in load(path, strict=False)}
    overlap = [s for _, s in pairs if s.lower() in held]
    if overlap:
        raise SystemExit(f"held-out sentences in the training data: {overlap}")
    started = time.perf_counter()
    x = matrix(MiniLMEncoder(), [s for _, s in pairs], args.layers, args.rule_scale)
    y = np.array([LABELS.index(label) for label, _ in pairs])
    if args.cv:
        print(f"{args.cv}-fold accuracy: {cross_validate(x, y, args.l2, args.cv):.1%} "
              f"(layers {args.layers}, rule scale {args.rule_scale}, l2 {args.l2})")
        return
    w, b = train(x, y, args.l2)
    accuracy = float((np.argmax(x @ w + b, axis=1) == y).mean())
    np.savez_compressed(args.out, weights=w, bias=b, labels=np.array(LABELS), layers=np.array(args.layers),
                        rule_scale=np.array(args.rule_scale, dtype=np.float32))
    print(f"{len(pairs)} sentences, {len(set(y.tolist()))} labels, training accuracy {accuracy:.1%}, "
          f"{time.perf_counter() - started:.1f} s → {args.out}")


if __name__ == "__main__":
    main()
