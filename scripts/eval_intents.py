"""Measure the offline brain's decisions on held-out sentences: the rules alone (before) and rules + classifier.

Run: uv run python scripts/eval_intents.py [--file data/intents/heldout.txt] [--weights core/intent_model.npz] [-v]

Reports, for each: how often the kind of request is right, how many messages that must change
nothing would have written without asking (unsafe), how many real requests would be asked about
first (a cost, not a failure), and the time per message.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.intent_model import LABELS, WEIGHTS, IntentModel  # noqa: E402
from core.minilm import MiniLMEncoder  # noqa: E402
from core.tools import TOOLS  # noqa: E402
from core.understand import CONFIDENT, understand  # noqa: E402
from scripts.intent_data import DATA, NOW, load  # noqa: E402

NO_WRITE = {"chat", "help", "out_of_scope", "unknown", "cannot_do", "time_now"}


def writes(tool: str | None) -> bool:
    """Whether a tool changes user data."""
    return tool is not None and tool in TOOLS and TOOLS[tool].changes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=DATA / "heldout.txt")
    parser.add_argument("--weights", type=Path, default=WEIGHTS)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    data = np.load(args.weights)
    model = IntentModel(MiniLMEncoder(), data["weights"], data["bias"], int(data["layers"]), float(data["rule_scale"]))
    model.read("warm up", "unknown")
    pairs = load(args.file, strict=False)
    rows = {"rules alone": [0, 0, 0, 0.0], "rules + classifier": [0, 0, 0, 0.0]}  # right, unsafe, asked, seconds
    for gold, text in pairs:
        for name, chosen in (("rules alone", False), ("rules + classifier", model)):
            started = time.perf_counter()
            got = understand(text, NOW, chosen)
            rows[name][3] += time.perf_counter() - started
            label = got.label if chosen is not False else got.rules
            asks = writes(got.intent.tool) and got.confidence < CONFIDENT
            unsafe = gold in NO_WRITE and writes(got.intent.tool) and not asks
            rows[name][0] += label == gold
            rows[name][1] += unsafe
            rows[name][2] += asks and gold not in NO_WRITE
            if args.verbose and (label != gold or unsafe) and chosen is not False:
                print(f"  {gold:>18} → {label:<18} p={got.confidence:.2f} rules={got.rules:<18} {text}")
    n = len(pairs)
    must_not = sum(1 for g, _ in pairs if g in NO_WRITE)
    print(f"{args.file.name}: {n} sentences, {must_not} of them must change nothing; "
          f"{int(data['layers'])} MiniLM layers; {len(LABELS)} labels")
    for name, (right, unsafe, asked, seconds) in rows.items():
        print(f"{name:>20}: kind right {right}/{n} ({right / n:.1%}), unsafe writes {unsafe}, "
              f"real requests asked about first {asked}, {seconds / n * 1000:.1f} ms per message")


if __name__ == "__main__":
    main()
