"""A workflow module that raises on import."""

raise RuntimeError("this workflow module is broken on purpose")
