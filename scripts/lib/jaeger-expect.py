"""Waits until Jaeger's query API shows a trace as expected, or fails saying what is missing.

    python3 scripts/lib/jaeger-expect.py JAEGER_URL TRACE_ID EXPECTED_JSON [SECONDS]

EXPECTED_JSON is a list of spans, each {"service", "name", "kind", "parent", "count"?, "tags"?}:
- `parent` is null (a root), "remote:<span id>" (the caller's span, which a `traceparent` named: not
  in the trace), or "<service> <name>" of the span it is the child of;
- `count` (default 1): how many such spans;
- `tags`: {key: value} each of them carries.
The trace must hold these spans, all in the one trace, and may hold others (storage spans, say).
Prints the trace as a tree when it matches, or when time runs out.
"""

import json
import sys
import time
import urllib.error
import urllib.request


def fetch(url, trace_id):
    try:
        with urllib.request.urlopen(f"{url}/api/traces/{trace_id}", timeout=5) as answer:
            data = json.load(answer).get("data") or []
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise
    return data[0] if data else None


def spans_of(trace):
    services = {key: process["serviceName"] for key, process in trace["processes"].items()}
    spans = {}
    for span in trace["spans"]:
        tags = {tag["key"]: tag["value"] for tag in span["tags"]}
        parents = [ref["spanID"] for ref in span["references"] if ref["refType"] == "CHILD_OF"]
        spans[span["spanID"]] = {
            "service": services[span["processID"]],
            "name": span["operationName"],
            "kind": tags.get("span.kind", "internal"),
            "parent": parents[0] if parents else None,
            "tags": tags,
            "start": span["startTime"],
        }
    return spans


def describe(spans, span_id):
    if span_id is None:
        return None
    if span_id not in spans:
        return f"remote:{span_id}"
    return f'{spans[span_id]["service"]} {spans[span_id]["name"]}'


def missing(trace, expected):
    if trace is None:
        return ["the trace itself"]
    spans = spans_of(trace)
    gaps = []
    for want in expected:
        found = [
            span
            for span in spans.values()
            if span["service"] == want["service"]
            and span["name"] == want["name"]
            and span["kind"] == want["kind"]
            and describe(spans, span["parent"]) == want["parent"]
            and all(str(span["tags"].get(k)) == str(v) for k, v in want.get("tags", {}).items())
        ]
        if len(found) != want.get("count", 1):
            gaps.append(f"{len(found)} of {want.get('count', 1)}: {json.dumps(want)}")
    return gaps


def tree(trace):
    spans = spans_of(trace)
    lines = []

    def walk(span_id, depth):
        span = spans[span_id]
        lines.append(f'{"  " * depth}{span["service"]}: {span["name"]} ({span["kind"]})')
        children = [k for k, s in spans.items() if s["parent"] == span_id]
        for child in sorted(children, key=lambda k: spans[k]["start"]):
            walk(child, depth + 1)

    roots = [k for k, s in spans.items() if s["parent"] not in spans]
    for root in sorted(roots, key=lambda k: spans[k]["start"]):
        walk(root, 0)
    return "\n".join(lines)


def main():
    url, trace_id, expected = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    deadline = time.monotonic() + float(sys.argv[4] if len(sys.argv) > 4 else 60)
    while True:
        trace = fetch(url, trace_id)
        gaps = missing(trace, expected)
        if not gaps:
            print(tree(trace))
            return 0
        if time.monotonic() > deadline:
            print(f"trace {trace_id} lacks:", *gaps, sep="\n  ", file=sys.stderr)
            if trace is not None:
                print(tree(trace), file=sys.stderr)
            return 1
        time.sleep(0.5)


if __name__ == "__main__":
    sys.exit(main())
