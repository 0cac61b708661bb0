"""``python -m wfsched_core`` is the ``wfsched`` command (how the scheduler starts workers)."""

from wfsched_core.cli.main import main

if __name__ == "__main__":
    main()
