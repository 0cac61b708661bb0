"""What ``wfsched deploy`` checks before the file is installed: can the service user reach
this installation?

A render names paths of the installation it runs in (its interpreter, the ``wfsched``
script, the configuration) and a data directory. Installed under ``/root`` or a home
directory of mode 0700, they are unreachable for ``User=wfsched``, and the service fails
on its first start with a bare "Permission denied"; said here, it costs nothing. The check
reads permission bits (owner, group, other) along every directory of each path, as the
kernel would for that user; ACLs and capabilities are not read, so a warning may be
pessimistic, never silent about plain modes.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wfsched_core.cli.deploy_commands import DeployValues

READ, WRITE, SEARCH = 4, 2, 1
_WANTS = {READ: "read", WRITE: "write", SEARCH: "enter"}


@dataclass(frozen=True)
class Account:
    """Who the service runs as: uid and groups (``None``: an account not created yet,
    which will own nothing and belong to no group but its own)."""

    name: str
    uid: int | None
    groups: frozenset[int]

    @classmethod
    def lookup(cls, name: str) -> Account:
        try:
            import grp
            import pwd
        except ImportError:  # pragma: no cover - Windows: no service users to check
            return cls(name, None, frozenset())
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            return cls(name, None, frozenset())
        groups = {entry.pw_gid} | {g.gr_gid for g in grp.getgrall() if name in g.gr_mem}
        return cls(name, entry.pw_uid, frozenset(groups))

    def may(self, info: os.stat_result, want: int) -> bool:
        """Whether the mode bits of ``info`` grant ``want`` to this account."""
        if self.uid == 0:
            return True
        if self.uid is not None and info.st_uid == self.uid:
            bits = info.st_mode >> 6
        elif info.st_gid in self.groups:
            bits = info.st_mode >> 3
        else:
            bits = info.st_mode
        return bits & want == want


def access_problem(account: Account, path: Path, want: int, what: str) -> str | None:
    """Why ``account`` cannot ``want`` ``path`` (``what`` names it), or ``None``.

    Every directory above must be searchable; a path that does not exist yet is judged
    by the directories that do (``install -d`` creates the rest for the account)."""
    path = Path(os.path.abspath(path))
    for candidate in dict.fromkeys([path, path.resolve()]):
        chain = [*reversed(candidate.parents), candidate]
        for position, step in enumerate(chain):
            try:
                info = step.stat()
            except FileNotFoundError:
                break
            except OSError as exc:
                return f"{what} {candidate}: {exc.strerror}"
            last = position == len(chain) - 1
            need = want if last else SEARCH
            if not account.may(info, need):
                missing = "/".join(_WANTS[b] for b in (READ, WRITE, SEARCH) if need & b)
                return (f"user {account.name} cannot {missing} {step} "
                        f"(mode {stat.S_IMODE(info.st_mode):04o}, owner "
                        f"{_owner(info.st_uid)}), so it cannot reach {what} {candidate}")
    return None


def _owner(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return str(uid)


def reachability_warnings(user: str, *, interpreter: Path, script: Path | None,
                          prefix: Path, home: Path, config: Path | None) -> list[str]:
    """One line per path of the installation the service user could not use."""
    account = Account.lookup(user)
    checks: list[tuple[Path, int, str]] = [
        (interpreter, READ | SEARCH, "the interpreter"),
        (prefix, READ | SEARCH, "the Python environment"),
        # an existing data directory must be writable; a missing one is created for it
        (home, READ | WRITE | SEARCH, "the data directory"),
    ]
    if script is not None:
        checks.insert(0, (script, READ | SEARCH, "the wfsched script"))
    if config is not None:
        checks.append((config, READ, "the configuration"))
    problems = [access_problem(account, path, want, what) for path, want, what in checks]
    return list(dict.fromkeys(p for p in problems if p))


def primary_group(user: str) -> str:
    """The name of ``user``'s primary group; ``user`` itself for an account not created
    yet (``useradd --system`` gives it a group of its own name)."""
    try:
        import grp
        import pwd

        return grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name
    except (ImportError, KeyError):
        return user


def create_data_directory_command(values: DeployValues) -> str:
    """The command that creates the data directory for the service user (run as root)."""
    return (f"sudo install -d -o {values.user} -g {values.group or values.user} -m 0750 "
            f"{values.home}")
