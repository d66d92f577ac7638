"""deploy/: the image, the compose file and the Kubernetes manifests, checked by real validators
from PyPI run here: check-jsonschema with the compose-spec schema it ships, kubernetes-validate
with the Kubernetes schemas it ships (strict: unknown fields fail), and the `dockerfile` package
(BuildKit's own parser). Every linkgraph command they run is parsed by linkgraph's own parser.
Nothing here starts a container: this machine has the docker client but no daemon.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import dockerfile
import pytest
import yaml

from crawler.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
MANIFESTS = sorted((DEPLOY / "k8s").glob("*.yaml"))
BIN = Path(sys.executable).parent
KUBERNETES = "1.33.0"


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120)


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def parses(argv: list[str]) -> None:
    """The command line parses as linkgraph's (argparse exits on a bad one)."""
    args = build_parser().parse_args(argv)
    assert args.command == argv[0]


def test_compose_file_is_valid(tmp_path: Path) -> None:
    ok = run(BIN / "check-jsonschema", "--builtin-schema", "vendor.compose-spec", COMPOSE)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    broken = tmp_path / "compose.yaml"
    broken.write_text(COMPOSE.read_text().replace("    restart: on-failure", "    restrat: 1"))
    failed = run(BIN / "check-jsonschema", "--builtin-schema", "vendor.compose-spec", broken)
    assert failed.returncode == 1
    assert "restrat" in failed.stdout


def test_compose_services() -> None:
    services = compose()["services"]
    assert sorted(services) == sorted(
        [f"keeper-{n}" for n in (1, 2, 3)]
        + ["ch-01-1", "ch-01-2", "ch-02-1", "ch-02-2"]
        + [f"valkey-{n}" for n in range(1, 7)]
        + ["valkey-cluster", "migrate", "coordinator", "worker"]
    )
    assert "--cluster-replicas 1" in services["valkey-cluster"]["command"][0]
    commands = {name: services[name]["command"] for name in ("migrate", "coordinator", "worker")}
    assert commands["migrate"] == ["migrate", "--cluster", "linkgraph"]
    for command in commands.values():
        parses([re.sub(r"\$\{(\w+):-([^}]*)\}", r"\2", arg) for arg in command])
    # the schema first, then the service and the workers
    for name in ("coordinator", "worker"):
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}
    build = services["worker"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve().is_file()


def test_compose_clickhouse_cluster_config() -> None:
    """Each server is the replica its macros say, in the shard its macros say."""
    services = compose()["services"]
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (DEPLOY / source).is_file(), source
    config = ET.parse(DEPLOY / "compose" / "clickhouse" / "cluster.xml").getroot()
    shards = config.findall("remote_servers/linkgraph/shard")
    assert len(shards) == 2
    for number, shard in enumerate(shards, 1):
        assert shard.findtext("internal_replication") == "true"
        hosts = [replica.findtext("host") for replica in shard.findall("replica")]
        assert hosts == [f"ch-0{number}-1", f"ch-0{number}-2"]
        for host in hosts:
            env = services[host]["environment"]
            assert (env["CLICKHOUSE_SHARD"], env["CLICKHOUSE_REPLICA"]) == (f"0{number}", host)
    macros = {m.tag: m.get("from_env") for m in config.findall("macros/*")}
    assert macros == {"cluster": None, "shard": "CLICKHOUSE_SHARD", "replica": "CLICKHOUSE_REPLICA"}
    assert config.findtext("macros/cluster") == "linkgraph"
    keepers = [node.findtext("host") for node in config.findall("zookeeper/node")]
    assert keepers == ["keeper-1", "keeper-2", "keeper-3"]
    keeper = ET.parse(DEPLOY / "compose" / "clickhouse" / "keeper.xml").getroot()
    raft = [
        s.findtext("hostname") for s in keeper.findall("keeper_server/raft_configuration/server")
    ]
    assert raft == keepers
    assert {services[k]["environment"]["KEEPER_ID"] for k in keepers} == {"1", "2", "3"}


def test_kubernetes_manifests_are_valid(tmp_path: Path) -> None:
    assert [p.name for p in MANIFESTS] == [
        "config.yaml",
        "migrate-job.yaml",
        "service.yaml",
        "worker.yaml",
    ]
    ok = run(BIN / "kubernetes-validate", "--strict", "-k", KUBERNETES, *MANIFESTS)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.count(" passed for resource ") == 7
    broken = tmp_path / "worker.yaml"
    broken.write_text((DEPLOY / "k8s" / "worker.yaml").read_text().replace("replicas:", "replica:"))
    failed = run(BIN / "kubernetes-validate", "--strict", "-k", KUBERNETES, broken)
    assert failed.returncode != 0
    assert "replica" in failed.stdout + failed.stderr


def test_kubernetes_commands() -> None:
    docs = [doc for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text())]
    config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
    workloads = {d["metadata"]["name"]: d for d in docs if d["kind"] in ("Deployment", "Job")}
    assert sorted(workloads) == ["linkgraph-migrate", "linkgraph-service", "linkgraph-worker"]
    commands = {}
    for name, workload in workloads.items():
        (container,) = workload["spec"]["template"]["spec"]["containers"]
        assert container["envFrom"] == [
            {"configMapRef": {"name": "linkgraph"}},
            {"secretRef": {"name": "linkgraph"}},
        ]
        commands[name] = [
            re.sub(r"\$\((\w+)\)", lambda m: config[m.group(1)], a) for a in container["args"]
        ]
        parses(commands[name])
    assert commands["linkgraph-migrate"] == ["migrate", "--cluster", "linkgraph"]
    assert commands["linkgraph-worker"][:3] == ["worker", "--job", "web"]


def test_dockerfile() -> None:
    """BuildKit's parser reads it; everything it copies is in the build context."""
    commands = dockerfile.parse_file(str(DEPLOY / "Dockerfile"))
    by_kind: dict[str, list[Any]] = {}
    for command in commands:
        by_kind.setdefault(command.cmd, []).append(command)
    (base,) = by_kind["FROM"]
    assert re.fullmatch(r"python:3\.\d+-slim", base.value[0])
    (entrypoint,) = by_kind["ENTRYPOINT"]
    assert entrypoint.json and entrypoint.value == ("linkgraph",)
    ignored = [
        line for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]  # fmt: skip
    for copy in by_kind["COPY"]:
        for source in copy.value[:-1]:
            assert (ROOT / source).exists(), source
            assert source.split("/")[0] not in ignored, source
    installs = [shlex.split(run_.value[0]) for run_ in by_kind["RUN"] if "pip" in run_.value[0]]
    assert any("-e" in words for words in installs)  # the schema files are read beside the code


@pytest.mark.parametrize("path", [COMPOSE, *MANIFESTS])
def test_no_password_in_deploy_files(path: Path) -> None:
    """Passwords come from the environment (compose) or a Secret to replace (Kubernetes)."""
    for url in re.findall(r"https?://[^\s\"']+", path.read_text()):
        password = re.match(r"https?://[^:/@]+:([^@]*)@", url)
        if password:
            assert password.group(1) in (
                "${CLICKHOUSE_PASSWORD:?set CLICKHOUSE_PASSWORD}",
                "CHANGE-ME",
            )
