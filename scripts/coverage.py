#!/usr/bin/env python3
"""Line coverage per crate from cargo-tarpaulin's JSON reports, against the bars (`just cov`).

usage: coverage.py WORKSPACE_REPORT OWN_REPORT

WORKSPACE_REPORT: every test of the workspace. Each service crate and shared crate must reach 90 % of
its hand-written lines. Not counted: the generated crates (proto, cart-db, loms-db, notifier-db), the
test and load tools (system-tests, bench, tools/), each service's `main.rs` (read the settings,
start telemetry, run until a signal: it runs only as a process, in the end-to-end and fault tests,
which tarpaulin does not instrument), and a service's other binaries under `src/bin/` (operator
tools such as the notifier's `order-events` behind `just events`, which also run only as processes).

OWN_REPORT: cart's, loms's and the notifier's own unit tests (`--lib`, mock-based). Each one's use-case
module, `service.rs`, must reach 90 % from them alone.

Prints both tables; exits 1 when a figure is below its bar.
"""
import json
import sys
from collections import defaultdict

BAR = 90.0
GENERATED = {"proto", "cart-db", "loms-db", "notifier-db"}
TOOLS = {"system-tests", "bench"}
USE_CASES = ["cart", "loms", "notifier"]


def files(report_path):
    """(crate, path inside the crate, covered, coverable) of every crate file in a report."""
    with open(report_path) as report:
        for entry in json.load(report)["files"]:
            path = "/".join(entry["path"])
            if "/crates/" not in path:
                continue
            crate, _, inside = path.split("/crates/", 1)[1].partition("/")
            yield crate, inside, entry["covered"], entry["coverable"]


def percent(covered, coverable):
    return 100.0 * covered / coverable if coverable else 100.0


def main(workspace_report, own_report):
    totals = defaultdict(lambda: [0, 0])
    for crate, inside, covered, coverable in files(workspace_report):
        if crate in GENERATED or crate in TOOLS or inside == "src/main.rs" or inside.startswith("src/bin/"):
            continue
        totals[crate][0] += covered
        totals[crate][1] += coverable
    failed = []
    print(f"line coverage by the workspace's tests (bar {BAR:.0f} %)")
    for crate, (covered, coverable) in sorted(totals.items()):
        share = percent(covered, coverable)
        mark = "" if share >= BAR else "  below the bar"
        print(f"  {crate:<16} {covered:>5}/{coverable:<5} {share:5.1f} %{mark}")
        if mark:
            failed.append(crate)

    own = {crate: (c, t) for crate, inside, c, t in files(own_report) if inside == "src/service.rs"}
    print(f"use cases (service.rs) by their crate's own unit tests (bar {BAR:.0f} %)")
    for crate in USE_CASES:
        covered, coverable = own.get(crate, (0, 0))
        share = percent(covered, coverable)
        mark = "" if coverable and share >= BAR else "  below the bar"
        print(f"  {crate + '/service.rs':<24} {covered:>4}/{coverable:<4} {share:5.1f} %{mark}")
        if mark:
            failed.append(f"{crate}/service.rs")
    if failed:
        print("below the bar: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
