"""Workflows for the fault-injection suite (tests/faults) and the soak script."""
