#!/usr/bin/env bash
# The README's test command: installs what the tests need, runs the whole suite,
# and ends with one plain line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/prerequisites.sh
# gcc: native layout checks and the static test programs; QEMU, cpio, gzip: the live guest tests;
# libvirt0 (+ its header for the layout check): the libvirt binding and machinery on test:///default;
# libvirt-daemon (+ its QEMU driver, virsh, qemu-img for the snapshot disk): the real-libvirtd tests.
ensure_packages gcc libc6-dev qemu-system-x86 qemu-utils cpio gzip xz-utils libvirt0 libvirt-dev \
  libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
ensure_apt_lists
# A libvirtd for qemu:///system and qemu+tcp://127.0.0.1/system, stopped again when the run ends.
# Once it runs, the libvirtd tests must pass rather than skip.
if bash scripts/libvirtd.sh start; then
  export NITRO_LIBVIRTD=required
  # The daemon this script starts also listens on TCP; one that was already running may not.
  [ -f "${NITRO_LIBVIRTD_STATE:-/run/nitro-libvirtd}/libvirtd.pid" ] && export NITRO_LIBVIRTD_TCP=required
  trap 'bash scripts/libvirtd.sh stop' EXIT
else
  echo "No libvirtd: the real-libvirtd tests will be skipped." >&2
fi
# Build (or find in its cache) the test guest once, so a failure here is reported plainly.
bash guest/build.sh >/dev/null || { echo "guest/build.sh failed: the live tests cannot run." >&2; echo "0 passed, 1 failed"; exit 1; }
# Wine 8's real ntdll.dll / win32u.dll (Debian libwine) for the Windows back end's tests, cached like the
# guest; once fetched here, the tests that read them must find them rather than skip.
wine_dir=$(bash tests/Nitro.Backends.Windows.Tests/fetch-wine.sh) || { echo "fetch-wine.sh failed: the Windows PE tests cannot run." >&2; echo "0 passed, 1 failed"; exit 1; }
export NITRO_WINE_DIR="$wine_dir" NITRO_WINE=required

results="artifacts/test-results"
rm -rf "$results"
mkdir -p "$results"

dotnet test Nitro.Reactive.sln -c Release \
  --logger "trx" --logger "console;verbosity=minimal" \
  --results-directory "$results" "$@"
status=$?
# Stop the daemon before the summary, so that the summary stays the last line.
if [ "${NITRO_LIBVIRTD:-}" = required ]; then
  bash scripts/libvirtd.sh stop
  trap - EXIT
fi

passed=0; failed=0; skipped=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  get() { echo "$counters" | sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p"; }
  p=$(get passed); f=$(get failed); t=$(get total); e=$(get executed)
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
  skipped=$((skipped + ${t:-0} - ${e:-0}))
done
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # The build or a test host failed before any result was written: count it as a failure.
  failed=1
fi
# Skipped tests on a line of their own: the last line is exactly "N passed, N failed".
echo "$skipped skipped"
echo "$passed passed, $failed failed"
exit "$status"
