"""Finding the runs below a folder: every ``results.json`` (:attr:`RunFolder.RESULTS`), read against
its schema (:mod:`laftr_cl.reporting.schema`)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from laftr_cl.reporting.schema import LeftOut, read_run
from laftr_cl.run.folder import RunFolder


def scan_results(folder: str | Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(complete, left_out)``: the complete runs below ``folder`` (oldest first, ``final`` recomputed
    from each one's accuracy matrix) and the rest, each with its ``path``: failed or unfinished runs
    as they are, files that cannot be used as ``{"path", "reason"}``."""
    complete, left_out = [], []
    paths = sorted(Path(folder).rglob(RunFolder.RESULTS), key=lambda p: (p.stat().st_mtime, str(p)))
    for path in paths:
        payload = read_run(path)
        if isinstance(payload, LeftOut):
            left_out.append({"path": payload.path, "reason": payload.reason})
        else:
            (complete if payload.get("complete") else left_out).append(payload)
    return complete, left_out


def load_results(folder: str | Path) -> list[dict[str, Any]]:
    """Every complete ``results.json`` below ``folder`` (failed, unfinished and unusable files are left out)."""
    return scan_results(folder)[0]


def left_out_reason(run: dict[str, Any]) -> str:
    """Why ``run`` (an entry of :func:`scan_results`'s ``left_out``) is not in the table, in one line."""
    if "reason" in run:
        return run["reason"]
    if run.get("status") == "failed":
        return f"failed: {((run.get('error') or {}).get('message') or '').splitlines()[0][:200]}"
    return "interrupted" if run.get("status") == "interrupted" else "unfinished (interrupted or still running)"
