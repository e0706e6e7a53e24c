#!/usr/bin/env bash
# Assembles the small Linux test guest from Debian packages, without installing them:
#   - the newest linux-image-6.1.0-*-amd64 kernel (apt-get download + dpkg -x),
#   - busybox-static in a newc cpio initramfs whose /init mounts proc/sys/dev, prints
#     NITRO-GUEST-READY on the serial console, runs a workload and powers off.
# Idempotent and cached outside git (NITRO_GUEST_CACHE, default ~/.cache/nitro-reactive/guest).
# Prints two lines: KERNEL=<path> and INITRD=<path>.
#
# Options:
#   --kernel-package NAME   use this linux-image package instead of the newest 6.1 one
#   --extra DIR             also pack DIR's contents into a second cpio appended to the
#                           initramfs (a workload.sh there replaces the default workload)
set -euo pipefail

cache="${NITRO_GUEST_CACHE:-${HOME:-/tmp}/.cache/nitro-reactive/guest}"
kernel_package=""
extra=""
while [ $# -gt 0 ]; do
  case "$1" in
    --kernel-package) kernel_package="$2"; shift 2 ;;
    --extra) extra="$2"; shift 2 ;;
    *) echo "guest/build.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

mkdir -p "$cache"
here="$(cd "$(dirname "$0")" && pwd)"

need() { command -v "$1" >/dev/null 2>&1 || { echo "guest/build.sh: $1 is required (apt-get install $2)" >&2; exit 1; }; }
need apt-get apt
need dpkg-deb dpkg
need cpio cpio
need gzip gzip

if [ -z "$kernel_package" ]; then
  kernel_package=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' | awk '{print $1}' | sort -V | tail -n 1)
  if [ -z "$kernel_package" ]; then
    echo "guest/build.sh: no linux-image-6.1.0-*-amd64 package in the apt lists; run 'apt-get update' first." >&2
    exit 1
  fi
fi

fetch() { # package -> extracted directory
  local pkg="$1" dir="$cache/pkg/$1"
  if [ ! -f "$dir/.done" ]; then
    rm -rf "$dir"; mkdir -p "$dir"
    (cd "$cache/pkg" && apt-get download -q "$pkg" >/dev/null 2>&1) || {
      echo "guest/build.sh: apt-get download $pkg failed (is the package list up to date?)" >&2; exit 1; }
    dpkg-deb -x "$cache/pkg/${pkg}"_*.deb "$dir"
    rm -f "$cache/pkg/${pkg}"_*.deb
    touch "$dir/.done"
  fi
  echo "$dir"
}

mkdir -p "$cache/pkg"
kdir=$(fetch "$kernel_package")
bdir=$(fetch busybox-static)
kernel=$(ls "$kdir"/boot/vmlinuz-* | head -n 1)
cp -f "$kernel" "$cache/vmlinuz"

initrd="$cache/initrd.cpio.gz"
stamp="$cache/initrd.stamp"
want_stamp="$(sha256sum "$here/init" "$bdir/bin/busybox" | sha256sum | cut -c1-16)"
if [ ! -f "$initrd" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want_stamp" ]; then
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,etc,root,usr/bin,usr/sbin}
  cp "$bdir/bin/busybox" "$root/bin/busybox"
  cp "$here/init" "$root/init"
  chmod 755 "$root/init" "$root/bin/busybox"
  printf 'root:x:0:0:root:/root:/bin/sh\n' > "$root/etc/passwd"
  printf 'root:x:0:\n' > "$root/etc/group"
  printf 'root:*:19000:0:99999:7:::\n' > "$root/etc/shadow"
  (cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -9) > "$initrd.tmp"
  mv "$initrd.tmp" "$initrd"
  echo "$want_stamp" > "$stamp"
fi

if [ -n "$extra" ]; then
  [ -d "$extra" ] || { echo "guest/build.sh: --extra $extra is not a directory" >&2; exit 1; }
  out="$cache/initrd-extra-$(find "$extra" -type f -exec sha256sum {} + | sort | sha256sum | cut -c1-12).cpio.gz"
  if [ ! -f "$out" ]; then
    # The kernel unpacks concatenated cpio archives in order; later files win.
    { cat "$initrd"; (cd "$extra" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -9); } > "$out.tmp"
    mv "$out.tmp" "$out"
  fi
  initrd="$out"
fi

echo "KERNEL=$cache/vmlinuz"
echo "INITRD=$initrd"
echo "KERNEL_PACKAGE=$kernel_package"
