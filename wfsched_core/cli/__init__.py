"""The ``wfsched`` command line: thin commands over the core, errors as one line.

Each ``*_commands`` module holds a group of click commands that parse their options, ask
``wfsched_core.app.App`` for settings, plugins and the store, call the layer that does
the work and print the result. It is the top layer: it may import every package, and no
package imports it (plugins add commands through the ``wfsched_cli`` hook instead).
"""
