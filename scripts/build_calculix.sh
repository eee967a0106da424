#!/usr/bin/env bash
# Build CalculiX ccx 2.20 with its run-time UMAT loader (-DCALCULIX_EXTERNAL_BEHAVIOURS_SUPPORT)
# from Debian's own source package, and cache the binary.
#
#   scripts/build_calculix.sh [--force]      prints the path of the cached ccx on stdout
#
# Debian's /usr/bin/ccx cannot load a UMAT from a shared library (a material named ABAQUS...
# silently runs a built-in placeholder), hence this rebuild.  Steps (see docs/abi.md):
#   1. enable deb-src for the apt sources this machine already uses (derived from /etc/apt/,
#      no host is named here), 2. apt-get source --download-only calculix-ccx,
#   3. unpack the orig tarball + Debian patches, 4. make with the loader flag and -ldl.
# Cache: ${DMN_UMAT_CCX_CACHE:-~/.cache/dmn_umat/ccx}/ccx (built once per machine).
set -euo pipefail

CACHE="${DMN_UMAT_CCX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dmn_umat/ccx}"
BIN="$CACHE/ccx"
if [ -x "$BIN" ] && [ "${1:-}" != "--force" ]; then
    echo "$BIN"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
log() { echo "build_calculix: $*" >&2; }

# ---- build dependencies
missing=()
for p in gfortran gcc make dpkg-dev libspooles-dev libarpack2-dev liblapack-dev libblas-dev; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing build dependencies: ${missing[*]}"
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# ---- deb-src entries derived from the enabled apt sources (same hosts, suites, components)
have_src() {
    grep -Eqs '^[[:space:]]*deb-src[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
        || grep -Eqs '^Types:.*deb-src' /etc/apt/sources.list.d/*.sources
}
if ! have_src; then
    log "enabling deb-src for the existing apt sources"
    tmp_list="$(mktemp)"
    tmp_src="$(mktemp)"
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$f" >>"$tmp_list"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        # keep each deb822 stanza whose Types include "deb", rewritten to deb-src
        awk 'BEGIN { RS=""; ORS="\n\n" }
             /(^|\n)Types:[^\n]*[[:space:]]deb([[:space:]]|\n|$)/ || /(^|\n)Types:[[:space:]]*deb$/ {
                 sub(/Types:[^\n]*/, "Types: deb-src"); print }' "$f" >>"$tmp_src"
    done
    if [ -s "$tmp_list" ]; then $SUDO install -m 644 "$tmp_list" /etc/apt/sources.list.d/dmn-umat-deb-src.list; fi
    if [ -s "$tmp_src" ]; then $SUDO install -m 644 "$tmp_src" /etc/apt/sources.list.d/dmn-umat-deb-src.sources; fi
    rm -f "$tmp_list" "$tmp_src"
    $SUDO apt-get update -qq
fi

# ---- fetch, unpack, patch
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
log "downloading the calculix-ccx source package"
apt-get source --download-only calculix-ccx >/dev/null 2>&1 || {
    log "error: 'apt-get source --download-only calculix-ccx' failed"; exit 1; }
tar xf ./calculix-ccx_*.orig.tar.*
tar xf ./calculix-ccx_*.debian.tar.*
cd CalculiX
if [ -f ../debian/patches/series ]; then
    while read -r p; do
        case "$p" in ''|'#'*) continue ;; esac
        patch -s -p1 <"../debian/patches/$p"
    done <../debian/patches/series
fi
src="$(ls -d ccx_*/src | head -n1)"
ver="${src%%/*}"
cd "$src"

# ---- build with the run-time UMAT loader
log "building $ver with -DCALCULIX_EXTERNAL_BEHAVIOURS_SUPPORT (a few minutes)"
make -s -j"${DMN_UMAT_CCX_JOBS:-$(nproc)}" \
    CFLAGS='-O2 -I/usr/include/spooles -DARCH="Linux" -DSPOOLES -DARPACK -DMATRIXSTORAGE -DUSE_MT=1 -DCALCULIX_EXTERNAL_BEHAVIOURS_SUPPORT' \
    FFLAGS='-O2 -fallow-argument-mismatch' \
    LDFLAGS='-ldl' >build.log 2>&1 || { tail -n 30 build.log >&2; log "error: make failed"; exit 1; }

mkdir -p "$CACHE"
install -m 755 "$ver" "$CACHE/ccx.tmp.$$"
mv -f "$CACHE/ccx.tmp.$$" "$BIN"
log "installed $BIN"
echo "$BIN"
