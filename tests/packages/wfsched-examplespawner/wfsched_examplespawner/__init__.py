"""A minimal wfsched spawn strategy: the example of docs/writing-a-spawner.md."""
