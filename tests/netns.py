"""Machines inside this one: Linux network namespaces, each with one veth link to a bridge that
lives in a namespace of its own, on a subnet that exists nowhere else (not even in this
machine's own namespace, so two runs at once, or a real 10.77.0.0/24, never meet).

A process runs on a machine through `ip netns exec`; this process talks to one from the
current thread only, through setns(2) (`Network.entered`). Creating namespaces needs root.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import subprocess
from collections.abc import Iterator

SUBNET = "10.77.0"  # /24; .1 is left unused, machines get .2 upwards
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


class Network:
    """Machines on one bridge; names are unique to this run (`lgmh-<hex>-<machine>`), and
    `close` deletes every namespace, which takes its links and bridge with it."""

    def __init__(self) -> None:
        self.tag = f"lgmh-{secrets.token_hex(3)}"
        self.switch = f"{self.tag}-sw"
        self.addresses: dict[str, str] = {}
        self.namespaces: list[str] = []

    def __enter__(self) -> Network:
        try:
            self._namespace(self.switch)
            ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
            ip("-n", self.switch, "link", "set", "br0", "up")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _namespace(self, name: str) -> None:
        ip("netns", "add", name)
        self.namespaces.append(name)
        ip("-n", name, "link", "set", "lo", "up")

    def namespace(self, machine: str) -> str:
        return f"{self.tag}-{machine}"

    def add(self, machine: str) -> str:
        """A new machine on the bridge; returns its address."""
        number = len(self.addresses) + 2
        ns, port, address = self.namespace(machine), f"port{number}", f"{SUBNET}.{number}"
        self._namespace(ns)
        # Both ends are made inside namespaces: no name is ever taken in this machine's own.
        ip("-n", self.switch, "link", "add", port, "type", "veth", "peer", "name", "eth0",
           "netns", ns)  # fmt: skip
        ip("-n", self.switch, "link", "set", port, "master", "br0", "up")
        ip("-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
        ip("-n", ns, "link", "set", "eth0", "up")
        self.addresses[machine] = address
        return address

    def command(self, machine: str, argv: list[str]) -> list[str]:
        """`argv` run on `machine`."""
        return ["ip", "netns", "exec", self.namespace(machine), *argv]

    @contextlib.contextmanager
    def entered(self, machine: str) -> Iterator[None]:
        """The current thread on `machine`'s network: sockets made in the block stay there."""
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(f"/run/netns/{self.namespace(machine)}", os.O_RDONLY)
        try:
            _setns(target)
            try:
                yield
            finally:
                _setns(own)
        finally:
            os.close(target)
            os.close(own)

    def close(self) -> None:
        problems = []
        for ns in reversed(self.namespaces):
            try:
                ip("netns", "del", ns)
            except RuntimeError as exc:
                problems.append(str(exc))
        self.namespaces.clear()
        if problems:
            raise RuntimeError("; ".join(problems))
