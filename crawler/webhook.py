"""POSTing a JSON body to an operator's webhook (crawler/alerts.py), as a job would fetch it.

The POST is made once more after a failure (no answer in time, a refused connection, a status
other than 2xx). The webhook's address is held to the job's rule for pages: unless the job
allows private addresses (`--allow-private`), one that is not public is refused. The check is in
aiohttp's resolver (below), so the addresses checked are those connected to, and redirects are
not followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import ssl
from collections.abc import Callable
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from crawler.resolver import is_public

TIMEOUT_SECONDS = 10.0  # one POST: connecting, sending, and the receiver's answer
RETRY_SECONDS = 2.0  # before the one retry
ALLOW_HINT = "(allow one with --allow-private)"


class RefusedWebhook(OSError):
    """The webhook's address is not public and the job does not allow private ones."""


class GuardedResolver(AbstractResolver):
    """The system's answers, refused when one is not a public address."""

    def __init__(self) -> None:
        self._resolver = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._resolver.resolve(host, port, family)
        refused = [r["host"] for r in found if not is_public(r["host"])]
        if refused:
            raise RefusedWebhook(f"{host} resolves to {refused[0]}, not a public address")
        return found

    async def close(self) -> None:
        await self._resolver.close()


def _refused_literal(url: str) -> str:
    """Why a URL's IP-literal host is refused (aiohttp resolves no literal); "" if it is not."""
    host = urlsplit(url).hostname or ""
    try:
        address = str(ipaddress.ip_address(host))
    except ValueError:
        return ""
    return "" if is_public(address) else f"{address} is not a public address"


async def post_json(
    url: str, body: bytes, *, allow_private: bool, timeout: float = TIMEOUT_SECONDS,
    retry_after: float = RETRY_SECONDS, on_taken: Callable[[], None] | None = None,
) -> str:  # fmt: skip
    """POST `body` (JSON) to `url`, retried once; "" when the receiver took it, else why not.
    `on_taken` is called as soon as a 2xx is read, before anything else is awaited: a caller
    cancelled meanwhile still knows the receiver has the body."""
    if not allow_private and (refused := _refused_literal(url)):
        return f"{refused} {ALLOW_HINT}"
    headers = {"Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(resolver=None if allow_private else GuardedResolver())
    why = ""
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)
    ) as session:
        for attempt in range(2):
            if attempt:
                await asyncio.sleep(retry_after)
            try:
                async with session.post(url, data=body, headers=headers,
                                        allow_redirects=False) as response:  # fmt: skip
                    if 200 <= response.status < 300:
                        if on_taken is not None:
                            on_taken()
                        return ""
                    why = f"HTTP {response.status}"
            except aiohttp.ClientConnectorError as exc:
                if isinstance(exc.os_error, RefusedWebhook):
                    return f"{exc.os_error} {ALLOW_HINT}"
                why = _not_connected(exc.os_error)
            except asyncio.TimeoutError:
                why = f"no answer in {timeout:g}s"
            except aiohttp.ClientError as exc:
                why = str(exc) or type(exc).__name__
    return why


def _not_connected(error: OSError) -> str:
    if isinstance(error, socket.gaierror | ssl.SSLError):
        return error.strerror or str(error)
    if error.errno and error.errno > 0:  # asyncio's text names the address, not the error
        return os.strerror(error.errno)
    return str(error) or type(error).__name__


def origin(url: str) -> str:
    """The URL's scheme and host: what lines name a webhook by, as a receiver's secret is often
    in its path."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
