#!/usr/bin/env python3
"""Helpers for monitoring_test.sh (python3 standard library only).

Subcommands (each exits 1 with a message on stderr when a check fails):

  exprs dashboard FILE.json      every PromQL expression of a Grafana dashboard, one JSON
                                 object per line: {"kind", "title", "expr", "query"}, query
                                 being expr with Grafana's variables made concrete
  exprs rules RULES_API.json     the same for the rules Prometheus loaded (/api/v1/rules)
  exprs rulesfile RULES.yml      the same from a rules file (minimal YAML reading: the
                                 `alert:` names and `expr:` values, inline or block scalars)
  names EXPRS.jsonl METRICS.txt  every metric name the expressions use must be a series
                                 name of the exposition METRICS.txt (or `up`); lists unknown
  names-list EXPRS.jsonl         the metric names the expressions use, one per line
  grafana-subst EXPR             the expression with Grafana's variables made concrete
  flatten METRICS.txt            the samples as `name TAB k=v<US>k=v... TAB value` lines
                                 (US: the 0x1f unit separator), for lookups with awk
  value METRICS.txt NAME [k=v]   the value of the one sample NAME{k=v,...} (other labels
                                 free); fails when none or several match
  labels METRICS.txt NAME LABEL  the distinct values of LABEL on NAME's samples
  histograms METRICS.txt         every histogram: buckets cumulative, +Inf == _count
  dashboard-lint FILE.json       structural checks of the dashboard (ids, datasources,
                                 variables, schemaVersion)
"""
import json
import math
import re
import sys

PROMQL_KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
    "group_right", "offset", "bool", "inf", "nan", "start", "end",
}
# Prometheus's own series that a rule or panel may use without taskd exporting them.
ALLOWED_FOREIGN = {"up"}


def die(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


# ---------------------------------------------------------------- expressions

def grafana_subst(expr):
    """Makes a dashboard expression a plain PromQL query for Prometheus's API."""
    for var, val in (("__rate_interval", "1m"), ("__interval", "15s"), ("__range", "1h"),
                     ("__range_s", "3600"), ("__interval_ms", "15000")):
        expr = expr.replace("${" + var + "}", val).replace("$" + var, val)
    # any other variable ($instance, $type, ${type}, ${type:regex}): match everything
    return re.sub(r"\$\{\w+(?::\w+)?\}|\$\w+", ".*", expr)


def label_values_metric(query):
    """`label_values(metric{...}, label)` -> `metric{...}`; `label_values(label)` -> None."""
    m = re.match(r"\s*label_values\s*\((.*),\s*\w+\s*\)\s*$", query, re.S)
    if m:
        return m.group(1)
    if re.match(r"\s*label_values\s*\(\s*\w+\s*\)\s*$", query):
        return None
    m = re.match(r"\s*query_result\s*\((.*)\)\s*$", query, re.S)
    if m:
        return m.group(1)
    return query


def dashboard_exprs(path):
    with open(path) as f:
        dash = json.load(f)
    out = []

    def walk_panels(panels):
        for p in panels or []:
            for t in p.get("targets", []) or []:
                if t.get("expr"):
                    out.append({"kind": "panel", "title": p.get("title", ""), "expr": t["expr"]})
            walk_panels(p.get("panels"))

    walk_panels(dash.get("panels"))
    for a in (dash.get("annotations") or {}).get("list", []):
        if a.get("expr"):
            out.append({"kind": "annotation", "title": a.get("name", ""), "expr": a["expr"]})
    for v in (dash.get("templating") or {}).get("list", []):
        if v.get("type") != "query":
            continue
        q = v.get("query")
        if isinstance(q, dict):
            q = q.get("query")
        if q:
            inner = label_values_metric(q)
            if inner:
                out.append({"kind": "variable", "title": v.get("name", ""), "expr": inner})
    return out


def rules_api_exprs(path):
    with open(path) as f:
        doc = json.load(f)
    out = []
    for g in doc["data"]["groups"]:
        for r in g["rules"]:
            out.append({"kind": "rule", "title": r.get("name", ""), "expr": r["query"]})
    return out


def rules_file_exprs(path):
    """Minimal reader for our rules file: `- alert:`/`- record:` names and `expr:` values."""
    lines = open(path).read().split("\n")
    out, name, i = [], "", 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"\s*-?\s*(alert|record):\s*(.+?)\s*$", line)
        if m:
            name = m.group(2).strip("'\"")
        m = re.match(r"(\s*)expr:\s*(.*?)\s*$", line)
        if m:
            indent, val = len(m.group(1)), m.group(2)
            if val[:1] in ("|", ">"):
                block = []
                i += 1
                while i < len(lines) and (not lines[i].strip() or
                                          len(lines[i]) - len(lines[i].lstrip()) > indent):
                    block.append(lines[i].strip())
                    i += 1
                out.append({"kind": "rule", "title": name, "expr": "\n".join(block).strip()})
                continue
            if val[:1] in ("'", '"'):
                val = val[1:-1]
            out.append({"kind": "rule", "title": name, "expr": val})
        i += 1
    return out


def metric_names(expr):
    """Metric names referenced by a PromQL expression (functions, keywords, labels,
    grouping clauses, durations and numbers excluded)."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    names = set()
    # {__name__="x"} / {__name__=~"x"} selectors name metrics inside braces
    for m in re.finditer(r'__name__\s*=\s*"([^"]*)"', expr):
        names.add(m.group(1))
    s = re.sub(r"\{[^{}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    s = re.sub(r"\$\{?\w+(?::\w+)?\}?", " ", s)
    s = re.sub(r"(?<![A-Za-z0-9_:])\d[\w.]*", " ", s)
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", s):
        tok = m.group(0)
        rest = s[m.end():].lstrip()
        if rest.startswith("("):
            continue  # a function or an aggregation
        if tok.lower() in PROMQL_KEYWORDS:
            continue
        names.add(tok)
    return names


# ---------------------------------------------------------------- exposition

SAMPLE_RE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?\s*$")
LABEL_RE = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


def parse_labels(text):
    labels, pos = {}, 0
    text = text or ""
    while pos < len(text):
        m = LABEL_RE.match(text, pos)
        if not m:
            die("cannot parse labels: {%s}" % text)
        labels[m.group(1)] = re.sub(r"\\(.)", lambda x: {"n": "\n"}.get(x.group(1), x.group(1)),
                                    m.group(2))
        pos = m.end()
    return labels


def parse_exposition(path):
    samples = []
    for line in open(path):
        line = line.rstrip("\n")
        if not line.strip() or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            die("cannot parse exposition line: %r" % line)
        samples.append((m.group(1), parse_labels(m.group(3)), float(m.group(4))))
    return samples


def matching(samples, name, want):
    return [(n, l, v) for n, l, v in samples
            if n == name and all(l.get(k) == val for k, val in want.items())]


def fmt_labels(labels):
    return "{" + ",".join('%s="%s"' % kv for kv in sorted(labels.items())) + "}"


def fmt_value(v):
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def check_histograms(samples):
    problems, groups = [], {}
    bases = {n[:-len("_bucket")] for n, _, _ in samples if n.endswith("_bucket")}
    for n, l, v in samples:
        for suffix in ("_bucket", "_count", "_sum"):
            if n.endswith(suffix) and n[:-len(suffix)] in bases:
                base = n[:-len(suffix)]
                key_labels = {k: x for k, x in l.items() if k != "le"}
                key = (base, tuple(sorted(key_labels.items())))
                g = groups.setdefault(key, {"buckets": [], "count": None, "sum": None})
                if suffix == "_bucket":
                    g["buckets"].append((float(l["le"]), v))
                else:
                    g[suffix[1:]] = v
    for (base, lk), g in sorted(groups.items()):
        where = base + fmt_labels(dict(lk))
        b = sorted(g["buckets"])
        if not b or b[-1][0] != math.inf:
            problems.append("%s: no +Inf bucket" % where)
            continue
        if any(b[i][1] > b[i + 1][1] for i in range(len(b) - 1)):
            problems.append("%s: buckets are not cumulative: %s" % (where, b))
        if g["count"] is None or g["sum"] is None:
            problems.append("%s: missing _count or _sum" % where)
        elif g["count"] != b[-1][1]:
            problems.append("%s: _count %s != +Inf bucket %s" % (where, g["count"], b[-1][1]))
        elif g["sum"] < 0:
            problems.append("%s: negative _sum" % where)
    return problems, len(groups)


# ---------------------------------------------------------------- dashboard lint

def dashboard_lint(path):
    with open(path) as f:
        dash = json.load(f)
    problems = []
    if not isinstance(dash.get("schemaVersion"), int) or dash["schemaVersion"] < 36:
        problems.append("schemaVersion missing or < 36")
    for key in ("title", "uid", "panels", "templating"):
        if not dash.get(key):
            problems.append("missing %s" % key)
    variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    ds_vars = [n for n, v in variables.items() if v.get("type") == "datasource"]
    inputs = [i.get("name") for i in dash.get("__inputs", [])]
    if not ds_vars and not inputs:
        problems.append("no datasource variable and no __inputs")
    tv = variables.get("type")
    if not tv:
        problems.append("no `type` template variable")
    else:
        q = tv.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        if not re.match(r"\s*label_values\(\s*taskd_tasks\b.*,\s*type\s*\)\s*$", q or ""):
            problems.append("`type` variable is not label_values(taskd_tasks..., type): %r" % q)
    ds_refs = {"${%s}" % n for n in ds_vars} | {"$%s" % n for n in ds_vars} | \
              {"${%s}" % n for n in inputs}
    ids, n_panels = set(), 0

    def check_ds(ds, where):
        uid = ds.get("uid") if isinstance(ds, dict) else ds
        if uid not in ds_refs:
            problems.append("%s: datasource %r is not a dashboard variable/input" % (where, ds))

    def walk(panels):
        nonlocal n_panels
        for p in panels or []:
            where = "panel %r" % p.get("title")
            if p.get("id") in ids:
                problems.append("%s: duplicate id %s" % (where, p.get("id")))
            ids.add(p.get("id"))
            g = p.get("gridPos") or {}
            if not all(isinstance(g.get(k), int) for k in ("h", "w", "x", "y")) or \
                    g.get("x", 0) + g.get("w", 0) > 24:
                problems.append("%s: bad gridPos %s" % (where, g))
            if p.get("type") == "row":
                walk(p.get("panels"))
                continue
            n_panels += 1
            if not p.get("title"):
                problems.append("panel id %s has no title" % p.get("id"))
            targets = p.get("targets") or []
            if not targets:
                problems.append("%s: no targets" % where)
            check_ds(p.get("datasource"), where)
            refs = set()
            for t in targets:
                if not t.get("expr"):
                    problems.append("%s: target without expr" % where)
                if t.get("refId") in refs:
                    problems.append("%s: duplicate refId" % where)
                refs.add(t.get("refId"))
                check_ds(t.get("datasource"), where + " target " + str(t.get("refId")))
    walk(dash.get("panels"))
    for v in variables.values():
        if v.get("type") == "query":
            check_ds(v.get("datasource"), "variable %r" % v.get("name"))
    return problems, n_panels


# ---------------------------------------------------------------- main

def read_jsonl(path):
    return [json.loads(line) for line in open(path) if line.strip()]


def main(argv):
    if len(argv) < 2:
        die(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "exprs":
        kind, path = args
        items = {"dashboard": dashboard_exprs, "rules": rules_api_exprs,
                 "rulesfile": rules_file_exprs}[kind](path)
        if not items:
            die("no expressions found in %s" % path)
        for it in items:
            it["query"] = grafana_subst(it["expr"])
            print(json.dumps(it))
    elif cmd == "names-list":
        names = set()
        for it in read_jsonl(args[0]):
            names |= metric_names(it["expr"])
        print("\n".join(sorted(names)))
    elif cmd == "names":
        exprs_path, metrics_path = args
        exported = {n for n, _, _ in parse_exposition(metrics_path)}
        unknown = {}
        used = set()
        for it in read_jsonl(exprs_path):
            for n in metric_names(it["expr"]):
                used.add(n)
                if n not in exported and n not in ALLOWED_FOREIGN:
                    unknown.setdefault(n, []).append("%s %r" % (it["kind"], it["title"]))
        if unknown:
            die("metric names used in PromQL but not on the live /metrics:\n" + "\n".join(
                "  %s  (in %s)" % (n, "; ".join(sorted(set(w)))) for n, w in sorted(unknown.items())))
        print(len(used))
    elif cmd == "grafana-subst":
        print(grafana_subst(args[0]))
    elif cmd == "value":
        path, name = args[0], args[1]
        want = dict(a.split("=", 1) for a in args[2:])
        found = matching(parse_exposition(path), name, want)
        if len(found) != 1:
            die("%s%s: %d samples match (want exactly 1)%s" % (
                name, fmt_labels(want), len(found),
                "".join("\n  %s%s %s" % (name, fmt_labels(l), fmt_value(v)) for _, l, v in found)))
        print(fmt_value(found[0][2]))
    elif cmd == "flatten":
        for n, l, v in parse_exposition(args[0]):
            print("%s\t%s\t%s" % (n, "\x1f".join("%s=%s" % (k, x.replace("\n", "\\n"))
                                               for k, x in sorted(l.items())),
                                   fmt_value(v)))
    elif cmd == "labels":
        path, name, label = args
        print("\n".join(sorted({l.get(label, "") for n, l, _ in parse_exposition(path) if n == name})))
    elif cmd == "histograms":
        problems, n = check_histograms(parse_exposition(args[0]))
        if problems:
            die("histogram problems:\n  " + "\n  ".join(problems))
        print(n)
    elif cmd == "dashboard-lint":
        problems, n = dashboard_lint(args[0])
        if problems:
            die("dashboard problems:\n  " + "\n  ".join(problems))
        print(n)
    else:
        die("unknown subcommand %s\n%s" % (cmd, __doc__))


if __name__ == "__main__":
    main(sys.argv)
