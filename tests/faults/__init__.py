"""The fault-injection suite: each crash-safety guarantee against real processes."""
