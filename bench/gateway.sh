#!/usr/bin/env bash
# Gateway benchmark (not a test): on loopback, two replicas of the sample app, the albless
# gateway in front of them, and nginx as the equivalent reverse proxy; wrk drives each
# with the same load, and the numbers go into BENCHMARKS.md between the gateway-bench
# markers.
#
#   scripts/install-bench-tools   # wrk and nginx, pinned
#   bench/gateway.sh              # RUNS=3 DURATION=10s CONNECTIONS=64 WORKERS=1 by default
#
# The gateway runs as crates/gateway/examples/bench_gateway.rs: the same Gateway that
# `albless up` runs, with the two replicas registered in its registry, so only the
# gateway crate is built in release mode. nginx gets WORKERS worker processes and the
# gateway WORKERS single-threaded workers (Gateway::serve_workers, one SO_REUSEPORT
# listener each), so both proxies get the same CPU share and the same process model.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS="${RUNS:-3}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-64}"
WORKERS="${WORKERS:-1}"
WRK_THREADS="${WRK_THREADS:-1}"
NGINX="${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"

for tool in wrk "$NGINX"; do
  command -v "$tool" >/dev/null || { echo "bench: $tool missing; run scripts/install-bench-tools" >&2; exit 1; }
done

cargo build --release --quiet -p albless-whoami
cargo build --release --quiet -p albless-gateway --example bench_gateway
whoami_bin=target/release/albless-whoami
gateway_bin=target/release/examples/bench_gateway

dir="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

free_port() { # ip
  python3 -c 'import socket,sys; s=socket.socket(); s.bind((sys.argv[1],0)); print(s.getsockname()[1])' "$1"
}
wait_port() { # ip port
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "bench: nothing listens on $1:$2" >&2; exit 1
}

# Two replicas on their own loopback addresses, like tasks.
app1="127.0.0.2:$(free_port 127.0.0.2)"
app2="127.0.0.3:$(free_port 127.0.0.3)"
for app in "$app1" "$app2"; do
  HOST="${app%:*}" PORT="${app##*:}" "$whoami_bin" >"$dir/app-${app%:*}.log" 2>&1 &
  pids+=($!)
  wait_port "${app%:*}" "${app##*:}"
done

# nginx.
nginx_addr="127.0.0.1:$(free_port 127.0.0.1)"
sed -e "s|@WORKERS@|$WORKERS|" -e "s|@DIR@|$dir|g" -e "s|@APP1@|$app1|" -e "s|@APP2@|$app2|" \
    -e "s|@LISTEN@|$nginx_addr|" bench/nginx.conf.template >"$dir/nginx.conf"
"$NGINX" -c "$dir/nginx.conf" -e "$dir/nginx-error.log" &
pids+=($!)
wait_port "${nginx_addr%:*}" "${nginx_addr##*:}"

# albless.
albless_addr="127.0.0.1:$(free_port 127.0.0.1)"
"$gateway_bin" --listen "$albless_addr" --workers "$WORKERS" "$app1" "$app2" >"$dir/gateway.log" 2>&1 &
gateway_pid=$!
pids+=($gateway_pid)
wait_port "${albless_addr%:*}" "${albless_addr##*:}"
sleep 1
rss_idle_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$gateway_pid/status")

# One wrk run: prints "rps p50_ms p99_ms".
run_wrk() { # url duration
  wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$2" --latency "$1" >"$dir/wrk.out"
  awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /Requests\/sec/ { rps = $2 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    / Non-2xx or 3xx responses/ { bad = $NF }
    /Socket errors/ { errors = $0 }
    END { printf "%.0f %.3f %.3f\n", rps, p50, p99; if (bad > 0 || errors != "") print "bench: warning: " bad " non-2xx, " errors > "/dev/stderr" }
  ' "$dir/wrk.out"
}

declare -A urls=([direct]="http://$app1/" [nginx]="http://$nginx_addr/" [albless]="http://$albless_addr/")
targets=(direct nginx albless)
for t in "${targets[@]}"; do run_wrk "${urls[$t]}" 2s >/dev/null; done # warm-up
for run in $(seq "$RUNS"); do
  for t in "${targets[@]}"; do
    result=$(run_wrk "${urls[$t]}" "$DURATION")
    echo "$t $result" >>"$dir/results"
    echo "bench: run $run $t: $result (req/s p50_ms p99_ms)"
  done
done
sleep 1
rss_after_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$gateway_pid/status")

# The median run (by req/s) of each target.
median() { # target
  grep "^$1 " "$dir/results" | sort -k2,2n | awk '{ rows[NR] = $0 } END { print rows[int((NR + 1) / 2)] }'
}
table=$(for t in "${targets[@]}"; do
  read -r _ rps p50 p99 <<<"$(median "$t")"
  label=$t
  [ "$t" = direct ] && label="direct to one replica"
  [ "$t" = nginx ] && label="nginx $("$NGINX" -v 2>&1 | sed 's|.*/||')"
  [ "$t" = albless ] && label="albless gateway"
  printf '| %s | %s | %s | %s |\n' "$label" "$rps" "$p50" "$p99"
done)
all_runs=$(awk '{ printf "%s%s %s/%s/%s", (NR > 1 ? "; " : ""), $1, $2, $3, $4 }' "$dir/results")

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
# The standing analysis (profile, limits) kept beside this script.
notes=""
[ -f bench/gateway-notes.md ] && notes=$'\n'"$(cat bench/gateway-notes.md)"
section=$(cat <<MD
<!-- gateway-bench:start -->
## Gateway

\`bench/gateway.sh\` (RUNS=$RUNS DURATION=$DURATION CONNECTIONS=$CONNECTIONS WORKERS=$WORKERS
WRK_THREADS=$WRK_THREADS), run $(date -u +%Y-%m-%d) on $(nproc) CPUs ($cpu), $(uname -sr).
Loopback only: two \`albless-whoami\` replicas (release build) on 127.0.0.2 and 127.0.0.3,
\`wrk -t$WRK_THREADS -c$CONNECTIONS -d$DURATION --latency\` against \`/\` of one replica, of
nginx (round-robin upstream, keep-alive pool, $WORKERS worker process(es)) and of the albless
gateway (\`$gateway_bin\`, \`\$default\` route, $WORKERS single-threaded worker(s) with SO_REUSEPORT listeners). The load
generator, the proxies and the replicas share the same CPUs. Median run of $RUNS by
requests/s:

| target | requests/s | p50 ms | p99 ms |
| --- | ---: | ---: | ---: |
$table

All runs (req/s, p50 ms, p99 ms): $all_runs.

Gateway resident memory (VmRSS): $((rss_idle_kb / 1024)).$(( (rss_idle_kb % 1024) * 10 / 1024 )) MB idle after start,
$((rss_after_kb / 1024)).$(( (rss_after_kb % 1024) * 10 / 1024 )) MB idle after the load.
$notes
<!-- gateway-bench:end -->
MD
)

# Replace the section between the markers, or append it.
file=BENCHMARKS.md
[ -f "$file" ] || printf '# Benchmarks\n\n' >"$file"
if grep -q '<!-- gateway-bench:start -->' "$file"; then
  SECTION="$section" python3 - "$file" <<'PY'
import os, re, sys
path = sys.argv[1]
text = open(path).read()
new = re.sub(r"<!-- gateway-bench:start -->.*?<!-- gateway-bench:end -->",
             lambda _: os.environ["SECTION"], text, flags=re.S)
open(path, "w").write(new)
PY
else
  printf '\n%s\n' "$section" >>"$file"
fi
echo "bench: results written to $file"
echo "$table"
