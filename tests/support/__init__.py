"""Helpers shared by the project's own tests."""
