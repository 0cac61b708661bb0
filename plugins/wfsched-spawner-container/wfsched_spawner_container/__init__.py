"""The ``container`` spawn strategy: each worker runs in a podman or docker container."""

__version__ = "0.1.0"
