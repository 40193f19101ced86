#!/usr/bin/env bash
# Gateway benchmark (not a test): on loopback, `albless up` runs a stack of two replicas
# of the sample app behind its gateway; nginx, the equivalent reverse proxy, is pointed
# at the same two replicas; wrk drives each with the same load, and the numbers go into
# BENCHMARKS.md between the gateway-bench markers.
#
#   scripts/install-bench-tools   # wrk and nginx, pinned
#   bench/gateway.sh              # RUNS=3 DURATION=10s CONNECTIONS=64 WORKERS=1 by default
#
# Rows: the replicas directly, nginx, `albless up` (release build, the whole stack:
# scheduler, registry, DNS, control API, gateway) and the gateway alone
# (crates/gateway/examples/bench_gateway.rs: the same Gateway without the rest, to see
# what the rest costs). nginx gets WORKERS worker processes and both albless gateways
# WORKERS single-threaded workers (`--gateway-workers`; Gateway::serve_workers, one
# SO_REUSEPORT listener each), so the proxies get the same CPU share and process model.
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

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
cargo build --release --quiet -p albless -p albless-whoami
cargo build --release --quiet -p albless-gateway --example bench_gateway
target_dir="${CARGO_TARGET_DIR:-target}"
albless_bin="$target_dir/release/albless"
gateway_bin="$target_dir/release/examples/bench_gateway"

# $dir, pids, cleanup on exit, free_port, wait_port.
. bench/lib.sh

# `albless up`: two replicas (tasks on their own loopback addresses) behind its gateway.
# The sample app is found beside the albless binary; every address is picked free.
cat >"$dir/albless.toml" <<'TOML'
version = 1

[stack]
name = "bench"
region = "us-east-1"

[api]
listen = "127.0.0.1:0"

[api.routes]
"$default" = { service = "backend" }

[discovery]
namespace = "ecs.local"
record_type = "SRV"
ttl = 10
dns_listen = "127.0.0.1:0"

[services.backend]
command = ["albless-whoami"]
image = "albless-whoami:latest"
port = 8080
cpu = 256
memory = 512
desired_count = 2

[services.backend.health_check]
path = "/health"
interval = 5
timeout = 2
retries = 2
TOML
"$albless_bin" up "$dir/albless.toml" --quiet-tasks --gateway-workers "$WORKERS" \
  --control-listen 127.0.0.1:0 --state-dir "$dir/state" >"$dir/up.log" 2>&1 &
up_pid=$!
pids+=($up_pid)
# Its gateway address, then the two replicas once healthy (registered, so routed to).
for _ in $(seq 600); do
  [ "$(grep -c ' healthy at ' "$dir/up.log")" -ge 2 ] && break
  kill -0 "$up_pid" 2>/dev/null || { cat "$dir/up.log" >&2; echo "bench: albless up stopped" >&2; exit 1; }
  sleep 0.1
done
up_addr=$(sed -n 's|^gateway: http://||p' "$dir/up.log" | head -1)
mapfile -t apps < <(sed -n 's|.* healthy at \([0-9.:]*\) .*|\1|p' "$dir/up.log" | head -2)
[ -n "$up_addr" ] && [ "${#apps[@]}" -eq 2 ] || { cat "$dir/up.log" >&2; echo "bench: albless up did not start two tasks" >&2; exit 1; }
app1=${apps[0]}
app2=${apps[1]}

# nginx.
nginx_addr="127.0.0.1:$(free_port 127.0.0.1)"
sed -e "s|@WORKERS@|$WORKERS|" -e "s|@DIR@|$dir|g" -e "s|@APP1@|$app1|" -e "s|@APP2@|$app2|" \
    -e "s|@LISTEN@|$nginx_addr|" bench/nginx.conf.template >"$dir/nginx.conf"
"$NGINX" -c "$dir/nginx.conf" -e "$dir/nginx-error.log" &
nginx_pid=$!
pids+=($nginx_pid)
wait_port "${nginx_addr%:*}" "${nginx_addr##*:}"

# The gateway alone, in front of the same replicas.
albless_addr="127.0.0.1:$(free_port 127.0.0.1)"
"$gateway_bin" --listen "$albless_addr" --workers "$WORKERS" "$app1" "$app2" >"$dir/gateway.log" 2>&1 &
gateway_pid=$!
pids+=($gateway_pid)
wait_port "${albless_addr%:*}" "${albless_addr##*:}"
sleep 1
rss() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; } # pid -> MB
rss_idle=$(rss "$gateway_pid")
rss_up_idle=$(rss "$up_pid")

# CPU time (user and system clock ticks) used so far by a process, all threads included,
# and by its child processes when asked (nginx's workers; never `albless up`'s, which are
# the replicas): prints "user sys".
cpu_ticks() { # pid [children]
  local p user=0 sys=0 u s children=""
  [ "${2:-}" = children ] && children=$(pgrep -P "$1" || true)
  for p in "$1" $children; do
    read -r u s < <(awk '{ print $14, $15 }' "/proc/$p/stat" 2>/dev/null || echo "0 0")
    user=$((user + u)); sys=$((sys + s))
  done
  echo "$user $sys"
}
tick_us=$((1000000 / $(getconf CLK_TCK)))

# One wrk run: prints "rps p50_ms p99_ms user_us sys_us", the last two being the proxy's
# CPU time per request (none for the direct row).
run_wrk() { # url duration [proxy pid [children]]
  local before after
  before=$([ -n "${3:-}" ] && cpu_ticks "$3" "${4:-}" || echo "0 0")
  wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$2" --latency "$1" >"$dir/wrk.out"
  after=$([ -n "${3:-}" ] && cpu_ticks "$3" "${4:-}" || echo "0 0")
  awk -v before="$before" -v after="$after" -v tick="$tick_us" '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /Requests\/sec/ { rps = $2 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    / Non-2xx or 3xx responses/ { bad = $NF }
    /Socket errors/ { errors = $0 }
    / requests in / { total = $1 }
    END {
      split(before, b, " "); split(after, a, " ")
      user = total > 0 ? (a[1] - b[1]) * tick / total : 0
      sys = total > 0 ? (a[2] - b[2]) * tick / total : 0
      printf "%.0f %.3f %.3f %.1f %.1f\n", rps, p50, p99, user, sys; if (bad > 0 || errors != "") print "bench: warning: " bad " non-2xx, " errors > "/dev/stderr" }
  ' "$dir/wrk.out"
}

declare -A urls=([direct]="http://$app1/" [nginx]="http://$nginx_addr/" [up]="http://$up_addr/" [albless]="http://$albless_addr/")
declare -A proxy_pid=([direct]="" [nginx]="$nginx_pid" [up]="$up_pid" [albless]="$gateway_pid")
targets=(direct nginx up albless)
for t in "${targets[@]}"; do run_wrk "${urls[$t]}" 2s >/dev/null; done # warm-up
for run in $(seq "$RUNS"); do
  for t in "${targets[@]}"; do
    children=""
    [ "$t" = nginx ] && children=children
    result=$(run_wrk "${urls[$t]}" "$DURATION" "${proxy_pid[$t]}" "$children")
    echo "$t $result" >>"$dir/results"
    echo "bench: run $run $t: $result (req/s p50_ms p99_ms proxy_user_us proxy_sys_us)"
  done
done
sleep 1
rss_after=$(rss "$gateway_pid")
rss_up_after=$(rss "$up_pid")
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# The median run (by req/s) of each target.
median() { # target
  grep "^$1 " "$dir/results" | sort -k2,2n | awk '{ rows[NR] = $0 } END { print rows[int((NR + 1) / 2)] }'
}
table=$(for t in "${targets[@]}"; do
  read -r _ rps p50 p99 user sys <<<"$(median "$t")"
  label=$t
  [ "$t" = direct ] && label="direct to one replica"
  [ "$t" = nginx ] && label="nginx $("$NGINX" -v 2>&1 | sed 's|.*/||')"
  [ "$t" = up ] && label="\`albless up\`"
  [ "$t" = albless ] && label="albless gateway alone"
  cpu="-"
  [ "$t" != direct ] && cpu="$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.1f (%.1f + %.1f)", u + s, u, s }')"
  printf '| %s | %s | %s | %s | %s |\n' "$label" "$rps" "$p50" "$p99" "$cpu"
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
Loopback only: \`albless up --quiet-tasks --gateway-workers $WORKERS\` (release build) runs
two \`albless-whoami\` tasks (\`$app1\`, \`$app2\`) behind a \`\$default\` route;
\`wrk -t$WRK_THREADS -c$CONNECTIONS -d$DURATION --latency\` against \`/\` of one replica, of
nginx (round-robin upstream over the same two tasks, keep-alive pool, $WORKERS worker
process(es)), of \`albless up\`'s gateway and of the gateway alone (\`$gateway_bin\`, same
replicas); both gateways with $WORKERS single-threaded worker(s) with SO_REUSEPORT
listeners. The load generator, the proxies and the replicas share the same CPUs. Load
average (1, 5, 15 min) before the build: $load_before; after the runs: $load_after.
Median run of $RUNS by requests/s:

| target | requests/s | p50 ms | p99 ms | proxy CPU µs per request (user + system) |
| --- | ---: | ---: | ---: | ---: |
$table

Proxy CPU is the CPU time the proxy's processes used during the run divided by the
requests wrk counted (\`/proc/PID/stat\` ticks, so about ±1 µs): nginx's master and worker;
the whole \`albless up\` process (gateway, scheduler, registry, DNS, control API; its tasks
excluded); the gateway alone.

All runs (req/s, p50 ms, p99 ms): $all_runs.

Resident memory (VmRSS), idle after start / idle after the load: \`albless up\` (whole
stack, tasks excluded) $rss_up_idle / $rss_up_after MB; gateway alone $rss_idle / $rss_after MB.
$notes
<!-- gateway-bench:end -->
MD
)

write_section gateway-bench "$section"
echo "$table"
