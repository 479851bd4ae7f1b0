"""``python -m emulator --port PORT [--host 127.0.0.1]``: serve the emulator, threaded."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from types import FrameType

from werkzeug.serving import make_server

from emulator import create_app


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    """Start the server, print the listening line, serve until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5001, help="0 picks a free port")
    parser.add_argument("--now", help="freeze the emulator clock at this ISO date-time")
    parser.add_argument("--timeout-seconds", type=float, help='sleep of a "timeout" fault')
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    if not args.verbose:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    config: dict[str, object] = {}
    if args.now:
        config["EMULATOR_NOW"] = args.now
    if args.timeout_seconds is not None:
        config["EMULATOR_TIMEOUT_SECONDS"] = args.timeout_seconds
    server = make_server(args.host, args.port, create_app(config), threaded=True)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"Emulator listening on http://{args.host}:{server.port}", flush=True)
    try:
        server.serve_forever()
    except SystemExit:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
