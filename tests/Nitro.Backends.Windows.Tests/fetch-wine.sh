#!/usr/bin/env bash
# Fetches Wine 8's real x64 ntdll.dll and win32u.dll (Debian's libwine package) for the Windows
# back end's tests, without installing the package. Idempotent and cached outside git
# (NITRO_WINE_CACHE, default ~/.cache/nitro-reactive/wine). Prints the directory holding the DLLs.
set -euo pipefail

cache="${NITRO_WINE_CACHE:-${HOME:-/tmp}/.cache/nitro-reactive/wine}"
dlls="usr/lib/x86_64-linux-gnu/wine/x86_64-windows"
if [ ! -f "$cache/.done" ]; then
  command -v apt-get >/dev/null 2>&1 || { echo "fetch-wine.sh: apt-get is required" >&2; exit 1; }
  command -v dpkg-deb >/dev/null 2>&1 || { echo "fetch-wine.sh: dpkg-deb is required" >&2; exit 1; }
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && apt-get download -q libwine >/dev/null 2>&1) || {
    echo "fetch-wine.sh: apt-get download libwine failed (is the package list up to date? run apt-get update)" >&2; exit 1; }
  dpkg-deb -x "$work"/libwine_*.deb "$work/x"
  rm -rf "$cache"; mkdir -p "$cache"
  cp "$work/x/$dlls/ntdll.dll" "$work/x/$dlls/win32u.dll" "$cache/"
  dpkg-deb -f "$work"/libwine_*.deb Version > "$cache/VERSION"
  touch "$cache/.done"
fi
echo "$cache"
