"""Errors a user can cause, each with a message that names the problem and the fix.

The CLI turns a :class:`WfschedError` into one line on stderr and its ``exit_code``;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class WfschedError(Exception):
    """Base of every error that is the user's to fix; ``exit_code`` is what the CLI returns."""

    exit_code = 1


class UsageError(WfschedError):
    """Bad command-line input: an unknown name, a malformed value (exit code 2)."""

    exit_code = 2


class ConfigError(WfschedError):
    """A configuration file or setting that cannot be used (exit code 2)."""

    exit_code = 2


class UnknownWorkflowError(UsageError):
    """A workflow name that no installed package provides."""


class UnknownExecutionError(WfschedError):
    """An execution id that is not in the database."""


class ExecutionStateError(WfschedError):
    """An operation that the execution's current status does not allow."""


class DatabaseError(WfschedError):
    """The database cannot be used: unreachable, wrong password, missing driver, old schema."""


class SchemaOutOfDateError(DatabaseError):
    """The database schema is missing or older than this version of wfsched needs."""


class SpawnerError(WfschedError):
    """A spawn strategy that cannot start or control a worker."""


class SchedulerAlreadyRunningError(WfschedError):
    """Another scheduler already owns a database that allows only one (SQLite)."""


class MissingLogError(WfschedError):
    """An execution whose log file is not there: not started yet, removed, or elsewhere."""
