#!/usr/bin/env bash
# Registry benchmark (not a test): DiscoverInstances requests/s on the Cloud Map API
# (wrk with a POST script) and DNS queries/s on the DNS server (dnsperf), with 10 and
# 1,000 instances registered; the numbers go into BENCHMARKS.md between the
# registry-bench markers.
#
#   scripts/install-bench-tools   # wrk and dnsperf, pinned
#   bench/registry.sh             # RUNS=3 DURATION=10 CONNECTIONS=32 WORKERS=1 by default
#
# The server is crates/api/examples/bench_registry.rs: the same control router and DNS
# server that `albless up` runs, on one registry, with WORKERS tokio worker threads.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS="${RUNS:-3}"
DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-32}"
WORKERS="${WORKERS:-1}"
SIZES="${SIZES:-10 1000}"

for tool in wrk dnsperf; do
  command -v "$tool" >/dev/null || { echo "bench: $tool missing; run scripts/install-bench-tools" >&2; exit 1; }
done

cargo build --release --quiet -p albless-api --example bench_registry
server_bin="${CARGO_TARGET_DIR:-target}/release/examples/bench_registry"

dir="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

cat >"$dir/discover.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"NamespaceName":"ecs.local","ServiceName":"backend","HealthStatus":"HEALTHY"}'
wrk.headers["Content-Type"] = "application/x-amz-json-1.1"
wrk.headers["X-Amz-Target"] = "Route53AutoNaming_v20170314.DiscoverInstances"
LUA

to_ms() { # wrk latency like 812.00us, 1.57ms, 1.02s
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
  }'
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
rows=()
for n in $SIZES; do
  WORKERS="$WORKERS" "$server_bin" "$n" >"$dir/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 200); do
    grep -q '^control: ' "$dir/server.log" && break
    sleep 0.05
  done
  control="$(sed -n 's/^control: //p' "$dir/server.log")"
  dns="$(sed -n 's/^dns: //p' "$dir/server.log")"
  [ -n "$control" ] || { echo "bench: the server did not start" >&2; cat "$dir/server.log" >&2; exit 1; }

  # Queries: the service's SRV and A answers (up to 8 records each) and instance names.
  : >"$dir/queries"
  for _ in $(seq 10); do
    echo "backend.ecs.local SRV" >>"$dir/queries"
    echo "backend.ecs.local A" >>"$dir/queries"
  done
  for i in $(seq 1 "$n" | head -n 20); do
    printf '%032x.backend.ecs.local A\n' "$i" >>"$dir/queries"
  done

  http_runs=()
  dns_runs=()
  for run in $(seq "$RUNS"); do
    wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$dir/discover.lua" "$control/" >"$dir/wrk.txt"
    rps="$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$dir/wrk.txt")"
    p50="$(to_ms "$(awk '$1 == "50%" { print $2 }' "$dir/wrk.txt")")"
    p99="$(to_ms "$(awk '$1 == "99%" { print $2 }' "$dir/wrk.txt")")"
    non2xx="$(awk '/Non-2xx/ { print $NF }' "$dir/wrk.txt")"
    [ -z "$non2xx" ] || { echo "bench: $non2xx DiscoverInstances calls failed" >&2; exit 1; }
    http_runs+=("$rps $p50 $p99")

    dnsperf -s "${dns%:*}" -p "${dns##*:}" -d "$dir/queries" -l "$DURATION" -c 4 -T 1 -e \
      >"$dir/dnsperf.txt" 2>&1
    qps="$(awk '/Queries per second:/ { printf "%.0f", $4 }' "$dir/dnsperf.txt")"
    lat="$(awk '/Average Latency \(s\):/ { printf "%.3f", $4 * 1000 }' "$dir/dnsperf.txt")"
    lost="$(awk '/Queries lost:/ { print $3 }' "$dir/dnsperf.txt")"
    codes="$(sed -n 's/^ *Response codes: *//p' "$dir/dnsperf.txt")"
    case "$codes" in
      "NOERROR "*"(100.00%)") ;;
      *) echo "bench: DNS answers other than NOERROR: $codes" >&2; exit 1 ;;
    esac
    dns_runs+=("$qps $lat $lost")
    echo "bench: $n instances, run $run: DiscoverInstances $rps req/s (p50 $p50 ms, p99 $p99 ms); DNS $qps q/s (avg $lat ms, lost $lost)" >&2
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""

  # The median run by throughput, for each load.
  http_med="$(printf '%s\n' "${http_runs[@]}" | sort -n -k1,1 | sed -n "$(( (RUNS + 1) / 2 ))p")"
  dns_med="$(printf '%s\n' "${dns_runs[@]}" | sort -n -k1,1 | sed -n "$(( (RUNS + 1) / 2 ))p")"
  read -r rps p50 p99 <<<"$http_med"
  read -r qps lat lost <<<"$dns_med"
  rows+=("| $n | $rps | $p50 | $p99 | $qps | $lat | $lost |")
done

cpu="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
section="$dir/section.md"
{
  echo "<!-- registry-bench:start -->"
  echo "## Registry"
  echo
  echo "\`bench/registry.sh\` (RUNS=$RUNS DURATION=${DURATION}s CONNECTIONS=$CONNECTIONS WORKERS=$WORKERS),"
  echo "run $(date +%Y-%m-%d) on $(nproc) CPUs ($cpu), $(uname -sr). Loopback only: the control"
  echo "router and DNS server of \`albless up\` (\`target/release/examples/bench_registry\`, $WORKERS tokio"
  echo "worker thread(s)) over one registry holding \`backend.ecs.local\` with N instances (SRV,"
  echo "custom health, all healthy). DiscoverInstances: \`wrk -t1 -c$CONNECTIONS -d${DURATION}s --latency\` POSTing"
  echo "\`{NamespaceName, ServiceName, HealthStatus: HEALTHY}\` (default MaxResults 100, so 10 or 100"
  echo "instances per answer). DNS: \`dnsperf -c 4 -T 1 -e -l $DURATION\` over a mix of SRV and A"
  echo "questions for the service (8 records per MULTIVALUE answer) and A questions for instance"
  echo "names. Load generator and server share the same CPUs (load average before the run:"
  echo "$load_before). Median run of $RUNS by throughput:"
  echo
  echo "| instances | DiscoverInstances req/s | p50 ms | p99 ms | DNS queries/s | DNS avg ms | DNS lost |"
  echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  printf '%s\n' "${rows[@]}"
  echo "<!-- registry-bench:end -->"
} >"$section"

# Replace the section between the markers, or append it.
if grep -q '<!-- registry-bench:start -->' BENCHMARKS.md 2>/dev/null; then
  awk -v file="$section" '
    /<!-- registry-bench:start -->/ { while ((getline line < file) > 0) print line; skip = 1; next }
    /<!-- registry-bench:end -->/ { skip = 0; next }
    !skip { print }
  ' BENCHMARKS.md >"$dir/BENCHMARKS.md"
  cp "$dir/BENCHMARKS.md" BENCHMARKS.md
else
  { [ -f BENCHMARKS.md ] || echo "# Benchmarks"; echo; cat "$section"; } >>BENCHMARKS.md
fi
cat "$section"
