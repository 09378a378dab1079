"""Custom simulator handlers: the `handler:` escape hatch of endpoints.yaml, one module per source."""
