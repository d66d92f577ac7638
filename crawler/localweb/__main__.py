"""Run a local web in its own process, so a benchmark does not count the server's CPU.

    python -m crawler.localweb serve --web bench [--port N] [--hosts-file F] [--seeds-file F]

Prints the port on the first line of stdout (flushed), then serves until SIGINT or SIGTERM.
`--workers N` pre-forks N processes that accept on one shared socket, for when one core
serving big bench pages is slower than the crawler under test.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading

from crawler.localweb.generate import bench_web, demo_web
from crawler.localweb.server import LocalWebServer
from crawler.localweb.web import SeededWeb, write_hosts_file


def _build(args: argparse.Namespace) -> SeededWeb:
    if args.web == "demo":
        return demo_web(seed=args.seed)
    if args.web == "bench":
        return bench_web(hosts=args.hosts, pages_per_host=args.pages_per_host, seed=args.seed)
    # The hand-made test web lives with the tests; run from the repository root.
    from tests.testweb import build_test_web

    return build_test_web()


def _serve(web: SeededWeb, sock: socket.socket, stop: threading.Event) -> None:
    server = LocalWebServer(web, record=False, sock=sock)
    server.start()
    stop.wait()
    server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawler.localweb")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve a local web until interrupted")
    serve.add_argument("--web", choices=("demo", "bench", "test"), default="demo")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port")
    serve.add_argument("--hosts-file", help="write an /etc/hosts-style file of all hosts here")
    serve.add_argument("--seeds-file", help="write the seed URLs here, one per line")
    serve.add_argument("--hosts", type=int, default=1000, help="bench: number of hosts")
    serve.add_argument("--pages-per-host", type=int, default=200, help="bench: pages per host")
    serve.add_argument("--seed", type=int, default=1)
    serve.add_argument("--workers", type=int, default=1, help="processes sharing the socket")
    args = parser.parse_args(argv)

    web = _build(args)
    sock = socket.create_server((args.host, args.port), backlog=1024, reuse_port=False)
    port = sock.getsockname()[1]
    if args.hosts_file:
        write_hosts_file(args.hosts_file, web.hosts(), address=args.host)
    if args.seeds_file:
        with open(args.seeds_file, "w", encoding="utf-8") as out:
            out.writelines(url + "\n" for url in web.seeds(port))

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    children = []
    for _ in range(max(0, args.workers - 1)):
        pid = os.fork()
        if pid == 0:  # a worker: serve on the inherited socket until told to stop
            _serve(web, sock, stop)
            os._exit(0)
        children.append(pid)
    print(port, flush=True)
    try:
        _serve(web, sock, stop)
    finally:
        for pid in children:
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
