"""The ``detached`` spawn strategy: workers that survive the scheduler's death and restart."""

__version__ = "0.1.0"
