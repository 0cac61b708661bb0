"""The schema revision this code expects, without importing SQLAlchemy (the commands on
``store/sqlite_direct.py`` check it by hand); tests check it is the migrations' head."""

from __future__ import annotations

SCHEMA_REVISION = "0007"
