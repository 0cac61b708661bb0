"""The ``celery`` spawn strategy: executions handed to a Celery worker fleet."""

__version__ = "0.1.0"
