"""The project's tables (the studies' and `laftr-cl-compare`'s): Markdown tables by column spec, and CSV.
JSON files are written by :func:`laftr_cl.run.atomic.write_json_atomic` (one NaN policy)."""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

Column = tuple[str, str, str]
"""``(row key, header, format spec)``, e.g. ``("pearson", "Pearson", ".3f")``."""


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column]) -> str:
    """A Markdown table with one line per row; numbers formatted with each column's spec (NaN as ``–``,
    booleans as yes/no)."""

    def cell(value: Any, spec: str) -> str:
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, float) and math.isnan(value):
            return "–"
        return format(value, spec) if spec and isinstance(value, (int, float)) else str(value)

    lines = ["| " + " | ".join(header for _, header, _ in columns) + " |",
             "|" + "|".join(" --- " for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell(row[key], spec) for key, _, spec in columns) + " |" for row in rows]
    return "\n".join(lines)


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """``rows`` as CSV with a header line (the first row's keys)."""
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else [])
        writer.writeheader()
        writer.writerows(rows)
