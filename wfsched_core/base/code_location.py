"""Where in an author's code something went wrong: ``/full/path/module.py:LINE``.

A workflow module that fails to import, or a plugin's hook that raises, is reported with
the file and line of the author's code, so the author can go there directly instead of
reading wfsched's own frames (or importlib's) first.
"""

from __future__ import annotations

import inspect
from collections.abc import Collection
from types import TracebackType
from typing import Any

# Frames of the import machinery: never where the author's mistake is.
_MACHINERY = ("<frozen importlib", "importlib/__init__.py", "importlib/metadata")


def raise_site(exc: BaseException, prefer: Collection[str] = ()) -> str | None:
    """``path:line`` where ``exc`` was raised: for a ``SyntaxError``, the offending line;
    else the deepest frame in one of the files ``prefer`` names (a plugin's own module,
    when the error came from a library it called), or the deepest frame outside the
    import machinery. None when the traceback holds no such frame."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}:{exc.lineno}" if exc.lineno else exc.filename
    frames = [(f.f_code.co_filename, line) for f, line in _walk(exc.__traceback__)
              if not any(m in f.f_code.co_filename for m in _MACHINERY)]
    if not frames:
        return None
    preferred = [frame for frame in frames if frame[0] in prefer]
    path, line = (preferred or frames)[-1]
    return f"{path}:{line}"


def definition_site(obj: Any) -> str | None:
    """``path:line`` where a class or function is defined (None when unknown)."""
    try:
        path = inspect.getsourcefile(obj) or inspect.getfile(obj)
        _, line = inspect.getsourcelines(obj)
    except (TypeError, OSError):
        return None
    return f"{path}:{line}"


def _walk(tb: TracebackType | None) -> list[tuple[Any, int]]:
    frames = []
    while tb is not None:
        frames.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    return frames
