"""Serve a web from a process of its own until SIGINT or SIGTERM (`python -m crawler.demo serve`,
`python -m benchmarks.benchweb`), so that a crawler measured beside it is not charged its CPU.

The port goes to stdout as the first line (flushed) once the hosts and seeds files are written.
`--workers N` pre-forks N processes that accept on one shared socket, for when one core serving
big pages is slower than the crawler under test.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import threading

from crawler.demo.server import LocalWebServer
from crawler.demo.web import SeededWeb, write_hosts_file


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--hosts-file", help="write an /etc/hosts-style file of all hosts here")
    parser.add_argument("--seeds-file", help="write the seed URLs here, one per line")
    parser.add_argument("--workers", type=int, default=1, help="processes sharing the socket")


def serve(web: SeededWeb, args: argparse.Namespace) -> int:
    """Serve `web` as `add_serve_arguments` options say, until told to stop."""
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
            _serve_socket(web, sock, stop)
            os._exit(0)
        children.append(pid)
    print(port, flush=True)
    try:
        _serve_socket(web, sock, stop)
    finally:
        for pid in children:
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)
    return 0


def _serve_socket(web: SeededWeb, sock: socket.socket, stop: threading.Event) -> None:
    server = LocalWebServer(web, record=False, sock=sock)
    server.start()
    stop.wait()
    server.stop()
