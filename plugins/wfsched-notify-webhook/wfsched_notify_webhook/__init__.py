"""wfsched notifier: lifecycle events POSTed to webhooks (JSON or Slack).

Built on the notifier base every notifier shares, ``wfsched_core.notify``.
"""

__version__ = "0.1.0"
