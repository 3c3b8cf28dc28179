#!/usr/bin/python3
"""Checks docker-compose.yml without Docker (it cannot run on the build machines):
it parses; the services are the ones the README promises; every file it mounts or builds
from exists; host ports are unique and bound to loopback; named volumes are declared and
none is unused; the services taskd and Prometheus talk to exist under the names used;
and taskd's config passes `taskd --check-config` with the compose environment.

Usage: check_compose.py REPO_ROOT TASKD_BINARY  (exit 1 with every problem listed)."""
import os
import re
import subprocess
import sys

import yaml

root, taskd = sys.argv[1], sys.argv[2]
problems = []


def need(cond, msg):
    if not cond:
        problems.append(msg)


with open(os.path.join(root, "docker-compose.yml")) as f:
    compose = yaml.safe_load(f)
services = compose.get("services", {})
need(set(services) == {"taskd", "postgres", "redis", "prometheus", "grafana"},
     f"services: {sorted(services)}")
declared = set((compose.get("volumes") or {}).keys())
used, host_ports = set(), []
for name, svc in services.items():
    build = svc.get("build")
    if build is not None:
        context = build if isinstance(build, str) else build.get("context", ".")
        dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        need(os.path.isfile(os.path.join(root, context, dockerfile)),
             f"{name}: build file {dockerfile} missing")
    for v in svc.get("volumes", []):
        src = v.split(":")[0]
        if src.startswith("./") or src.startswith("/"):
            need(os.path.exists(os.path.join(root, src)), f"{name}: mounts missing {src}")
        else:
            used.add(src)
            need(src in declared, f"{name}: volume {src} not declared")
    for p in svc.get("ports", []):
        parts = str(p).split(":")
        need(len(parts) == 3 and parts[0] == "127.0.0.1",
             f"{name}: port {p} is not bound to 127.0.0.1")
        host_ports.append(parts[-2])
    for dep in svc.get("depends_on", []):
        need(dep in services, f"{name}: depends on unknown {dep}")
need(len(host_ports) == len(set(host_ports)), f"host ports reused: {host_ports}")
need(used == declared, f"volumes declared but unused: {sorted(declared - used)}")

# Who talks to whom: hostnames in URLs must be services, with their container ports.
env = services["taskd"].get("environment", {})
for key in ("TASKD_PG_URL", "TASKD_REDIS_URL"):
    m = re.match(r"\w+://(?:[^@]*@)?([\w.-]+):(\d+)", env.get(key, ""))
    need(m is not None and m.group(1) in services, f"taskd: {key} names no service")
with open(os.path.join(root, "deploy/compose/prometheus.yml")) as f:
    prom = yaml.safe_load(f)
targets = [t for sc in prom["scrape_configs"] for c in sc["static_configs"] for t in c["targets"]]
need(targets == ["taskd:8080"], f"prometheus targets {targets}")
need(prom["scrape_configs"][0]["job_name"] == "taskd", "the alert rules select job=taskd")
taskd_ports = [str(p).split(":")[-1] for p in services["taskd"].get("ports", [])]
need("8080" in taskd_ports, "taskd's container port 8080 is not published")
rules = [v.split(":")[1] for v in services["prometheus"]["volumes"] if "alert-rules" in v]
need(rules == prom["rule_files"], f"rule_files {prom['rule_files']} vs mounted {rules}")
for f in ("deploy/compose/grafana/datasources.yml", "deploy/compose/grafana/dashboards.yml"):
    with open(os.path.join(root, f)) as fh:
        yaml.safe_load(fh)

# taskd's mounted config, checked by taskd itself with the compose environment.
cfg = [v.split(":")[0] for v in services["taskd"]["volumes"] if v.endswith("taskd.toml:ro")]
need(len(cfg) == 1, "taskd: no config mounted")
if cfg:
    run_env = dict(os.environ, TASKD_PG_URL=env.get("TASKD_PG_URL", ""),
                   TASKD_REDIS_URL=env.get("TASKD_REDIS_URL", ""))
    r = subprocess.run([taskd, "--check-config", os.path.join(root, cfg[0])], env=run_env,
                       capture_output=True, text=True)
    need(r.returncode == 0, f"taskd --check-config: {r.stdout}{r.stderr}")

if problems:
    print("docker-compose.yml:\n  " + "\n  ".join(problems))
    sys.exit(1)
print(f"docker-compose.yml: ok ({len(services)} services, {len(declared)} volumes)")
