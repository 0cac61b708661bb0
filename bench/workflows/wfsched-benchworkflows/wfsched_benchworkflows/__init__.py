"""Workflows for wfsched's benchmarks (bench/)."""
