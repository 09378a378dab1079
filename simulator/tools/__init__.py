"""Command-line tools around the simulator (``python -m connector_watch.simulator.tools.<name>``)."""
