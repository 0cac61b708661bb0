"""Who may approve a step: ``@step(approval="ops")`` names users or Unix groups.

The approver is the operating-system user running ``wfsched approve`` (the same account
the operator logs in with; nothing the command line could simply claim). A name in the
step's list matches that user, or a Unix group the user belongs to (primary or
supplementary), so "ops" can be a team managed where accounts already are.
"""

from __future__ import annotations

import getpass
import os


def current_user() -> str:
    """The operating-system user running this command."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        return f"uid-{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def approver_names(approval: bool | str | None) -> str | None:
    """A step's ``approval`` as stored: None for anyone, else the names, comma-separated."""
    if approval is None or approval is True or approval is False:
        return None
    names = [name.strip() for name in str(approval).split(",") if name.strip()]
    return ",".join(names) or None


def may_approve(user: str, approvers: str | None) -> bool:
    """Whether ``user`` is one of ``approvers`` (or in one of those groups); anyone when
    there are none."""
    if not approvers:
        return True
    names = {name.strip() for name in approvers.split(",") if name.strip()}
    return user in names or bool(names & _groups_of(user))


def _groups_of(user: str) -> set[str]:
    try:
        import grp
        import pwd
    except ImportError:  # Windows: users only
        return set()
    groups = {g.gr_name for g in grp.getgrall() if user in g.gr_mem}
    try:
        groups.add(grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name)
    except KeyError:
        pass
    return groups
