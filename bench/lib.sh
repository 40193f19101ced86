# Shared by the bench scripts (sourced, not run): a scratch folder `$dir` and the
# background processes in `pids`, both cleaned up on exit, two port helpers, and
# write_section for BENCHMARKS.md.

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

# Puts `section` (which starts with `<!-- NAME:start -->` and ends with `<!-- NAME:end -->`)
# into BENCHMARKS.md in place of the section of that name, or appends it.
write_section() { # name section
  local file=BENCHMARKS.md
  [ -f "$file" ] || printf '# Benchmarks\n\n' >"$file"
  if grep -q "<!-- $1:start -->" "$file"; then
    NAME="$1" SECTION="$2" python3 - "$file" <<'PY'
import os, re, sys
path = sys.argv[1]
name = re.escape(os.environ["NAME"])
text = open(path).read()
new = re.sub(rf"<!-- {name}:start -->.*?<!-- {name}:end -->",
             lambda _: os.environ["SECTION"], text, flags=re.S)
open(path, "w").write(new)
PY
  else
    printf '\n%s\n' "$2" >>"$file"
  fi
  echo "bench: results written to $file"
}
