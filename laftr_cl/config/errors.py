"""How a refused or failed run is worded on the console: one paragraph, with the corrected command.

A :class:`~laftr_cl.config.checks.ConfigError` may carry the ``setting`` it refuses and an example
``fix`` (``laftr-cl ... <fix>`` in its text); :func:`paragraph` turns that example into the user's
own command with the bad override replaced. ``LAFTR_CL_TRACEBACK=1`` re-raises instead, to show
the traceback.
"""
from __future__ import annotations

import os
import shlex
import sys

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
    """``laftr-cl`` with ``argv``'s override of ``setting`` replaced by ``fix`` (dropped for ``~…``)."""
    def key(arg: str) -> str:
        return arg.split("=", 1)[0].lstrip("+~")

    kept = [a for a in argv if setting is None or key(a) != setting]
    fixed = kept if fix.startswith("~") and len(kept) < len(argv) else [*kept, fix]
    return " ".join(["laftr-cl", *(shlex.quote(a) for a in fixed)])
