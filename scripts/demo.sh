#!/usr/bin/env bash
# The README's demo command: installs what the live demo needs (QEMU, and the tools guest/build.sh
# uses to build the bundled guest), then runs 'nitro demo'. Arguments go to 'nitro demo':
#   scripts/demo.sh             boot the bundled guest and trace it live
#   scripts/demo.sh --replay    replay the bundled trace (samples/traces/demo.nitrotrace), no QEMU needed
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/prerequisites.sh

replay=0
for arg in "$@"; do
  [ "$arg" = "--replay" ] && replay=1
done
if [ "$replay" -eq 0 ]; then
  # gcc builds the QEMU trap plugin (the fast listener) on first use; without it the demo falls back to the gdbstub.
  ensure_packages qemu-system-x86 cpio gzip xz-utils gcc libc6-dev
  ensure_apt_lists   # guest/build.sh fetches the kernel and busybox with apt-get download
fi

exec dotnet run -c Release --project samples/Nitro.Cli -- demo "$@"
