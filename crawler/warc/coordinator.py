"""Runs `ingest-warc`: hands files to worker processes, stores the rows they send back (several
batches of a file at a time: crawler/warc/batches.py), notes each file once stored, prints
progress, and resolves the revisits left for the end."""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import queue
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from crawler.coalesce import GROUP_ROWS
from crawler.rows import Batch, rows_of
from crawler.sinks import insert_rows
from crawler.storage import StorageTarget, connect
from crawler.warc.batches import FileGroups
from crawler.warc.http import Fetched, Skipped
from crawler.warc.ingest import Report, State, _worker, file_key, token
from crawler.warc.pages import PageBuilder
from crawler.warc.reader import http_records, read_record_at


def ingest(
    paths: list[Path],
    job: str,
    target: StorageTarget,
    *,
    processes: int,
    max_record_bytes: int,
    state_path: Path,
    progress_seconds: float = 5.0,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> Report:
    started = time.monotonic()
    state = State(state_path)
    report = Report()
    keys = {file_key(p): p for p in paths}
    todo = [(str(p), k) for k, p in keys.items() if k not in state.done]
    report.already = len(keys) - len(todo)
    client = connect(target)
    try:
        if state.group_rows is None:
            # A job that an earlier version began stored each batch alone, under its own token:
            # its files interrupted halfway are stored again that way, or their rows twice.
            state.grouping(0 if _has_rows(client, job) else GROUP_ROWS)
        workers = min(processes, len(todo))
        if workers:
            _run_workers(todo, job, client, state, report, workers, max_record_bytes,
                         progress_seconds, err, started)  # fmt: skip
        _resolve_revisits(keys, job, client, state, report, max_record_bytes)
    finally:
        client.close()
    report.write(out, job, time.monotonic() - started, max(1, min(processes, len(todo))))
    return report


def _run_workers(
    todo: list[tuple[str, str]],
    job: str,
    client: Any,
    state: State,
    report: Report,
    workers: int,
    max_record_bytes: int,
    progress_seconds: float,
    err: TextIO,
    started: float,
) -> None:
    # spawn: this process holds chDB and threads, which a forked child must not inherit
    context = multiprocessing.get_context("spawn")
    tasks: Any = context.Queue()
    results: Any = context.Queue(maxsize=4 * workers)
    for task in todo:
        tasks.put(task)
    for _ in range(workers):
        tasks.put(None)
    procs = [
        context.Process(target=_worker, args=(job, max_record_bytes, tasks, results), daemon=True)
        for _ in range(workers)
    ]
    for proc in procs:
        proc.start()
    left, last = len(todo), time.monotonic()
    groups = FileGroups(job, state.group_rows or 0)
    try:
        while left:
            try:
                message = results.get(timeout=1.0)
            except queue.Empty:
                if not any(p.is_alive() for p in procs):
                    raise RuntimeError("the ingest workers died") from None
                continue
            kind, key = message[0], message[1]
            if kind == "batch":
                store_batches(client, groups.add(key, message[2], message[3]), report)
            elif kind == "done":
                _, _, skipped, records, pending = message
                store_batches(client, groups.end(key), report)
                left -= 1
                report.files += 1
                report.records += records
                for skip in skipped:
                    report.skip(key.rpartition(":")[0], skip)
                state.finished(key, pending)
            else:  # "failed": the file could not be read (to its end)
                groups.drop(key)
                left -= 1
                report.files += 1
                report.skip(key.rpartition(":")[0], Skipped(0, "", "unreadable file", message[2]))
            if progress_seconds and time.monotonic() - last >= progress_seconds:
                last = time.monotonic()
                rate = report.pages / (last - started)
                err.write(
                    f"ingest-warc: {report.files}/{len(todo)} files, {report.pages} pages, "
                    f"{report.links} links, {sum(report.skipped.values())} skipped, "
                    f"{rate:.0f} pages/s\n"
                )
                err.flush()
    finally:
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()


def _has_rows(client: Any, job: str) -> bool:
    query = "SELECT count() FROM (SELECT 1 FROM pages WHERE job = {job:String} LIMIT 1)"
    return bool(client.query(query, parameters={"job": job}).result_rows[0][0])


def store_batches(client: Any, batches: list[Batch], report: Report) -> None:
    for batch in batches:
        insert_rows(client, batch.pages, batch.links, batch.token)
        report.pages += len(batch.pages)
        report.links += len(batch.links)


def _resolve_revisits(
    keys: dict[str, Path],
    job: str,
    client: Any,
    state: State,
    report: Report,
    max_record_bytes: int,
) -> None:
    """Revisits whose original is in another file: found by digest in this run's files."""
    if not state.pending:
        return
    wanted = {digest for pending in state.pending.values() for _, digest in pending}
    where: dict[str, tuple[Path, int]] = {}
    with contextlib.redirect_stderr(io.StringIO()):  # warcio's warnings, as in the workers
        for path in keys.values():
            for record in http_records(path, max_record_bytes):
                if isinstance(record, Fetched) and record.kind == "response":
                    digest = record.fields.get("WARC-Payload-Digest", "")
                    if digest in wanted:
                        where.setdefault(digest, (path, record.offset))
    builder = PageBuilder(job)
    for key, pending in list(state.pending.items()):
        if key not in keys:
            continue  # a file of an earlier run not given this time: left for later
        path = keys[key]
        pages, links = [], []
        for offset, digest in pending:
            revisit = read_record_at(path, offset, max_record_bytes)
            original = None
            if digest in where:
                original = read_record_at(where[digest][0], where[digest][1], max_record_bytes)
            if not isinstance(revisit, Fetched) or not isinstance(original, Fetched):
                reason = Skipped(offset, "", "revisit without its original", digest)
                report.skip(str(path), reason)
                continue
            page = builder.page(revisit, path, original)
            if isinstance(page, Skipped):
                report.skip(str(path), page)
                continue
            row, page_links = rows_of(page)
            pages.append(row)
            links.extend(page_links)
        insert_rows(client, pages, links, token(job, key, "revisits"))
        report.pages += len(pages)
        report.links += len(links)
        state.resolved(key)
