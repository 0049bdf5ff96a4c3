"""How a refused or failed run is worded on the console: one paragraph, with the corrected command.

A :class:`ConfigError` may carry the ``setting`` it refuses and an example
``fix`` (``laftr-cl ... <fix>`` in its text); :func:`paragraph` turns that example into the user's
own command with the bad override replaced. ``LAFTR_CL_TRACEBACK=1`` re-raises instead, to show
the traceback.
"""
from __future__ import annotations

import difflib
import os
import shlex
import sys
from typing import Any, Iterable, NoReturn

from omegaconf import DictConfig, ListConfig, OmegaConf

TRACEBACK_ENV = "LAFTR_CL_TRACEBACK"


def show_traceback() -> bool:
    """Whether the user asked for tracebacks instead of paragraphs (``LAFTR_CL_TRACEBACK=1``)."""
    return os.environ.get(TRACEBACK_ENV) == "1"


def paragraph(err: BaseException, argv: list[str] | None = None) -> str:
    """``err`` as one line of text, its example fix turned into the corrected ``laftr-cl`` command
    (``argv``: the command's arguments, default ``sys.argv[1:]``)."""
    message = " ".join(str(err).split())
    setting, fix = getattr(err, "setting", None), getattr(err, "fix", None)
    if fix:
        command = corrected_command(sys.argv[1:] if argv is None else argv, setting, fix)
        message = message.replace(f"`laftr-cl ... {fix}`", f"`{command}`")
    return message


def corrected_command(argv: list[str], setting: str | None, fix: str) -> str:
    """``laftr-cl`` with ``argv``'s override of ``setting`` (and any override of the key ``fix`` sets)
    replaced by ``fix`` (dropped for ``~…``)."""
    def key(arg: str) -> str:
        return arg.split("=", 1)[0].lstrip("+~")

    replaced = {setting, key(fix)}  # the bad override, and one that sets what the fix sets (its parent mapping)
    kept = [a for a in argv if key(a) not in replaced]
    fixed = kept if fix.startswith("~") and len(kept) < len(argv) else [*kept, fix]
    return " ".join(["laftr-cl", *(shlex.quote(a) for a in fixed)])


class ConfigError(ValueError):
    """A setting of the run config is invalid; the message says which and how to fix it.

    ``setting`` is the dotted key and ``fix`` a command-line override that fixes it (when known):
    the CLI turns them into a corrected command.
    """

    def __init__(self, message: str, setting: str | None = None, fix: str | None = None) -> None:
        super().__init__(message)
        self.setting, self.fix = setting, fix


def closest(name: str, names: Iterable[str]) -> str:
    """``" Did you mean 'x'?"`` for the closest of ``names`` to a typo ``name``, or ``""``."""
    match = difflib.get_close_matches(str(name), list(names), n=1, cutoff=0.6)
    return f" Did you mean {match[0]!r}?" if match else ""


def fail(setting: str, value: Any, allowed: str, fix: str, hint: str = "") -> NoReturn:
    """Raises the :class:`ConfigError` for ``setting=value`` (``allowed``: what is, in words)."""
    shown = OmegaConf.to_container(value) if isinstance(value, (DictConfig, ListConfig)) else value
    raise ConfigError(
        f"Invalid setting {setting}={shown!r}: {allowed}.{hint} Fix it on the command line, "
        f"e.g. `laftr-cl ... {fix}`, or in the config file that sets it.", setting, fix)
