"""The ``subprocess.Popen`` arguments that detach a worker, per platform.

A pure function of the platform name, so that the Windows arguments can be checked by a
test on any machine.
"""

from __future__ import annotations

import subprocess
from typing import Any

# The values of the Windows constants, for platforms whose subprocess module lacks them
# (they are documented in the Win32 process-creation flags).
CREATE_NEW_PROCESS_GROUP = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x00000200)
DETACHED_PROCESS = getattr(subprocess, "DETACHED_PROCESS", 0x00000008)


def detached_popen_kwargs(platform: str) -> dict[str, Any]:
    """Keyword arguments for ``Popen`` (besides argv, env and the streams).

    Windows: the ``start /B`` equivalent — no console (``DETACHED_PROCESS``) and a process
    group of its own (``CREATE_NEW_PROCESS_GROUP``), so a Ctrl-C or the closing of the
    scheduler's console does not reach the worker. POSIX: a new session, so the worker
    has no controlling terminal and is outside the scheduler's process group (a
    ``kill -- -PGID`` or a ``systemctl restart`` with ``KillMode=process`` spares it).
    """
    if platform == "win32":
        return {"creationflags": CREATE_NEW_PROCESS_GROUP | DETACHED_PROCESS, "close_fds": True}
    return {"start_new_session": True, "close_fds": True}
