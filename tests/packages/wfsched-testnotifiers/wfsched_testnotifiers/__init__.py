"""Test notifiers, active only when the test sets their environment variables."""
