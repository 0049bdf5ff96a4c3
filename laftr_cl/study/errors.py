"""How the study scripts report bad input: one line naming the setting, exit status 2, no traceback."""
from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator

from laftr_cl.config.checks import ConfigError


@contextmanager
def reported(program: str) -> Iterator[None]:
    """Runs the block; a ConfigError, ValueError or FileNotFoundError is printed as ``<program>: <message>``
    on stderr and ends the process with status 2."""
    try:
        yield
    except (ConfigError, ValueError, FileNotFoundError) as err:
        print(f"{program}: {err}", file=sys.stderr)
        raise SystemExit(2) from None
