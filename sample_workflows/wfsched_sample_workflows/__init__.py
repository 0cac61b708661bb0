"""Sample workflows for wfsched: quick, sleeping, multi-step and failing ones."""
