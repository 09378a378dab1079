"""``python -m daemon`` is ``connector-watch``."""

import sys

from connector_watch.daemon.cli import main

sys.exit(main())
