#!/bin/sh
# Prepares the image build context of the Docker example: builds `albless-whoami` as a
# statically linked binary for the host (so that a `FROM scratch` image can run it, with
# no base image and no registry) and copies it into app/.
#
# Uses the musl target when it is installed, else glibc with static linking (works for
# whoami, which does no DNS or NSS look-ups). Prints the binary's path on its last line.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
arch=$(uname -m)
if rustup target list --installed 2>/dev/null | grep -qx "$arch-unknown-linux-musl"; then
    target="$arch-unknown-linux-musl"
    flags=""
else
    target="$arch-unknown-linux-gnu"
    flags="-C target-feature=+crt-static"
fi
cd "$root"
RUSTFLAGS="${RUSTFLAGS:-} $flags" cargo build --release -p albless-whoami --target "$target" >&2
bin="${CARGO_TARGET_DIR:-$root/target}/$target/release/albless-whoami"
# Stripped: the image is then about 4 MB instead of 20.
strip -o "$here/app/albless-whoami" "$bin" 2>/dev/null || cp "$bin" "$here/app/albless-whoami"
echo "$here/app/albless-whoami"
