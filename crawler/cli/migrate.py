"""`linkgraph migrate`: apply the index's schema to a ClickHouse server or cluster, once.

Processes started against a server (crawls, workers, the service, reports) only check that every
schema file is recorded there, and stop with one line naming this command when one is not
(crawler/storage.py): a schema change on a shared server is a deliberate step, run once, not a
race between workers. The embedded index (chDB) still brings itself up to date when opened.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from clickhouse_connect.driver.exceptions import ClickHouseError

from crawler.cli.common import add_storage, storage_target
from crawler.cluster_schema import apply_cluster_schema, create_database
from crawler.errors import UsageError
from crawler.schema import apply_schema
from crawler.storage import connect, first_line

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "migrate",
        help="apply the index's schema once (a ClickHouse server, or a cluster with --cluster)",
        description="Run the schema files not yet applied to the index (deploy/clickhouse/; "
        "with --cluster, their cluster form) and record them. Processes started against "
        "a server only check the schema; run this first, and after each upgrade.",
    )
    add_storage(p)
    p.add_argument(
        "--cluster",
        metavar="NAME",
        default="",
        help="a cluster in the server's remote_servers: Replicated tables on every node "
        "(ON CLUSTER), Distributed tables under the usual names",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    target = storage_target(args)
    if args.cluster and target.embedded:
        raise UsageError("--cluster needs a ClickHouse server: give --clickhouse URL")
    client = connect(target, migrate=False)
    try:
        if args.cluster:
            _check_cluster(client, args.cluster)
            create_database(client, target.database, args.cluster)
            ran = apply_cluster_schema(client, args.cluster)
        else:
            ran = apply_schema(client)
    except ClickHouseError as exc:
        raise UsageError(
            f"schema change failed at {target.describe()}: {first_line(str(exc))} (the files "
            "before it are recorded: fix the cause and run migrate again)"
        ) from None
    finally:
        client.close()
    where = target.describe() + (f" (cluster {args.cluster})" if args.cluster else "")
    if ran:
        print(f"{where}: applied {len(ran)} schema files, {ran[0]} to {ran[-1]}")
    else:
        print(f"{where}: the schema is up to date")
    return 0


def _check_cluster(client: Client, cluster: str) -> None:
    known = [
        row[0] for row in client.query("SELECT DISTINCT cluster FROM system.clusters").result_rows
    ]
    if cluster not in known:
        raise UsageError(
            f"no cluster {cluster!r} in the server's remote_servers (it has: "
            f"{', '.join(sorted(known)) or 'none'})"
        )
