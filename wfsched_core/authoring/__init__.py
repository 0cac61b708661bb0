"""What a workflow author writes against, and what wfsched knows of each workflow.

Owns ``Workflow`` and ``step`` (``workflow``), schedules in cron and in words
(``schedule``, ``schedule_words``), the retry policy (``retry``), the catalog of installed
workflows with their overrides from ``[workflows.NAME]`` (``catalog``) and secret
parameters (``secrets``). ``wfsched_core``'s own ``__init__`` re-exports the author's API
from here. It may import ``base``; nothing above it (no plugin manager, no store), so a
worker that imports a workflow module stays lean.
"""
