"""The vocabulary every process shares: records, statuses, settings, errors, files.

Owns the plain records the store returns and the hooks receive (``records``: Execution,
StepRecord, SchedulerRow), the status and trigger words (``status``), the settings read
from ``wfsched.toml`` and the environment (``config``), the errors with their exit codes
(``errors``), the bounds of a value a user may give (``bounds``), the per-execution log
files (``execution_log``, ``log_reading``), the log format (``log_format``: text or
JSON, and ``json_lines`` for printed output) and process inspection (``processes``). It may
import only the standard library and third-party libraries, never another ``wfsched_core``
package: it is the bottom layer, loaded by the lean worker too.
"""
