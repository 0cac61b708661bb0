"""Plugins that ship with the core; registered like any other (see ``plugin_manager``)."""
