"""The rule when several distributions announce one workflow name.

None of them runs until the user picks one with ``[workflows.NAME] distribution = "..."``
(docs/decisions.md says why: installing a package must never silently change which code
runs under a name, and no order of distributions — alphabetical, install time, sys.path —
says which one the user meant). With that pin, the pinned distribution's workflow runs and
each other one is listed as broken with the reason; a pin naming a distribution that does
not announce the name breaks the name, so the workflow a user pinned away from never runs
by accident.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Announcement:
    """One distribution's (or plugin's) claim to a workflow name."""

    name: str
    distribution: str  # the distribution's name, or the plugin's when it has none
    source: str  # what ``workflows list`` shows: "dist version (module:Class)"


@dataclass(frozen=True)
class Verdict:
    """Who runs under a contested name (None: nobody) and why each other one does not."""

    winner: Announcement | None
    refused: list[tuple[Announcement, str]]  # each loser with its reason
    reason: str | None = None  # why nobody runs (winner None)


def normalized(distribution: str) -> str:
    """A distribution name as pip compares them (PEP 503: case, ``-``, ``_`` and ``.``)."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


def settle(name: str, announcements: list[Announcement], pin: str | None,
           where: str) -> Verdict:
    """Apply the rule to the announcements of ``name`` (``pin``: the distribution chosen in
    the config file ``where``, if any)."""
    table = f"[workflows.{name}] distribution"
    # sorted for the messages only: which one runs never depends on an order
    announcements = sorted(announcements, key=lambda a: normalized(a.distribution))
    if pin is None:
        if len(announcements) == 1:
            return Verdict(announcements[0], [])
        sources = "; ".join(a.source for a in announcements)
        reason = (f"announced by {len(announcements)} distributions ({sources}): none runs "
                  f"until you choose one with {table} = \"...\" in {where}")
        return Verdict(None, [(a, reason) for a in announcements], reason)
    chosen = [a for a in announcements if normalized(a.distribution) == normalized(pin)]
    if len(chosen) != 1:
        found = ", ".join(a.distribution for a in announcements)
        reason = (f"{table} = {pin!r} in {where}, but "
                  + ("that distribution announces it more than once" if chosen else
                     f"it is announced by {found} only"))
        return Verdict(None, [(a, reason) for a in announcements], reason)
    winner = chosen[0]
    return Verdict(winner, [
        (a, f"name {name!r} is taken by {winner.source}, chosen with {table} = {pin!r} "
            f"in {where}") for a in announcements if a is not winner])
