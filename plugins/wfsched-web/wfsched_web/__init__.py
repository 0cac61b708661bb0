"""wfsched-web: a dashboard served by ``wfsched web`` (pages, a JSON API, OpenAPI)."""

from __future__ import annotations

__version__ = "0.1.0"
