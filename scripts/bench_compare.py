#!/usr/bin/env python3
"""Compares a scripts/bench.sh run with a baseline (bench/baseline.json).

  bench_compare.py BASELINE RESULTS.jsonl [--tolerance 0.25] [--strict]
      prints each scenario's tracked figures, the baseline's and the change; a figure
      worse than the baseline by more than the tolerance is flagged. Machines are noisy:
      it only reports (exit 0) unless --strict, which exits 1 when anything is flagged.
  bench_compare.py --make-baseline RESULTS.jsonl
      prints a baseline made from a run (scripts/bench.sh --write-baseline uses it).
Standard library only."""
import json
import platform
import sys

# (scenario field path, better): the figures a regression shows in.
TRACKED = [
    ("jobs_per_s", "higher"),
    ("to_processor_start_ms.p99", "lower"),
    ("add_latency_ms.p99", "lower"),
    ("restart_to_ready_s", "lower"),
    ("taskd_peak_rss_mb", "lower"),
]


def field(obj, path):
    for part in path.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj if isinstance(obj, (int, float)) and not isinstance(obj, bool) else None


def read_run(path):
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            figures = {p: field(r, p) for p, _ in TRACKED}
            out[r["scenario"]] = {p: v for p, v in figures.items() if v is not None}
    return out


def make_baseline(results):
    run = read_run(results)
    quick = "_quick" in results
    return {
        "about": "scripts/bench.sh " + ("--quick " if quick else "") +
                 "figures; refresh with scripts/bench.sh --quick --write-baseline bench/baseline.json",
        "quick": quick,
        "machine": f"{platform.machine()}, {platform.system()} {platform.release()}",
        "scenarios": run,
    }


def compare(baseline_path, results, tolerance, strict):
    with open(baseline_path) as f:
        base = json.load(f)["scenarios"]
    now = read_run(results)
    better = dict(TRACKED)
    flagged = []
    print(f"{'scenario':<22} {'figure':<27} {'baseline':>10} {'now':>10} {'change':>8}")
    for sc in sorted(set(base) | set(now)):
        if sc not in now:
            print(f"{sc:<22} (not run)")
            continue
        if sc not in base:
            print(f"{sc:<22} (not in the baseline)")
            continue
        for path, value in now[sc].items():
            b = base[sc].get(path)
            if b is None or b == 0:
                continue
            change = (value - b) / b
            worse = -change if better[path] == "higher" else change
            mark = "  SLOWER" if worse > tolerance else ""
            if mark:
                flagged.append(f"{sc} {path}")
            print(f"{sc:<22} {path:<27} {b:>10.4g} {value:>10.4g} {change:>+7.0%}{mark}")
    if flagged:
        print(f"\n{len(flagged)} figure(s) worse than the baseline by more than "
              f"{tolerance:.0%}: {', '.join(flagged)}")
    else:
        print(f"\nnothing worse than the baseline by more than {tolerance:.0%}")
    return 1 if flagged and strict else 0


def main(argv):
    if len(argv) == 2 and argv[0] == "--make-baseline":
        print(json.dumps(make_baseline(argv[1]), indent=2, sort_keys=True))
        return 0
    args = [a for a in argv if not a.startswith("--")]
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    tolerance = 0.25
    if "--tolerance" in argv:
        tolerance = float(argv[argv.index("--tolerance") + 1])
        args = [a for a in args if a != argv[argv.index("--tolerance") + 1]]
    return compare(args[0], args[1], tolerance, "--strict" in argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
