"""Logger factories the Hydra ``logger/`` configs point at (Avalanche's loggers do the work)."""
from __future__ import annotations

from pathlib import Path

from avalanche.logging import TextLogger


def text_file_logger(path: str) -> TextLogger:
    """Avalanche's ``TextLogger`` writing to ``path`` (created with its folder; appended to)."""
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    return TextLogger(open(file, "a", buffering=1))
