#!/usr/bin/env bash
# Gateway instruction count (not a test): user-space instructions per proxied request of
# nginx and of the albless gateway, counted by valgrind's callgrind while wrk drives each
# on loopback, and where the gateway's go (self cost by function). Instruction counts do
# not move with the machine's load the way requests/s do, so this table compares two
# builds of the gateway, or the gateway and nginx, on a shared machine. It does not count
# the kernel's share (the system calls per request are the same for both, see
# bench/gateway-notes.md), and under valgrind a program runs ~50 times slower, so only
# the per-request counts mean anything, not the request rates.
#
#   scripts/install-bench-tools      # wrk, nginx, valgrind, pinned
#   bench/gateway-instructions.sh    # DURATION=8s CONNECTIONS=16 by default
#   COMPARE=/path/to/other/bench_gateway COMPARE_LABEL="before X" bench/gateway-instructions.sh
#                                    # one more row: another build of the bench gateway
#
# Writes its table into BENCHMARKS.md between the gateway-instructions markers.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-8s}"
CONNECTIONS="${CONNECTIONS:-16}"
NGINX="${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"
COMPARE="${COMPARE:-}"
COMPARE_LABEL="${COMPARE_LABEL:-$COMPARE}"

for tool in wrk valgrind callgrind_control "$NGINX"; do
  command -v "$tool" >/dev/null || { echo "bench: $tool missing; run scripts/install-bench-tools" >&2; exit 1; }
done

cargo build --release --quiet -p albless-whoami
cargo build --release --quiet -p albless-gateway --example bench_gateway
target_dir="${CARGO_TARGET_DIR:-target}"
whoami_bin="$target_dir/release/albless-whoami"
gateway_bin="$target_dir/release/examples/bench_gateway"

# $dir, pids, cleanup on exit, free_port, wait_port.
. bench/lib.sh

# Two replicas of the sample app, outside valgrind.
app1="127.0.0.1:$(free_port 127.0.0.1)"
app2="127.0.0.1:$(free_port 127.0.0.1)"
"$whoami_bin" --listen "$app1" 2>/dev/null & pids+=($!)
"$whoami_bin" --listen "$app2" 2>/dev/null & pids+=($!)
wait_port "${app1%:*}" "${app1##*:}"
wait_port "${app2%:*}" "${app2##*:}"

# One proxy under callgrind: warm it up, zero the counters, load it, dump. Prints
# "requests instructions".
measure() { # name addr command...
  local name="$1" addr="$2"
  shift 2
  valgrind --tool=callgrind --compress-strings=no --compress-pos=no \
    --callgrind-out-file="$dir/callgrind.$name" "$@" >"$dir/$name.log" 2>&1 &
  local pid=$!
  pids+=($pid)
  wait_port "${addr%:*}" "${addr##*:}"
  wrk -t1 -c"$CONNECTIONS" -d3s "http://$addr/" >/dev/null
  callgrind_control -z "$pid" >/dev/null 2>&1
  wrk -t1 -c"$CONNECTIONS" -d"$DURATION" "http://$addr/" >"$dir/wrk.$name"
  callgrind_control -d "$pid" >/dev/null 2>&1
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  local requests instructions
  requests=$(awk '/ requests in / { print $1 }' "$dir/wrk.$name")
  # The dump taken after zeroing is the one whose name ends in .1.
  instructions=$(awk '/^summary:/ { print $2 }' "$dir/callgrind.$name.1")
  echo "$requests $instructions"
}

nginx_addr="127.0.0.1:$(free_port 127.0.0.1)"
sed -e "s|@WORKERS@|1|" -e "s|@DIR@|$dir|g" -e "s|@APP1@|$app1|" -e "s|@APP2@|$app2|" \
    -e "s|@LISTEN@|$nginx_addr|" bench/nginx.conf.template >"$dir/nginx.conf"
# One process: the worker is the master, so callgrind sees the proxying.
printf 'master_process off;\n' >>"$dir/nginx.conf"

rows=()
read -r n i <<<"$(measure nginx "$nginx_addr" "$NGINX" -c "$dir/nginx.conf" -e "$dir/nginx-error.log")"
rows+=("nginx $("$NGINX" -v 2>&1 | sed 's|.*/||')|$n|$i")
echo "bench: nginx: $n requests, $i instructions"

gw_addr="127.0.0.1:$(free_port 127.0.0.1)"
read -r n i <<<"$(measure gateway "$gw_addr" "$gateway_bin" --listen "$gw_addr" --workers 1 "$app1" "$app2")"
rows+=("albless gateway (this tree)|$n|$i")
echo "bench: gateway: $n requests, $i instructions"

if [ -n "$COMPARE" ]; then
  cmp_addr="127.0.0.1:$(free_port 127.0.0.1)"
  read -r n i <<<"$(measure compare "$cmp_addr" "$COMPARE" --listen "$cmp_addr" --workers 1 "$app1" "$app2")"
  rows+=("albless gateway ($COMPARE_LABEL)|$n|$i")
  echo "bench: compare: $n requests, $i instructions"
fi

table=$(for row in "${rows[@]}"; do
  IFS='|' read -r label n i <<<"$row"
  awk -v l="$label" -v n="$n" -v i="$i" 'BEGIN { printf "| %s | %d | %.0f |\n", l, n, i / n }'
done)

# Self cost by function of the gateway (this tree), the top 12.
top=$(python3 - "$dir/callgrind.gateway.1" <<'PY'
import collections, sys
cost = collections.Counter()
fn = None
after_calls = False
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    if line.startswith("fn="):
        fn = line[3:]
    elif line.startswith("calls="):
        after_calls = True
    elif line[:1].isdigit() or line[:1] in "+-*":
        if after_calls:
            after_calls = False  # the inclusive cost of a call, not this function's own
            continue
        parts = line.split()
        if len(parts) >= 2:
            cost[fn] += int(parts[1])
total = sum(cost.values())
for name, c in cost.most_common(12):
    name = name.replace("|", "\\|")
    if len(name) > 90:
        name = name[:87] + "..."
    print(f"| {100 * c / total:.1f} % | `{name}` |")
PY
)

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
section=$(cat <<MD
<!-- gateway-instructions:start -->
## Gateway instructions per request

\`bench/gateway-instructions.sh\` (DURATION=$DURATION CONNECTIONS=$CONNECTIONS), run
$(date -u +%Y-%m-%d) on $(nproc) CPUs ($cpu), $(valgrind --version). Each proxy runs alone
under callgrind (nginx with one process, the gateway with one worker) in front of two
\`albless-whoami\` replicas on loopback; after a 3 s warm-up its counters are zeroed and
\`wrk -t1 -c$CONNECTIONS -d$DURATION\` drives it. User-space instructions only (the
kernel's share, about three quarters of the CPU time per request, is not counted):

| proxy | requests counted | instructions per request |
| --- | ---: | ---: |
$table

Where the gateway's instructions go (self cost, fat-LTO release build, so inlined code is
counted in its caller):

| share | function |
| ---: | --- |
$top
<!-- gateway-instructions:end -->
MD
)

write_section gateway-instructions "$section"
echo "$table"
