"""``results.json`` read against its schema: what the reports may trust, and why a file is left out.

:func:`read_run` parses one file with pydantic (:class:`ResultsFile`): JSON that does not parse, a
field missing or of the wrong type (an accuracy given as a string, outside [0, 1], an accuracy
matrix whose rows differ in length) makes it a :class:`LeftOut` with the file and the reason. For a
complete run, ``final`` is recomputed from ``accuracy_matrix``
(:func:`laftr_cl.run.results.cl_metrics`); a file whose ``final`` disagrees with its own matrix (edited
by hand, or written by other code) is left out too. The reports average only what
:func:`read_run` returns as a run.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from laftr_cl.run.results import cl_metrics

Accuracy = Annotated[float, Field(strict=True, ge=0.0, le=1.0)]
"""A fraction in [0, 1]; a string or a boolean is no accuracy."""
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
TOLERANCE = 1e-9
"""How far a stored ``final`` metric may be from the one recomputed from the matrix (float rounding)."""


class Final(BaseModel):
    """``final``: the continual-learning metrics of the run (None where they do not apply)."""

    model_config = ConfigDict(extra="allow")
    average_accuracy: Number | None = None
    backward_transfer: Number | None = None
    forgetting: Number | None = None


class ResultsFile(BaseModel):
    """The fields of ``results.json`` the reports read (others are kept as they are)."""

    model_config = ConfigDict(extra="allow")
    config: dict[str, Any]
    accuracy_matrix: list[list[Accuracy]]
    final: Final
    complete: bool
    status: Literal["running", "completed", "failed", "interrupted"] | None = None
    average_accuracy_per_task: list[Accuracy] = []
    summary_memory_bytes: dict[str, Annotated[int, Field(strict=True, ge=0)]] | None = None
    wall_time_s: Number | None = None
    benchmark: dict[str, Any] | None = None
    error: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _rectangular(self) -> "ResultsFile":
        widths = {len(row) for row in self.accuracy_matrix}
        if len(widths) > 1:
            raise ValueError(f"accuracy_matrix rows have different lengths {sorted(widths)}")
        if self.complete and not self.accuracy_matrix:
            raise ValueError("complete is true but accuracy_matrix is empty")
        return self


@dataclass(frozen=True)
class LeftOut:
    """A file the reports do not average: its ``path`` and ``reason`` (one line)."""

    path: str
    reason: str


def _first_error(err: ValidationError) -> str:
    problem = err.errors()[0]
    where = ".".join(str(p) for p in problem["loc"]) or "the top level"
    value = problem.get("input")
    shown = f" (got {json.dumps(value)[:60]})" if value is not None and not isinstance(value, dict) else ""
    more = f"; {err.error_count() - 1} more problem(s)" if err.error_count() > 1 else ""
    return f"{where}: {problem['msg']}{shown}{more}"


def read_run(path: str | Path) -> dict[str, Any] | LeftOut:
    """The payload of ``path`` (with ``path`` added, ``final`` as recomputed from the matrix for a
    complete run), or a :class:`LeftOut` saying why it cannot be used."""
    path = Path(path)
    try:
        payload = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as err:
        return LeftOut(str(path), f"unreadable ({err.strerror or err})")
    except json.JSONDecodeError as err:
        return LeftOut(str(path), f"not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})")
    if not isinstance(payload, dict):
        return LeftOut(str(path), "not a laftr-cl results file (its JSON is not an object)")
    if "loss_changes" in payload or "curves" in payload:
        return LeftOut(str(path), "a results.json of the influence studies (scripts/influence.py, scripts/mislabeled.py), "
                                  "not of a laftr-cl run: `python scripts/influence_table.py FOLDER` tabulates those")
    try:
        parsed = ResultsFile.model_validate(payload)
    except ValidationError as err:
        return LeftOut(str(path), f"not a laftr-cl results file as this version writes them: {_first_error(err)}")
    payload["path"] = str(path)
    if parsed.complete:
        recomputed = cl_metrics(parsed.accuracy_matrix)
        for key, value in recomputed.items():
            stored = getattr(parsed.final, key)
            if (value is None) != (stored is None) or (value is not None and not math.isclose(
                    value, stored, rel_tol=0, abs_tol=TOLERANCE)):
                return LeftOut(str(path), f"final.{key}={stored} disagrees with its accuracy_matrix, which gives "
                                          f"{value}: the file was edited or written by other code")
        payload["final"] = {**payload["final"], **recomputed}
    return payload
