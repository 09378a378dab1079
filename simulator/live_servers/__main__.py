"""``python -m connector_watch.simulator.live_servers <source>``: run an example source's live API on 127.0.0.1.

Prints the base URL (one line on stdout) and serves until interrupted. The
connector config to use (base URL and credentials) goes to ``--config-out`` or,
without it, to stderr as a ready ``CONNECTOR_TEST_CONFIG_JSON`` line.

Credentials are random per start unless ``LIVE_SERVER_CREDENTIALS`` holds a JSON
object of them; the control token (``X-Live-Control``) is
``LIVE_SERVER_CONTROL_TOKEN`` or random.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

from connector_watch.simulator.live_servers import SOURCES, app_class
from connector_watch.simulator.live_servers.framework import DRIFT_KINDS, base_url_of, make_server

ENV_CREDENTIALS = "LIVE_SERVER_CREDENTIALS"
ENV_CONTROL_TOKEN = "LIVE_SERVER_CONTROL_TOKEN"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m connector_watch.simulator.live_servers",
        description="Run an example source's live API (a real HTTP server on 127.0.0.1).",
    )
    parser.add_argument("source", choices=SOURCES)
    parser.add_argument("--port", type=int, default=0, help="port to bind (default: a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--drift",
        action="append",
        default=[],
        metavar="KIND[:TARGET]",
        help=f"make the data differ from the corpus; KIND is one of {', '.join(DRIFT_KINDS)} "
        "(repeatable; see --list-drifts)",
    )
    parser.add_argument(
        "--rate-limit", default="off", help="off | first (429 on each route's first call) | every:N"
    )
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before each answer")
    parser.add_argument(
        "--corpus", type=Path, help="serve this corpus directory instead of the committed one"
    )
    parser.add_argument("--config-out", type=Path, help="write the connector config (JSON, mode 0600) here")
    parser.add_argument("--exit-with-parent", action="store_true", help="stop when the parent process exits")
    parser.add_argument(
        "--list-drifts", action="store_true", help="print this source's default drifts and exit"
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser


def main(argv: list[str] | None = None) -> int:
    parent = os.getppid()  # before anything else: the parent may exit as soon as it reads the URL
    args = _parser().parse_args(argv)
    cls = app_class(args.source)
    if args.list_drifts:
        for kind in DRIFT_KINDS:
            print(f"{kind:16} {cls.DRIFT_DEFAULTS.get(kind, '(none for this source)')}")
        return 0
    credentials = None
    if os.environ.get(ENV_CREDENTIALS):
        try:
            credentials = json.loads(os.environ[ENV_CREDENTIALS])
        except ValueError as exc:
            print(f"{ENV_CREDENTIALS} is not valid JSON: {exc}", file=sys.stderr)
            return 2
    try:
        app = cls(
            corpus_dir=args.corpus,
            drifts=args.drift,
            credentials=credentials,
            rate_limit=args.rate_limit,
            delay=args.delay,
            control_token=os.environ.get(ENV_CONTROL_TOKEN) or None,
            verbose=args.verbose,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        server = make_server(app, args.host, args.port)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    base_url = base_url_of(server)
    config = app.connector_config(base_url)
    if args.config_out:
        args.config_out.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(args.config_out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(config, handle, indent=2)
            handle.write("\n")
        where = f"connector config written to {args.config_out}"
    else:
        where = f"connector config: CONNECTOR_TEST_CONFIG_JSON='{json.dumps(config)}'"
    drift = ", ".join(d.describe() for d in app.drifts) or "none"
    print(
        f"{args.source} live API on {base_url} (drift: {drift}; rate limit: {args.rate_limit})",
        file=sys.stderr,
    )
    print(where, file=sys.stderr)
    print(base_url, flush=True)

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    if args.exit_with_parent:

        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(0.5)
            os._exit(0)

        threading.Thread(target=watch, daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
