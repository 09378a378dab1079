"""Command-line tools around the simulator (``python -m simulator.tools.<name>``)."""
