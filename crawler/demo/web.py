"""What a local web is: resources looked up by (host, path) and rendered with the server's port.

A `Web` only knows about hosts and paths; `LocalWebServer` asks it for a `Resource` per request.
Links that must point back at the local server (absolute and protocol-relative links, a
redirect's Location) carry a `{port}` placeholder: the port is only known once the server has
bound its socket, so templates are rendered per request by a cheap bytes join.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

PORT_PLACEHOLDER = "{port}"
HTML_TYPE = "text/html; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"


@dataclass(slots=True, frozen=True)
class Resource:
    """One HTTP response, ready to send (the server adds Content-Length and Connection)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    delay: float = 0.0  # seconds the server waits before answering (slow hosts)


@runtime_checkable
class Web(Protocol):
    """A set of virtual hosts. `host` is lowercase ASCII (punycode) without a port."""

    def resolve(self, host: str, path_and_query: str, port: int) -> Resource | None: ...

    def hosts(self) -> list[str]: ...


@runtime_checkable
class SeededWeb(Web, Protocol):
    """A web that knows where a crawl of it starts (demo, bench and test webs)."""

    def seeds(self, port: int) -> list[str]: ...


class PortTemplate:
    """Text with `{port}` placeholders, split once so rendering is a single join.

    Only the exact placeholder is special: braces elsewhere (CSS, JSON, scripts) pass through,
    which `str.format` would not allow.
    """

    __slots__ = ("_parts",)

    def __init__(self, text: str | bytes) -> None:
        raw = text.encode("utf-8") if isinstance(text, str) else text
        self._parts = raw.split(PORT_PLACEHOLDER.encode())

    def render(self, port: int) -> bytes:
        if len(self._parts) == 1:
            return self._parts[0]
        return str(port).encode().join(self._parts)


@dataclass(slots=True, frozen=True)
class TemplateResource:
    """A `Resource` whose body and header values may contain `{port}`."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: PortTemplate
    delay: float = 0.0

    def render(self, port: int) -> Resource:
        p = str(port)
        headers = [(k, v.replace(PORT_PLACEHOLDER, p)) for k, v in self.headers]
        return Resource(self.status, headers, self.body.render(port), self.delay)


def html(body: str, status: int = 200, headers: Iterable[tuple[str, str]] = ()) -> TemplateResource:
    return TemplateResource(status, (("Content-Type", HTML_TYPE), *headers), PortTemplate(body))


def text(body: str, status: int = 200, content_type: str = TEXT_TYPE) -> TemplateResource:
    return TemplateResource(status, (("Content-Type", content_type),), PortTemplate(body))


def blob(body: bytes, content_type: str, status: int = 200) -> TemplateResource:
    return TemplateResource(status, (("Content-Type", content_type),), PortTemplate(body))


def redirect(location: str, status: int = 301) -> TemplateResource:
    """A redirect; `location` is sent verbatim (absolute with `{port}`, or relative)."""
    headers = (("Location", location), ("Content-Type", TEXT_TYPE))
    return TemplateResource(status, headers, PortTemplate(f"Redirecting to {location}\n"))


def ascii_host(host: str) -> str:
    """Lowercase punycode form of a host name, which is what a crawler sends and resolves."""
    host = host.strip().rstrip(".").lower()
    if host.isascii():
        return host
    return host.encode("idna").decode("ascii")


@dataclass
class StaticWeb:
    """A web held in memory: `(ascii host, path and query) -> TemplateResource`.

    `extra_hosts` are served (everything 404) and listed in `hosts()` without having resources,
    so a crawler resolves them to the local server instead of the real network.
    """

    resources: Mapping[tuple[str, str], TemplateResource]
    extra_hosts: Iterable[str] = ()
    _hosts: list[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        names = {host for host, _ in self.resources} | {ascii_host(h) for h in self.extra_hosts}
        self._hosts = sorted(names)

    def resolve(self, host: str, path_and_query: str, port: int) -> Resource | None:
        found = self.resources.get((host, path_and_query))
        return found.render(port) if found is not None else None

    def hosts(self) -> list[str]:
        return list(self._hosts)


def write_hosts_file(
    path: str | os.PathLike[str], hosts: Iterable[str], address: str = "127.0.0.1"
) -> None:
    """Write an /etc/hosts-style file mapping every host (as punycode) to `address`."""
    names = sorted({ascii_host(h) for h in hosts})
    # A few names per line: some resolvers cap the number of aliases on one line.
    per_line = 8
    lines = [" ".join([address, *names[i : i + per_line]]) for i in range(0, len(names), per_line)]
    with open(path, "w", encoding="ascii") as out:
        out.write("# generated by linkgraph: every host of this local web is this machine\n")
        out.write("\n".join(lines) + ("\n" if lines else ""))
