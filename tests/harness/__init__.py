"""Support code for the pytest harness in ``tests/unit/sources``: settings, checks, ground truth."""
