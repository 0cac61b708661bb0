"""Workflows for wfsched's own tests."""
