"""The coordinator's worker processes on this machine: started, told to stop, waited for.

Each worker's stdin is a pipe from the coordinator, which it follows
(crawler/processes/stopping.py): the coordinator writes "stop" or "kill" there when it is
stopped itself, and closing the pipe (the coordinator ended, or died) stops the worker too, so
no worker outlives its job's coordinator on this machine.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence

from crawler.processes.stopping import KILL, STOP

# How long workers may take to finish once the coordinator's own crawl ended (a finished job:
# they are leaving already; a stopped one: they finish what they fetch, then hand rows over).
EXIT_SECONDS = 60.0
# ... and once told to stop at once.
KILL_SECONDS = 10.0


class WorkerGroup:
    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.told = ""  # the last stop relayed

    def spawn(self, args: Sequence[str], env: Mapping[str, str]) -> None:
        """Start a worker that ignores SIGINT until its crawl installs Scrapy's handlers: a
        Ctrl-C while it starts reaches it through the pipe, not as a KeyboardInterrupt in
        the middle of an import."""
        in_main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if in_main else None
        try:
            proc = subprocess.Popen(list(args), stdin=subprocess.PIPE, env=dict(env))
        finally:
            if in_main:
                signal.signal(signal.SIGINT, previous)
        self.procs.append(proc)
        if self.told:  # the job was stopped while its workers were being started
            self._write(proc, self.told)

    def tell(self, word: str) -> None:
        """Relay a stop to every worker (safe in a signal handler: one write() per worker)."""
        self.told = word
        for proc in self.procs:
            self._write(proc, word)

    @staticmethod
    def _write(proc: subprocess.Popen[bytes], word: str) -> None:
        if proc.stdin is not None and proc.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                os.write(proc.stdin.fileno(), f"{word}\n".encode())

    def reap(self, forced: bool = False, linger: float = 0.0) -> list[int]:
        """Let the workers end (by themselves for up to `linger` seconds, then stopped by the
        closed pipe), then insist. Returns their exit statuses."""
        if forced:
            self.tell(KILL)
        self._wait(linger)
        for proc in self.procs:
            if proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
        self._wait(KILL_SECONDS if forced else EXIT_SECONDS)
        if self._running():
            self.tell(KILL)
            self._wait(KILL_SECONDS)
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()  # its leases come back when its heartbeat lapses
                proc.wait()
        return [int(proc.returncode) for proc in self.procs]

    def stop(self) -> None:
        self.tell(STOP)

    def _running(self) -> bool:
        return any(proc.poll() is None for proc in self.procs)

    def _wait(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while self._running() and time.monotonic() < deadline:
            time.sleep(0.05)
