"""Write docs/hooks.md from the docstrings of wfsched_core/framework/hookspecs.py.

Run ``python scripts/hooks_doc.py`` after changing a hook; tests/test_hooks_meta.py fails
when the page is out of date.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

from wfsched_core.framework import hookspecs

PAGE = Path(__file__).resolve().parents[1] / "docs" / "hooks.md"


def render() -> str:
    lines = [
        "# Hooks",
        "",
        "Generated from `wfsched_core/framework/hookspecs.py` by `scripts/hooks_doc.py`; edit the",
        "docstrings there. A plugin implements any of these with `@wfsched_core.hookimpl`",
        "and announces itself in the `wfsched.plugins` entry-point group.",
        "",
        inspect.getdoc(hookspecs) or "",
        "",
    ]
    for name in hookspecs.ALL_HOOKS:
        function = getattr(hookspecs, name)
        signature = str(inspect.signature(function)).replace("'", "")
        options = getattr(function, "wfsched_spec", {}) or {}
        first = " (first result wins)" if options.get("firstresult") else ""
        lines += [f"## `{name}{signature}`{first}", "", inspect.getdoc(function) or "", ""]
    events = ", ".join(f"`{event}` ({hook})" for event, hook in hookspecs.EVENT_HOOKS.items())
    lines += ["## Event names", "", f"Notifier configuration uses these names: {events}.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    if "--check" in sys.argv:
        sys.exit(0 if PAGE.read_text() == render() else 1)
    PAGE.write_text(render())
    print(f"wrote {PAGE}")
