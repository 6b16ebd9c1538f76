# Alternating benchmark rounds over `just load` runs, shared by the bench-* scripts that compare modes.
# The caller defines `run MODE`, which prints one run's JSON report (`scripts/load.sh --json`), then calls
# `rounds N MODE...`: N rounds, each running every mode in turn, so drift on the machine falls on all of
# them alike. It prints a table of each run's calls per second and p99, fails on any failed call, and
# leaves each mode's rates, space-separated, in the associative array `rates`.
declare -gA rates=()

report_field() { # report_field JSON PATH...: one value of a load report (PATH: keys, outermost first)
  python3 -c 'import json,sys
value = json.loads(sys.argv[1])
for key in sys.argv[2:]: value = value[key]
print(value)' "$@"
}

rounds() {
  local count=$1 round mode report rate row header="| round |" rule="|---:|"
  shift
  for mode in "$@"; do
    rates[$mode]+=""
    header+=" $mode calls/s | p99 ms |"
    rule+="---:|---:|"
  done
  printf '\n%s\n%s\n' "$header" "$rule"
  for round in $(seq "$count"); do
    row="| $round |"
    for mode in "$@"; do
      report=$(run "$mode")
      [ "$(report_field "$report" failed)" = 0 ] || { echo "$mode: failed calls: $report" >&2; return 1; }
      rate=$(report_field "$report" calls_per_second)
      rates[$mode]+="$rate "
      row+=" $(printf '%.0f' "$rate") | $(report_field "$report" all p99_ms) |"
    done
    echo "$row"
  done
}
