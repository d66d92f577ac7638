"""`linkgraph serve`: the service (crawler/service/) on an HTTP port until SIGINT or SIGTERM.

A stop signal stops it within seconds: the API stops answering, every job's workers finish what
they fetch and hand their rows over, which are stored; then the index is closed and, last, the
embedded Valkey server stopped. A second signal stops the workers at once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import os
import signal
import sys
from collections.abc import Iterator
from typing import Any

from crawler import settings as defaults
from crawler.cli.common import add_redis, add_storage, storage_target
from crawler.cli.jobflags import writable_dir
from crawler.errors import UsageError
from crawler.processes.stopping import interrupt_on_sigterm


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve",
        help="run the service: crawl jobs, an HTTP API, a dashboard and metrics",
        description="Own the data dir's index and frontier, run crawl jobs in worker processes, "
        "and answer the HTTP API (/api/openapi.json), the dashboard (/) and /metrics until "
        "stopped (Ctrl-C or SIGTERM). Bound elsewhere than loopback, it needs a token.",
    )
    add_storage(p)
    add_redis(p)
    host, port = defaults.LINKGRAPH_SERVE_HOST, defaults.LINKGRAPH_SERVE_PORT
    p.add_argument("--host", default=host, help=f"address to listen on (default {host})")
    p.add_argument("--port", type=_port, default=port, help=f"port (default {port}; 0: any)")
    p.add_argument(
        "--token",
        default=os.environ.get("LINKGRAPH_TOKEN", ""),
        help="requests must carry `Authorization: Bearer TOKEN` (default: $LINKGRAPH_TOKEN); "
        "required when --host is not a loopback address",
    )
    p.add_argument("-v", "--verbose", action="store_true",
                   help="log jobs started and each worker's crawl (Scrapy's log)")  # fmt: skip
    p.set_defaults(func=run)


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return int(text)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    if not is_loopback(args.host) and not args.token:
        raise UsageError(
            f"--host {args.host} is not a loopback address: give --token (or $LINKGRAPH_TOKEN), "
            "which every request must then carry"
        )
    writable_dir(args.data_dir, "--data-dir")
    from crawler.service.service import Service, ServiceOptions

    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="linkgraph serve: %(message)s")  # fmt: skip
    interrupt_on_sigterm()  # until the server runs: what was started is stopped on the way out
    options = ServiceOptions(
        data_dir=args.data_dir,
        redis_url=args.redis,
        storage=storage_target(args),
        log_level="INFO" if args.verbose else "WARNING",
    )
    with Service.open(options) as service:
        asyncio.run(_serve(service, args.host, args.port, args.token))
        _insist_on_second_signal(service)
    return 0


async def _serve(service: Any, host: str, port: int, token: str) -> None:
    from aiohttp import web

    from crawler.service.app import build_app

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner = web.AppRunner(build_app(service, token), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            reason = str(exc.strerror or exc).rsplit("): ", 1)[-1]  # aiohttp's names the address
            raise UsageError(f"cannot listen on {host}:{port}: {reason}") from None
        url = _url(host, runner.addresses[0][1])
        with _owner(service, url, token):
            print(f"linkgraph serve: {url} (data dir {service.data_dir}); Ctrl-C stops it",
                  file=sys.stderr, flush=True)  # fmt: skip
            await stop.wait()
            print("linkgraph serve: stopping: jobs finish what they fetch",
                  file=sys.stderr, flush=True)  # fmt: skip
    finally:
        await runner.cleanup()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else shown}:{port}"


@contextlib.contextmanager
def _owner(service: Any, url: str, token: str) -> Iterator[None]:
    """The owner file (crawler/service/owner.py), through which the CLI finds the service."""
    from crawler.service.owner import claim_owner

    with claim_owner(service.data_dir, "service", url, token):
        yield


def _insist_on_second_signal(service: Any) -> None:
    """While the jobs stop (Service.close, on the way out), another signal stops them at once."""

    def insist(signum: int, frame: Any) -> None:
        service.stop_now()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, insist)
