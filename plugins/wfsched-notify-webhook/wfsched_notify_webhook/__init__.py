"""wfsched notifier: lifecycle events POSTed to webhooks (JSON or Slack).

Also holds the pieces every notifier shares (``notification``, ``config_table``,
``delivery``), which the email notifier reuses.
"""

__version__ = "0.1.0"
