#!/usr/bin/env python3
"""`cpu-by-process.py SECONDS [DELAY]`: where the machine's CPU goes for SECONDS seconds (after DELAY).

Reads every process's user + system time from /proc at the start and at the end and prints the CPU
seconds per second (1.0 = one core busy) each kind of process spent in between, busiest first: the
Kafka brokers (java), PostgreSQL, pgbouncer, loms, the load generators. `just bench` runs it beside
OrderCreate's runs with BENCH_PROFILE (BENCHMARKS.md, "OrderCreate's tail"). A process that starts or
ends in between counts from or until then.
"""
import os
import sys
import time

TICKS = os.sysconf("SC_CLK_TCK")


def group(comm, cmdline):
    if comm == "java":
        return "kafka (java)" if b"kafka" in cmdline else "java"
    if comm in ("postgres", "postmaster"):
        return "postgres"
    return comm


def snapshot():
    """CPU ticks by pid, with each pid's group."""
    taken = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        comm = stat[stat.index(b"(") + 1 : stat.rindex(b")")].decode(errors="replace")
        fields = stat[stat.rindex(b")") + 2 :].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime
        taken[pid] = (group(comm, cmdline), ticks)
    return taken


def main():
    seconds = float(sys.argv[1])
    time.sleep(float(sys.argv[2]) if len(sys.argv) > 2 else 0)
    before, started = snapshot(), time.monotonic()
    time.sleep(seconds)
    after, elapsed = snapshot(), time.monotonic() - started
    spent = {}
    for pid, (name, ticks) in after.items():
        spent[name] = spent.get(name, 0) + ticks - before.get(pid, (name, 0))[1]
    total = sum(spent.values())
    print(f"CPU in {elapsed:.1f} s: {total / TICKS / elapsed:.2f} cores busy")
    for name, ticks in sorted(spent.items(), key=lambda kv: -kv[1]):
        if ticks > 0:
            print(f"  {name:<24} {ticks / TICKS / elapsed:5.2f}  ({100 * ticks / max(total, 1):.0f} %)")


if __name__ == "__main__":
    main()
