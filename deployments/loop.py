"""The closed loop on loopback, with the real components: two site stand-ins, the metrics exporter,
Prometheus (Debian `prometheus`) with the shipped rules, Alertmanager (`prometheus-alertmanager`)
routing SiteDown to the alert receiver with a bearer token from a file, and the failover deployment
with prefect.yaml's trigger, run by a process worker of its own pool. Used by tests/observe and `make demo-loop`.

    python -m deployments.loop deploy --plan NAME --plans-file PATH   # deployment, then its worker
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

from deployments.alert_receiver import receiver_process
from deployments.metrics_exporter import exporter_process
from deployments.paths import REPO_ROOT
from deployments.processes import ManagedProcess
from multicloud.clouds import create_bucket
from multicloud.config import Profile, load_plans
from multicloud.testing.failover_setup import prepare
from multicloud.testing.sites import SiteService

PLAN = "loop-primary-to-secondary"
WORK_POOL = "multicloud-loop-pool"  # its own: the worker must not pick up other deployments' runs
TOKEN_ENV = "MULTICLOUD_LOOP_ALERT_TOKEN"
RULES = REPO_ROOT / "deployments" / "prometheus" / "rules.yml"
TOOLS = {"prometheus": "prometheus", "prometheus-alertmanager": "prometheus-alertmanager"}  # binary: package
HOST = "127.0.0.1"


@dataclass(frozen=True)
class LoopSettings:
    """The loop's intervals: short, so that site down to validated failover stays well under a minute."""

    scrape_interval: str = "1s"
    evaluation_interval: str = "1s"
    site_down_for: str = "2s"  # the shipped rule says 1m; the loop shortens only this
    group_wait: str = "1s"
    group_interval: str = "5s"


def missing_tools() -> list[str]:
    """The Debian packages whose binaries are not on PATH."""
    return [package for binary, package in TOOLS.items() if shutil.which(binary) is None]


def free_port() -> int:
    """A port free now (Prometheus and Alertmanager cannot report the port they bound)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def plan_data(tag: str, primary: int, secondary: int) -> dict:
    site = [("primary", "aws", primary), ("secondary", "azure", secondary)]
    return {"plans": [{
        "name": PLAN, "primary": "primary", "secondary": "secondary",
        "sites": [{"name": name, "cloud": cloud, "dns_value": f"{name}.{tag}.internal",
                   "health_urls": [f"http://{HOST}:{port}/health"],
                   "write_switch": {"kind": "http", "url": f"http://{HOST}:{port}/admin"}} for name, cloud, port in site],
        "datasets": [{"name": "orders", "urls": {"primary": f"s3://{tag}-p/", "secondary": f"az://{tag}-s/"}}],
        "dns": {"zone": f"{tag}.internal.", "record": f"app.{tag}.internal."},
        "rpo_seconds": 3600, "rto_seconds": 60, "approval": "auto", "journal": f"s3://{tag}-journal/",
        "probe_timeout_seconds": 2, "probe_attempts": 1,
    }]}


def loop_rules(site_down_for: str) -> dict:
    """The shipped rules, with SiteDown's `for` shortened to the loop's."""
    rules = yaml.safe_load(RULES.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == "SiteDown":
                rule["for"] = site_down_for
    return rules


def prometheus_config(s: LoopSettings, rules: Path, alertmanager: int, sites: dict[str, int], exporter: int,
                      receiver: int) -> dict:
    def job(name: str, targets: list[tuple[int, dict]]) -> dict:
        return {"job_name": name, "static_configs": [{"targets": [f"{HOST}:{p}"], "labels": labels}
                                                     for p, labels in targets]}

    return {"global": {"scrape_interval": s.scrape_interval, "scrape_timeout": s.scrape_interval,
                       "evaluation_interval": s.evaluation_interval},
            "rule_files": [str(rules)],
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"{HOST}:{alertmanager}"]}]}]},
            "scrape_configs": [job("multicloud-sites", [(p, {"site": n}) for n, p in sites.items()]),
                               job("multicloud-pipelines", [(exporter, {})]),
                               job("multicloud-alert-receiver", [(receiver, {})])]}


def alertmanager_config(s: LoopSettings, receiver: int, token_file: Path, wrong_token_file: Path) -> dict:
    """SiteDown to the receiver; the same notification also goes out once more with a wrong token,
    which the receiver must refuse without starting anything."""
    def hook(token: Path) -> dict:
        return {"url": f"http://{HOST}:{receiver}/alerts", "send_resolved": True, "max_alerts": 0,
                "http_config": {"authorization": {"type": "Bearer", "credentials_file": str(token)}}}

    return {"route": {"receiver": "none", "group_by": ["alertname", "site"], "group_wait": s.group_wait,
                      "group_interval": s.group_interval, "repeat_interval": "4h",
                      "routes": [{"receiver": "multicloud-failover", "matchers": ['alertname="SiteDown"']}]},
            "receivers": [{"name": "none"},
                          {"name": "multicloud-failover", "webhook_configs": [hook(token_file), hook(wrong_token_file)]}]}


class ClosedLoop:
    """Everything of the loop under `state`, started by `start()` and stopped by `stop()` in reverse."""

    def __init__(self, state: Path, prefect_api: str, profile: Profile, tag: str, env: dict[str, str],
                 settings: LoopSettings = LoopSettings()):
        self.state, self.prefect_api, self.profile, self.tag, self.settings = state, prefect_api, profile, tag, settings
        self.metrics_url = f"s3://{tag}-metrics/"
        self.env = {**env, "PREFECT_API_URL": prefect_api, "MULTICLOUD_METRICS_URL": self.metrics_url,
                    "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_HOME": str(state / "prefect-home")}
        self.sites = {"primary": SiteService("primary"), "secondary": SiteService("secondary")}
        self.processes: list[ManagedProcess] = []
        self.prometheus_port = self.alertmanager_port = 0
        self.token = secrets.token_urlsafe(24)

    # ---- start and stop ---------------------------------------------------------------------

    def start(self) -> "ClosedLoop":
        for site in self.sites.values():
            site.start()
        self.plans_file = self._write_plan()
        create_bucket(self.profile.connection_for("aws"), f"{self.tag}-metrics")
        exporter = self._run(exporter_process(self.state, self.metrics_url, 0, self.env, self.plans_rules(),
                                              self.plans_file))
        receiver = self._run(receiver_process(self.state, 0, {**self.env, TOKEN_ENV: self.token},
                                              self._receiver_config()))
        self._run(ManagedProcess("failover-worker", [sys.executable, "-m", "deployments.loop", "deploy",
                                                         "--plan", PLAN, "--plans-file", str(self.plans_file)],
                                 None, self.state, env=self.env, cwd=REPO_ROOT))
        self.alertmanager_port = self._alertmanager(receiver.port)
        self.prometheus_port = self._prometheus(exporter.port, receiver.port)
        self.receiver_port = receiver.port
        return self

    def stop(self) -> None:
        for proc in reversed(self.processes):
            proc.stop()
        for site in self.sites.values():
            site.stop()

    def __enter__(self) -> "ClosedLoop":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

    def _run(self, proc: ManagedProcess, timeout: float = 60) -> ManagedProcess:
        self.processes.append(proc)
        proc.start()
        proc.wait_healthy(timeout)
        return proc

    def _write_plan(self) -> Path:
        path = self.state / "plans.yaml"
        path.write_text(yaml.safe_dump(plan_data(self.tag, self.sites["primary"].port, self.sites["secondary"].port)))
        prepare(load_plans(path).plan(PLAN, str(path)), self.profile)
        return path

    def plans_rules(self) -> Path:
        """A replication rule that copies the plan's data set: its RPO is the plan's."""
        path = self.state / "replication.yaml"
        if not path.exists():
            path.write_text(yaml.safe_dump({"rules": [{"name": f"{self.tag}-orders", "source": f"s3://{self.tag}-p/",
                                                       "targets": [f"az://{self.tag}-s/"], "compare": "hash"}]}))
        return path

    def _receiver_config(self) -> Path:
        path = self.state / "alerts.yaml"
        path.write_text(yaml.safe_dump({
            "token_env": TOKEN_ENV, "database": str(self.state / "receiver.sqlite3"), "cancel_on_resolved": True,
            "prefect_timeout_seconds": 5, "prefect_api_url": self.prefect_api,
            "routes": [{"match": {"alertname": "SiteDown", "site": "primary"}, "plan": PLAN}]}))
        return path

    def _alertmanager(self, receiver: int) -> int:
        port, base = free_port(), self.state / "alertmanager"
        base.mkdir(parents=True, exist_ok=True)
        token, wrong = base / "token", base / "wrong-token"
        token.write_text(self.token)
        wrong.write_text("not-" + self.token)
        for f in (token, wrong):
            f.chmod(0o600)
        config = base / "alertmanager.yml"
        config.write_text(yaml.safe_dump(alertmanager_config(self.settings, receiver, token, wrong)))
        self._run(ManagedProcess("alertmanager", [
            shutil.which("prometheus-alertmanager"), f"--config.file={config}", f"--storage.path={base / 'data'}",
            f"--web.listen-address={HOST}:{port}", "--cluster.listen-address=", "--log.level=debug"],
            f"http://{HOST}:{port}/-/ready", self.state, port=port))
        return port

    def _prometheus(self, exporter: int, receiver: int) -> int:
        port, base = free_port(), self.state / "prometheus"
        base.mkdir(parents=True, exist_ok=True)
        rules = base / "rules.yml"
        rules.write_text(yaml.safe_dump(loop_rules(self.settings.site_down_for), sort_keys=False))
        config = base / "prometheus.yml"
        sites = {name: site.port for name, site in self.sites.items()}
        config.write_text(yaml.safe_dump(prometheus_config(self.settings, rules, self.alertmanager_port, sites,
                                                           exporter, receiver)))
        self._run(ManagedProcess("prometheus", [
            shutil.which("prometheus"), f"--config.file={config}", f"--storage.tsdb.path={base / 'data'}",
            f"--web.listen-address={HOST}:{port}"], f"http://{HOST}:{port}/-/ready", self.state, port=port))
        return port

    # ---- what the loop shows ------------------------------------------------------------------

    def site_down(self, name: str = "primary") -> None:
        self.sites[name].state["healthy"] = False

    def query(self, promql: str) -> list[dict]:
        """An instant query to Prometheus's HTTP API; the result vector."""
        url = f"http://{HOST}:{self.prometheus_port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=10) as resp:
            body = json.loads(resp.read())
        if body["status"] != "success":
            raise RuntimeError(f"Prometheus query {promql!r} failed: {body}")
        return body["data"]["result"]

    def wait_for(self, promql: str, timeout: float = 60) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.query(promql)
            if found:
                return found
            time.sleep(0.5)
        raise AssertionError(f"Prometheus had no result for {promql!r} within {timeout:.0f}s; see {self.state}/logs")


@dataclass(frozen=True)
class LoopRun:
    """One pass of the loop: the failover run it started, and site down to validated, in seconds."""

    run: object  # the Prefect flow run
    failover_id: str
    site_down_to_validated_seconds: float | None


def runs_of_loop_deployment() -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

    with get_client(sync_client=True) as client:
        return client.read_flow_runs(deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[PLAN])))


def wait_for_deployment(timeout: float = 90) -> None:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            try:
                client.read_deployment_by_name(f"failover/{PLAN}")
                return
            except ObjectNotFound:
                time.sleep(0.5)
    raise RuntimeError(f"the failover deployment {PLAN} did not appear within {timeout:.0f}s")


def wait_for_final_runs(timeout: float = 120) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = runs_of_loop_deployment()
        if runs and all(r.state.is_final() for r in runs):
            return runs
        time.sleep(0.5)
    raise RuntimeError(f"no finished failover run within {timeout:.0f}s: {runs_of_loop_deployment()}")


def fail_primary(loop: "ClosedLoop") -> LoopRun:
    """Stop the primary's health once both sites are up in Prometheus; follow the failover it starts."""
    from multicloud.clouds import open_store
    from multicloud.engine.journal import Journal

    wait_for_deployment()
    loop.wait_for('count(up{job="multicloud-sites"} == 1) == 2')
    site_down = time.time()
    loop.site_down("primary")
    runs = wait_for_final_runs()
    run = runs[0]
    fid = run.parameters["failover_id"]
    plan = load_plans(loop.plans_file).plan(PLAN, str(loop.plans_file))
    validated = [e for e in Journal(open_store(plan.journal, loop.profile), fid).entries()
                 if (e.step, e.outcome) == ("validate", "completed")]
    return LoopRun(run, fid, validated[-1].at.timestamp() - site_down if validated else None)


def deploy(plan: str, plans_file: str) -> None:
    """The failover deployment for `plan` with prefect.yaml's trigger (its resource the plan's), in
    the loop's own process work pool, then this process becomes that pool's worker."""
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.events import DeploymentEventTrigger
    from prefect.exceptions import ObjectAlreadyExists

    from deployments.bootstrap import bootstrap
    from flows.failover import failover

    asyncio.run(bootstrap())
    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(WorkPoolCreate(name=WORK_POOL, type="process"))
        except ObjectAlreadyExists:
            pass
    spec = next(d for d in yaml.safe_load((REPO_ROOT / "prefect.yaml").read_text())["deployments"]
                if d["entrypoint"] == "flows/failover.py:failover")
    triggers = [DeploymentEventTrigger(**{**{k: v for k, v in t.items() if k != "type"},
                                          "match": {"prefect.resource.id": f"multicloud.failover.plan.{plan}"}})
                for t in spec["triggers"]]
    failover.to_deployment(name=plan, parameters={"plan": plan, "plans_file": plans_file, "profile": "local"},
                           work_pool_name=WORK_POOL, job_variables={"working_dir": str(REPO_ROOT)},
                           triggers=triggers).apply()
    prefect = str(Path(sys.executable).parent / "prefect")
    os.execv(prefect, [prefect, "worker", "start", "--pool", WORK_POOL, "--type", "process"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m deployments.loop")
    parser.add_argument("command", choices=["deploy"])
    parser.add_argument("--plan", required=True)
    parser.add_argument("--plans-file", required=True)
    args = parser.parse_args(argv)
    deploy(args.plan, args.plans_file)


if __name__ == "__main__":
    main()
