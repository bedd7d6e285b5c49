"""Data versioning: the port and its backends."""
