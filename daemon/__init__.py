"""The watch daemon (see README.md)."""
