"""Test helpers: stand-in servers and fixtures shared by unit and integration tests."""
