#!/usr/bin/env python3
"""A taskd worker in plain Python (standard library only).

Leases tasks of the given types, runs handle() on each payload, heartbeats while it
works, and reports the result or the error. Usage:

    TASKD_URL=http://127.0.0.1:8080 python3 worker.py render [more types...]

TASKD_API_TOKEN is sent as a Bearer token when set.
Set MAX_TASKS to stop after that many tasks (used by the tests).
"""
import json
import os
import socket
import sys
import threading
import urllib.error
import urllib.request

URL = os.environ.get("TASKD_URL", "http://127.0.0.1:8080")
WORKER = f"{socket.gethostname()}:{os.getpid()}"
LEASE_MS = 30_000


def call(path, body):
    headers = {"Content-Type": "application/json"}
    if os.environ.get("TASKD_API_TOKEN"):
        headers["Authorization"] = "Bearer " + os.environ["TASKD_API_TOKEN"]
    req = urllib.request.Request(URL + path, json.dumps(body).encode(), headers)
    try:
        with urllib.request.urlopen(req, timeout=70) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def handle(task):
    """Your work goes here: return a JSON value, or raise to fail the attempt."""
    return {"echo": task["payload"], "by": WORKER}


def run(task):
    token = task["lease"]["token"]
    path = f"/api/v1/tasks/{task['id']}"
    stop = threading.Event()

    def heartbeat():  # keep the lease while handle() runs
        while not stop.wait(LEASE_MS / 3000):
            call(path + "/heartbeat", {"token": token})

    threading.Thread(target=heartbeat, daemon=True).start()
    try:
        status, _ = call(path + "/complete", {"token": token, "result": handle(task)})
    except Exception as e:  # the attempt failed: taskd retries it per the type's policy
        status, _ = call(path + "/fail", {"token": token, "error": str(e)})
    finally:
        stop.set()
    if status == 409:
        print(f"task {task['id']}: lease lost (it ran again elsewhere)", file=sys.stderr)


def main():
    types = sys.argv[1:] or ["default"]
    left = int(os.environ.get("MAX_TASKS", "0")) or None
    while left is None or left > 0:
        status, body = call("/api/v1/workers/lease",
                            {"worker": WORKER, "types": types, "max": 1, "wait_ms": 30_000, "lease_ms": LEASE_MS})
        if status != 200:
            sys.exit(f"lease failed: {status} {body}")
        for task in body["tasks"]:
            run(task)
            if left is not None:
                left -= 1


if __name__ == "__main__":
    main()
