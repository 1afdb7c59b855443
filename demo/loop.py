"""`make demo-loop`: the closed loop once, on a Prefect server of its own and the local clouds, with
the real Prometheus and Alertmanager: the primary site's health stops, and the time from "site
down" to "validated failover" is printed. Everything it starts it stops.

    python -m demo.loop
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from deployments import cloudstack
from deployments.loop import ClosedLoop, LoopSettings, fail_primary, free_port, missing_tools, runs_of_loop_deployment
from deployments.processes import local_prefect_server


def main() -> int:
    missing = missing_tools()
    if missing:
        print(f"demo-loop needs the Debian package(s) {', '.join(missing)}: apt-get install -y {' '.join(missing)}",
              file=sys.stderr)
        return 2
    started = cloudstack.up()
    settings = LoopSettings()
    try:
        with tempfile.TemporaryDirectory(prefix="multicloud-loop-") as tmp:
            state = Path(tmp)
            server = local_prefect_server(state / "prefect", free_port())
            server.ensure(timeout=120)
            try:
                api = server.env["PREFECT_API_URL"]
                os.environ.update({"PREFECT_API_URL": api, "MULTICLOUD_PROFILE": "local"})
                with ClosedLoop(state, api, cloudstack.local_profile(), f"loop-{int(time.time())}",
                                {"MULTICLOUD_PROFILE": "local"}, settings) as loop:
                    print(f"prometheus http://127.0.0.1:{loop.prometheus_port}  alertmanager "
                          f"http://127.0.0.1:{loop.alertmanager_port}  receiver http://127.0.0.1:{loop.receiver_port}")
                    passed = fail_primary(loop)
                    time.sleep(6)  # past group_interval: a repeated delivery would show as a second run
                    runs = runs_of_loop_deployment()
                    print(f"failover run {passed.run.name}: {passed.run.state.name}; runs started: {len(runs)}")
                    print(f"site down -> validated failover: {passed.site_down_to_validated_seconds:.1f} s "
                          f"(scrape and evaluation every {settings.evaluation_interval}, SiteDown for "
                          f"{settings.site_down_for}, group_wait {settings.group_wait})")
                    ok = passed.run.state.is_completed() and len(runs) == 1
            finally:
                server.stop()
    finally:
        cloudstack.down(started)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
