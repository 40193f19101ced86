# Shared by the bench scripts (sourced, not run): a scratch folder `$dir` and the
# background processes in `pids`, both cleaned up on exit, and two port helpers.

dir="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

# A port free on `ip` a moment ago (the kernel picks it).
free_port() { # ip
  python3 -c 'import socket,sys; s=socket.socket(); s.bind((sys.argv[1],0)); print(s.getsockname()[1])' "$1"
}

# Waits up to 30 s (a program under valgrind starts slowly) for `ip:port` to accept.
wait_port() { # ip port
  for _ in $(seq 600); do
    if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "bench: nothing listens on $1:$2" >&2; exit 1
}
