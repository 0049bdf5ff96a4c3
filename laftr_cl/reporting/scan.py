"""Finding the runs below a folder: every ``results.json`` (:attr:`RunFolder.RESULTS`), complete or not."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from laftr_cl.run.folder import RunFolder


def scan_results(folder: str | Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(complete, left_out)``: the complete ``results.json`` below ``folder`` (oldest first) and
    the others (failed or unfinished), each with its ``path``."""
    complete, left_out = [], []
    paths = sorted(Path(folder).rglob(RunFolder.RESULTS), key=lambda p: (p.stat().st_mtime, str(p)))
    for path in paths:
        payload = json.loads(path.read_text())
        payload["path"] = str(path)
        (complete if payload.get("complete") else left_out).append(payload)
    return complete, left_out


def load_results(folder: str | Path) -> list[dict[str, Any]]:
    """Every complete ``results.json`` below ``folder`` (failed and unfinished runs are left out)."""
    return scan_results(folder)[0]
