#!/usr/bin/env python3
"""Helpers of bench/compare/run (python3 standard library only).

  compare.py port                       a free TCP port on 127.0.0.1
  compare.py pgbench OUTPUT LOGPREFIX   "tps p50_us p99_us transactions" from pgbench's output
                                        and its per-transaction logs (LOGPREFIX.*)
  compare.py remit OUTPUT               "tps p50_us p99_us conserved" from remit-load --json
                                        (the last line of OUTPUT)
  compare.py table ROWS                 the markdown table of ROWS (tab-separated: system,
                                        mode, load, tps, p50_us, p99_us, check)
  compare.py machine                    nproc, CPU model and memory, one line each
"""
import glob
import json
import os
import re
import socket
import sys


def fail(why):
    print(f"compare.py: {why}", file=sys.stderr)
    sys.exit(1)


def percentile(sorted_values, p):
    """Nearest rank: the smallest value with at least p% of the values at or below it."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * p // 100))  # ceil(n * p / 100)
    return sorted_values[int(rank) - 1]


def cmd_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])


def cmd_pgbench(output, prefix):
    text = open(output, encoding="utf-8", errors="replace").read()
    m = re.search(r"^tps = ([0-9.]+) \(without initial connection time\)", text, re.M)
    if not m:
        fail(f"no 'tps = ...' line in {output}")
    tps = float(m.group(1))
    files = sorted(glob.glob(glob.escape(prefix) + ".*"))
    if not files:
        fail(f"no per-transaction log {prefix}.*")
    lat = []
    for f in files:
        with open(f, encoding="ascii", errors="replace") as fh:
            for line in fh:
                fields = line.split()
                # client_id transaction_no time script_no time_epoch time_us [schedule_lag]
                # time is the latency in microseconds; "failed"/"skipped" mark no latency.
                if len(fields) >= 3 and fields[2].isdigit():
                    lat.append(int(fields[2]))
    if not lat:
        fail(f"no transactions in {prefix}.*")
    lat.sort()
    print(f"{tps:.0f} {percentile(lat, 50)} {percentile(lat, 99)} {len(lat)}")


def cmd_remit(output):
    lines = [l for l in open(output, encoding="utf-8", errors="replace").read().splitlines() if l.strip()]
    if not lines:
        fail(f"{output} is empty")
    try:
        j = json.loads(lines[-1])
    except json.JSONDecodeError as e:
        fail(f"the last line of {output} is not JSON: {e}")
    lat = j.get("latency_us", {})
    print(f"{j['tps']} {lat['p50']} {lat['p99']} {'yes' if j.get('conserved') else 'no'}")


def fmt_ms(us):
    try:
        v = float(us) / 1000.0
    except ValueError:
        return us
    if v < 1:
        return f"{v:.3f}"
    if v < 10:
        return f"{v:.2f}"
    if v < 100:
        return f"{v:.1f}"
    return f"{v:.0f}"


def cmd_table(rows_file):
    rows = []
    with open(rows_file, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                rows.append(line.rstrip("\n").split("\t"))
    best = 0.0
    for r in rows:
        if r[0] == "PostgreSQL" and r[1] == "durable" and r[3].replace(".", "", 1).isdigit():
            best = max(best, float(r[3]))
    out = [
        "| system | mode | clients / batch | transfers/s | p50 ms | p99 ms | vs best durable PG | check |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    for system, mode, load, tps, p50, p99, check in rows:
        numeric = tps.replace(".", "", 1).isdigit()
        ratio = f"{float(tps) / best:.2f}x" if numeric and best > 0 else "-"
        tps_s = f"{float(tps):,.0f}" if numeric else tps
        out.append(f"| {system} | {mode} | {load} | {tps_s} | {fmt_ms(p50)} | {fmt_ms(p99)} | {ratio} | {check} |")
    print("\n".join(out))


def cmd_machine():
    model = "unknown"
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "unknown"
    try:
        for line in open("/proc/meminfo", encoding="utf-8"):
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    print(f"cores (nproc): {os.cpu_count() if not hasattr(os, 'sched_getaffinity') else len(os.sched_getaffinity(0))}")
    print(f"cpu: {model}")
    print(f"memory: {mem}")


def main(argv):
    if len(argv) < 2:
        fail("usage: compare.py port|pgbench|remit|table|machine ...")
    cmd, args = argv[1], argv[2:]
    table = {
        "port": (cmd_port, 0),
        "pgbench": (cmd_pgbench, 2),
        "remit": (cmd_remit, 1),
        "table": (cmd_table, 1),
        "machine": (cmd_machine, 0),
    }
    if cmd not in table or len(args) != table[cmd][1]:
        fail(f"bad command: {' '.join(argv[1:])}")
    table[cmd][0](*args)


if __name__ == "__main__":
    main(sys.argv)
