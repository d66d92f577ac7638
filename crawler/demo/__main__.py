"""Serve the demo web in its own process.

    python -m crawler.demo serve [--seed N] [--port N] [--hosts-file F] [--seeds-file F]

See crawler/demo/serve.py for what is printed and how it stops.
"""

from __future__ import annotations

import argparse
import sys

from crawler.demo.demoweb import demo_web
from crawler.demo.serve import add_serve_arguments, serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawler.demo")
    sub = parser.add_subparsers(dest="command", required=True)
    serve_cmd = sub.add_parser("serve", help="serve the demo web until interrupted")
    serve_cmd.add_argument("--seed", type=int, default=1, help="the demo web's random seed")
    add_serve_arguments(serve_cmd)
    args = parser.parse_args(argv)
    return serve(demo_web(seed=args.seed), args)


if __name__ == "__main__":
    sys.exit(main())
