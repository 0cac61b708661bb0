"""The ``wfsched`` command line: thin commands over the core, errors as one line."""
