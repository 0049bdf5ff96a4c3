"""What each method keeps after the last task, by kind: the buffer's examples, stored logits, summaries,
and parameter-sized copies (θ snapshots, importances); mean over the runs of each group::

    python scripts/classil_bytes.py logs/classil/split_mnist/b200

A part is classed by its name in ``summary_memory_bytes`` (``replay.examples`` → buffer, ``der.logits``
→ logits, ``laftr.snapshot`` → θ copies, ``laftr.rates``/``inputs``/``class_means`` → summaries).
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from laftr_cl.reporting.groups import FIXED, differing_settings, group_runs  # noqa: E402
from laftr_cl.reporting.scan import scan_results  # noqa: E402

KINDS = {"examples": "buffer", "logits": "logits", "snapshot": "θ-sized", "importances": "θ-sized"}
COLUMNS = ("buffer", "logits", "summaries", "θ-sized")


def by_kind(memory: dict[str, int] | None) -> dict[str, int]:
    """``summary_memory_bytes`` → bytes per kind of :data:`COLUMNS`."""
    kinds = dict.fromkeys(COLUMNS, 0)
    for key, value in (memory or {}).items():
        if key != "total":
            kinds[KINDS.get(key.rsplit(".", 1)[-1], "summaries")] += value
    return kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    args = parser.parse_args()
    runs, _ = scan_results(args.folder)
    print("| method | " + " | ".join(f"{c} (bytes)" for c in COLUMNS) + " | total (bytes) |")
    print("| --- " * (len(COLUMNS) + 2) + "|")
    rows = []
    groups = group_runs(runs, duplicates="latest")
    columns = [key for key in differing_settings([settings for settings, _ in groups]) if key not in FIXED]
    for settings, members in groups:
        kinds = [by_kind(run.get("summary_memory_bytes")) for run in members]
        means = {c: statistics.fmean(k[c] for k in kinds) for c in COLUMNS}
        label = ", ".join([settings["regularizer.name"]] + [f"{k.rsplit('.', 1)[-1]}={settings[k]}" for k in columns
                                                           if settings.get(k) is not None])
        rows.append((label, means))
    for name, means in sorted(rows, key=lambda r: sum(r[1].values())):
        cells = " | ".join(f"{means[c]:,.0f}" for c in COLUMNS)
        print(f"| {name} | {cells} | {sum(means.values()):,.0f} |")


if __name__ == "__main__":
    main()
