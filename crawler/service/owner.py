"""The owner file: how the CLI finds the process that holds an embedded index.

chDB lets one process open a data directory. That process (a `linkgraph crawl`, or `linkgraph
serve`) answers reads over HTTP on loopback, and says where in `DATA_DIR/owner.json`:
`{"pid", "kind": "crawl"|"service", "url", "token"}`, readable by its user only, removed at
exit. `sql`, the reports and `export` send their queries there (`OwnerClient`), and `crawl`
submits its job to a service.
"""

from __future__ import annotations

import contextlib
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from crawler.errors import UsageError
from crawler.processes.valkey import pid_alive

OWNER_FILE = "owner.json"
KINDS = ("crawl", "service")
CHUNK = 1 << 16
TIMEOUT = 30.0  # seconds without a byte from the owner before giving up on it


@dataclass(frozen=True)
class Owner:
    pid: int
    kind: str  # "crawl" | "service"
    url: str  # http://127.0.0.1:PORT
    token: str

    def describe(self) -> str:
        what = "a running `linkgraph crawl`" if self.kind == "crawl" else "`linkgraph serve`"
        return f"{what} (pid {self.pid}, {self.url})"


class OwnerClaim:
    """This process's owner file, removed by `release` (or leaving the `with` block)."""

    def __init__(self, path: Path, owner: Owner) -> None:
        self.path = path
        self.owner = owner

    def release(self) -> None:
        with contextlib.suppress(OSError):
            if _read(self.path) == self.owner:  # not a successor's file
                self.path.unlink()

    def __enter__(self) -> OwnerClaim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def claim_owner(data_dir: Path, kind: str, url: str, token: str) -> OwnerClaim:
    """Write the owner file of `data_dir` for this process; refused while another live
    process has one there."""
    if kind not in KINDS:
        raise ValueError(f"owner kind {kind!r}: one of {KINDS}")
    path = Path(data_dir) / OWNER_FILE
    other = find_owner(data_dir)
    if other is not None and other.pid != os.getpid():
        raise UsageError(f"the index at {data_dir} is held by {other.describe()}")
    owner = Owner(os.getpid(), kind, url, token)
    partial = path.with_name(f".{OWNER_FILE}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(asdict(owner), out)
    os.replace(partial, path)  # readers see the whole file or none
    return OwnerClaim(path, owner)


def find_owner(data_dir: Path) -> Owner | None:
    """The live process that owns `data_dir`'s index, if any: a stale file (its process gone)
    or an unreadable one counts as none."""
    owner = _read(Path(data_dir) / OWNER_FILE)
    if owner is None or not pid_alive(owner.pid):
        return None
    return owner


def refuse_if_owned(data_dir: Path) -> None:
    """One line naming the process that holds `data_dir`'s index, if another one does: chDB
    would refuse to open it, and print its own lines first."""
    owner = find_owner(data_dir)
    if owner is not None and owner.pid != os.getpid():
        raise UsageError(
            f"the index at {data_dir} is held by {owner.describe()}; `sql`, the reports and "
            "`export` are answered through it, other commands must wait for it to end"
        )


def _read(path: Path) -> Owner | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        owner = Owner(int(data["pid"]), str(data["kind"]), str(data["url"]), str(data["token"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return owner if owner.kind in KINDS and owner.pid > 0 else None


class OwnerClient:
    """Calls to the owner's API with its token. Errors are one line naming the owner."""

    def __init__(self, owner: Owner, timeout: float = TIMEOUT) -> None:
        self.owner = owner
        self.timeout = timeout

    def sql(self, query: str, fmt: str, params: dict[str, str] | None, out: IO[bytes]) -> int:
        """Run one read-only query at the owner and copy its result to `out` as it comes;
        `params` are `param_NAME` texts. The number of bytes copied."""
        form = {"query": query, "format": fmt, **(params or {})}
        return self._copy(self._request("POST", "/api/sql", form), out)

    def report(self, name: str, params: dict[str, Any], fmt: str, out: IO[bytes]) -> int:
        """Report `name` rendered by the owner, copied to `out`."""
        fields = [(k, v) for k, v in params.items() if not isinstance(v, list)]
        fields += [(k, item) for k, v in params.items() if isinstance(v, list) for item in v]
        query = urllib.parse.urlencode([*fields, ("format", fmt)])
        return self._copy(self._request("GET", f"/api/reports/{name}?{query}"), out)

    def submit_job(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /api/jobs: the job's figures as the service sends them back."""
        answer = self._request("POST", "/api/jobs", json_body=body)
        with answer:
            result: dict[str, Any] = json.loads(answer.read())
        return result

    def _request(
        self,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        json_body: dict[str, Any] | None = None,
    ) -> Any:
        headers = {"Authorization": f"Bearer {self.owner.token}"}
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif json_body is not None:
            data = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(
            self.owner.url + path, data=data, headers=headers, method=method
        )
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            with exc:
                raise UsageError(_said(exc)) from None
        except (OSError, urllib.error.URLError) as exc:
            reason = getattr(exc, "reason", exc)
            raise UsageError(
                f"the index is held by {self.owner.describe()}, which does not answer "
                f"({reason}): wait for it to finish, or stop it"
            ) from None

    def _copy(self, answer: Any, out: IO[bytes]) -> int:
        copied = 0
        with answer:
            while chunk := self._read(answer, copied):
                out.write(chunk)
                copied += len(chunk)
        out.flush()
        return copied

    def _read(self, answer: Any, copied: int) -> bytes:
        try:
            return bytes(answer.read(CHUNK))
        except (OSError, ValueError) as exc:
            # http.client.IncompleteRead is a ValueError: the owner broke the answer off
            raise UsageError(
                f"the answer of {self.owner.describe()} broke off after {copied} bytes: {exc!r}"
            ) from None


def _said(exc: urllib.error.HTTPError) -> str:
    """The one line an error answer holds (`{"error": ...}`), or its status."""
    try:
        text = str(json.loads(exc.read())["error"])
    except (ValueError, KeyError, TypeError, OSError):
        text = f"HTTP {exc.code} {exc.reason}"
    if exc.code == 401:
        return f"the index owner refused this process's token ({text})"
    return text
