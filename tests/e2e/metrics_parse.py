#!/usr/bin/python3
"""metrics_parse.py FILE — parse a /metrics scrape with the reference
Prometheus parser (Debian's python3-prometheus-client) and check what
e2e/test_metrics set up: required families with the right types, route
labels that are patterns (no raw ids), status classes only, histograms that
are well formed, and business gauges matching what the test created.
Exit 0 when all hold; 1 with the reasons on stderr; 2 when the parser is
missing."""
import math
import re
import sys

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    sys.stderr.write("python3-prometheus-client is not installed (scripts/lib/deps.sh lists it)\n")
    sys.exit(2)

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
CLASSES = {"1xx", "2xx", "3xx", "4xx", "5xx"}
INSTANCE_STATUSES = {"PENDING", "PROVISIONING", "RUNNING", "STOPPING", "STOPPED", "STARTING",
                     "RESTARTING", "ERROR", "TERMINATING", "TERMINATED"}
SUB_STATUSES = {"ACTIVE", "SUSPENDED", "EXPIRED", "CANCELLED"}
# name (as the parser reports it: counters without _total) -> type
REQUIRED = {
    "process_cpu_seconds": "counter",
    "process_resident_memory_bytes": "gauge",
    "process_open_fds": "gauge",
    "process_start_time_seconds": "gauge",
    "dermaga_build_info": "gauge",
    "dermaga_http_requests": "counter",
    "dermaga_http_request_duration_seconds": "histogram",
    "dermaga_instances": "gauge",
    "dermaga_subscriptions": "gauge",
    "dermaga_topups_pending": "gauge",
    "dermaga_topups_pending_amount_rupiah": "gauge",
}

errors = []


def check(cond, msg):
    if not cond:
        errors.append(msg)


def main(path):
    text = open(path, encoding="utf-8").read()
    try:
        families = {f.name: f for f in text_string_to_metric_families(text)}
    except Exception as e:  # the parser's own refusal is the finding
        sys.stderr.write("the reference parser refused the scrape: %r\n" % (e,))
        return 1
    for name, typ in REQUIRED.items():
        f = families.get(name)
        check(f is not None, "family %s is missing" % name)
        if f is not None:
            check(f.type == typ, "%s has type %s, want %s" % (name, f.type, typ))
    if errors:
        return 1

    def one(name, labels=None):
        family = name[:-len("_total")] if name.endswith("_total") else name
        vals = [s.value for s in families[family].samples
                if s.name == name and (labels is None or all(s.labels.get(k) == v for k, v in labels.items()))]
        check(len(vals) == 1, "%s%s: %d samples" % (name, labels or "", len(vals)))
        return vals[0] if vals else float("nan")

    check(one("process_cpu_seconds_total") > 0, "process_cpu_seconds_total is not > 0")
    check(one("process_resident_memory_bytes") > 1 << 20, "process_resident_memory_bytes under 1 MiB")
    check(one("process_open_fds") >= 3, "process_open_fds under 3")
    start = one("process_start_time_seconds")
    check(1.6e9 < start < 4e9, "process_start_time_seconds %r is no Unix time" % start)
    bi = [s for s in families["dermaga_build_info"].samples]
    check(len(bi) == 1 and bi[0].value == 1 and bi[0].labels.get("version") and bi[0].labels.get("commit"),
          "dermaga_build_info: %r" % bi)

    # Route labels are patterns; statuses are classes in the histogram.
    hist = {}
    for fam in ("dermaga_http_requests", "dermaga_http_request_duration_seconds"):
        for s in families[fam].samples:
            route = s.labels.get("route", "")
            check(not UUID.search(route), "%s: raw id in route label %r" % (s.name, route))
            check(route in ("unmatched", "preflight") or route.startswith("/"), "%s: route %r" % (s.name, route))
            check("/no-such-page" not in route, "%s: unmatched path became a label %r" % (s.name, route))
            if fam == "dermaga_http_request_duration_seconds":
                check(s.labels.get("status") in CLASSES, "%s: status %r is no class" % (s.name, s.labels.get("status")))
                key = (s.labels.get("method"), route, s.labels.get("status"))
                h = hist.setdefault(key, {"buckets": [], "count": None})
                if s.name.endswith("_bucket"):
                    h["buckets"].append((float(s.labels["le"]), s.value))
                elif s.name.endswith("_count"):
                    h["count"] = s.value
    for key, h in hist.items():
        b = sorted(h["buckets"])
        check(b and math.isinf(b[-1][0]) and b[-1][1] == h["count"], "%r: +Inf bucket is not _count" % (key,))
        check(all(b[i][1] <= b[i + 1][1] for i in range(len(b) - 1)), "%r: buckets are not cumulative" % (key,))
    pattern = "/api/instances/:id"
    check(hist.get(("GET", pattern, "2xx"), {}).get("count", 0) >= 1, "no 2xx of GET %s: %r" % (pattern, list(hist)))
    check(hist.get(("GET", pattern, "4xx"), {}).get("count", 0) >= 1, "no 4xx of GET %s" % pattern)
    check(hist.get(("GET", "unmatched", "4xx"), {}).get("count", 0) >= 1, "no 4xx of unmatched paths")

    # Business gauges: every status present, and what the test made.
    inst = {s.labels.get("status"): s.value for s in families["dermaga_instances"].samples}
    subs = {s.labels.get("status"): s.value for s in families["dermaga_subscriptions"].samples}
    check(set(inst) == INSTANCE_STATUSES, "dermaga_instances statuses %r" % sorted(inst))
    check(set(subs) == SUB_STATUSES, "dermaga_subscriptions statuses %r" % sorted(subs))
    check(inst.get("RUNNING") == 1, "dermaga_instances{status=RUNNING} is %r, want 1" % inst.get("RUNNING"))
    check(subs.get("ACTIVE") == 1, "dermaga_subscriptions{status=ACTIVE} is %r, want 1" % subs.get("ACTIVE"))
    check(one("dermaga_topups_pending") == 1, "dermaga_topups_pending is not 1")
    check(one("dermaga_topups_pending_amount_rupiah") == 10000, "dermaga_topups_pending_amount_rupiah is not 10000")
    return 1 if errors else 0


if __name__ == "__main__":
    rc = main(sys.argv[1])
    for e in errors:
        sys.stderr.write(e + "\n")
    sys.exit(rc)
