"""``python -m daemon`` is ``connector-watch``."""

import sys

from daemon.cli import main

sys.exit(main())
