"""wfsched notifier: lifecycle events by email over SMTP."""

__version__ = "0.1.0"
