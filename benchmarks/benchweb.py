"""The bench web: a large generated web that the crawl benchmarks crawl, served from its own
process so that no crawler is charged for its CPU.

    python -m benchmarks.benchweb [--hosts N] [--pages-per-host N] [--seed N] [--port N]
        [--hosts-file F] [--seeds-file F] [--workers N]

Pages are rendered on request from (host, page number), deterministic given the seed, so a
million-page web costs no memory. `serve_bench_web` runs the command above for a benchmark.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from crawler.demo.demoweb import ALLOW_ALL, TOPICS, WORDS, sentence
from crawler.demo.serve import add_serve_arguments, serve
from crawler.demo.web import HTML_TYPE, Resource


class BenchWeb:
    """A large web rendered on request: `hosts` hosts, `pages_per_host` pages each.

    Host i is `www.` or `blog.` of `site{i // 2}` under a rotating suffix; page 0 is `/`,
    page n is `/p/n`. Pages are 20-60 KB with 50-150 links: ~60% same host, ~20% the sibling
    host of the same domain, ~20% other domains with low-numbered sites far more popular.
    """

    def __init__(self, hosts: int = 1000, pages_per_host: int = 200, seed: int = 1) -> None:
        self.pages_per_host = pages_per_host
        self.seed = seed
        suffixes = ("com", "org", "net", "co.uk")
        self._names = [
            f"{('www', 'blog')[i % 2]}.site{i // 2:04d}.{suffixes[(i // 2) % 4]}"
            for i in range(hosts)
        ]
        self._index = {name: i for i, name in enumerate(self._names)}
        rng = random.Random(seed)
        # Pages are stitched from a few cached paragraphs so rendering stays cheap.
        self._blocks = [
            "<p>" + " ".join(sentence(rng, rng.randint(8, 20)) for _ in range(8)) + "</p>\n"
            for _ in range(48)
        ]
        self._anchors = [f"{w} {t}" for w in WORDS[:12] for t in TOPICS[:8]] + ["read more", ""]
        self._robots = Resource(200, [("Content-Type", "text/plain")], ALLOW_ALL.encode())
        self._html_headers = [("Content-Type", HTML_TYPE)]

    def hosts(self) -> list[str]:
        return list(self._names)

    def seeds(self, port: int) -> list[str]:
        return [f"http://{name}:{port}/" for name in self._names]

    def resolve(self, host: str, path_and_query: str, port: int) -> Resource | None:
        i = self._index.get(host)
        if i is None:
            return None
        if path_and_query == "/robots.txt":
            return self._robots
        if path_and_query == "/":
            n = 0
        elif path_and_query.startswith("/p/") and path_and_query[3:].isdigit():
            n = int(path_and_query[3:])
            if not 0 < n < self.pages_per_host:
                return None
        else:
            return None
        return Resource(200, self._html_headers, self.render(i, n, port))

    def _path(self, n: int) -> str:
        return "/" if n == 0 else f"/p/{n}"

    def render(self, i: int, n: int, port: int) -> bytes:
        rng = random.Random((self.seed * 1_000_003 + i) * 1_000_003 + n)
        names, pages, blocks = self._names, self.pages_per_host, self._blocks
        size = rng.randint(20_000, 58_500)  # overshoots by at most a block and a link
        title = f"{names[i]} page {n}"
        out = [f"<!DOCTYPE html><html><head><title>{title}</title></head><body><h1>{title}</h1>"]
        # Chain links (next page, next host) make every page reachable from any seed.
        if n + 1 < pages:
            nxt = self._path(n + 1)
        else:
            nxt = f"http://{names[(i + 1) % len(names)]}:{port}/"
        out.append(f'<a href="{nxt}">next</a>\n')
        total = sum(map(len, out))
        for _ in range(rng.randint(49, 149)):
            roll = rng.random()
            if roll < 0.6:
                href = self._path(rng.randrange(pages))
            else:
                j = i ^ 1 if roll < 0.8 else int(len(names) * rng.random() ** 3)
                j = min(j, len(names) - 1)
                href = f"http://{names[j]}:{port}{self._path(rng.randrange(pages))}"
            rel = ' rel="nofollow"' if rng.random() < 0.05 else ""
            link = f'<a href="{href}"{rel}>{rng.choice(self._anchors)}</a>\n'
            block = blocks[rng.randrange(len(blocks))] if total < size else ""
            out.append(link + block)
            total += len(link) + len(block)
        while total < size:
            block = blocks[rng.randrange(len(blocks))]
            out.append(block)
            total += len(block)
        out.append("</body></html>\n")
        return "".join(out).encode()


def bench_web(hosts: int = 1000, pages_per_host: int = 200, seed: int = 1) -> BenchWeb:
    return BenchWeb(hosts, pages_per_host, seed)


@dataclass(frozen=True, slots=True)
class ServedWeb:
    port: int
    pid: int  # the server process, whose CPU the benchmark reports but charges to no crawler
    hosts_file: Path  # /etc/hosts format: every bench host is 127.0.0.1
    seeds: list[str]  # one home page per host


@contextlib.contextmanager
def serve_bench_web(
    workdir: Path, *, hosts: int, pages_per_host: int, workers: int = 1
) -> Iterator[ServedWeb]:
    hosts_file, seeds_file = workdir / "hosts", workdir / "seeds"
    cmd = [
        sys.executable, "-m", "benchmarks.benchweb",
        "--hosts", str(hosts), "--pages-per-host", str(pages_per_host),
        "--hosts-file", str(hosts_file), "--seeds-file", str(seeds_file),
        "--workers", str(workers),
    ]  # fmt: skip
    root = Path(__file__).resolve().parents[1]  # `-m benchmarks...` needs the repository root
    server = subprocess.Popen(cmd, cwd=root, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()  # the port, printed once the files are written
        if not line.strip().isdigit():
            raise RuntimeError(f"the bench web server did not start (said {line!r})")
        seeds = seeds_file.read_text(encoding="utf-8").split()
        yield ServedWeb(int(line), server.pid, hosts_file, seeds)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.benchweb", description=__doc__)
    parser.add_argument("--hosts", type=int, default=1000, help="number of hosts")
    parser.add_argument("--pages-per-host", type=int, default=200, help="pages per host")
    parser.add_argument("--seed", type=int, default=1)
    add_serve_arguments(parser)
    args = parser.parse_args(argv)
    return serve(bench_web(args.hosts, args.pages_per_host, args.seed), args)


if __name__ == "__main__":
    sys.exit(main())
