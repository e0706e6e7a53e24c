#!/usr/bin/env bash
# Starts or stops the libvirt daemon the libvirt integration tests drive (scripts/test.sh calls it):
#   scripts/libvirtd.sh start   libvirtd (qemu:///system, also on 127.0.0.1:16509 over TCP without
#                               authentication, for the qemu+tcp:// test) and virtlogd, which it needs
#   scripts/libvirtd.sh stop    destroys and undefines the tests' leftover nitro-test-* domains, then
#                               stops what 'start' started, by pid
# A libvirtd that already serves qemu:///system is used as it is and never stopped.
# Needs root (the system instance); otherwise it prints what to run and fails.
set -uo pipefail
state="${NITRO_LIBVIRTD_STATE:-/run/nitro-libvirtd}"
uri="qemu:///system"

answers() { timeout "${2:-10}" virsh -q -c "$1" version >/dev/null 2>&1; }

stop_pid() { # name pidfile
  [ -f "$2" ] || return 0
  local pid; pid=$(cat "$2")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    echo "libvirtd.sh: stopped $1 (pid $pid)" >&2
  fi
  rm -f "$2"
}

start() {
  if answers "$uri"; then
    echo "libvirtd.sh: a libvirtd already serves $uri; using it." >&2
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "libvirtd.sh: the libvirt tests need the system libvirtd. Run as root:" >&2
    echo "  bash scripts/libvirtd.sh start" >&2
    return 1
  fi
  # What the libvirt-daemon-system package would create: the QEMU driver runs guests as
  # libvirt-qemu:libvirt-qemu (Debian's build default) and refuses to start without them.
  getent group kvm >/dev/null || groupadd --system kvm
  getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu
  id libvirt-qemu >/dev/null 2>&1 ||
    useradd --system --no-create-home --home-dir /var/lib/libvirt --shell /usr/sbin/nologin -g libvirt-qemu -G kvm libvirt-qemu
  mkdir -p "$state" /var/log/libvirt/qemu /var/lib/libvirt/qemu /run/libvirt
  cat > "$state/libvirtd.conf" <<EOF
listen_tls = 0
listen_tcp = 1
listen_addr = "127.0.0.1"
tcp_port = "16509"
auth_tcp = "none"
auth_unix_rw = "none"
log_outputs = "3:file:$state/libvirtd.log"
EOF
  echo "log_outputs = \"3:file:$state/virtlogd.log\"" > "$state/virtlogd.conf"
  if ! pgrep -x virtlogd >/dev/null; then
    rm -f /run/libvirt/virtlogd-sock /run/libvirt/virtlogd-admin-sock
    virtlogd --daemon --config "$state/virtlogd.conf" --pid-file "$state/virtlogd.pid" || { echo "libvirtd.sh: virtlogd did not start" >&2; return 1; }
  fi
  libvirtd --daemon --listen --config "$state/libvirtd.conf" --pid-file "$state/libvirtd.pid" ||
    { echo "libvirtd.sh: libvirtd did not start; see $state/libvirtd.log" >&2; stop; return 1; }
  # The first connection waits until the drivers have initialized (QEMU's capabilities probed).
  for _ in $(seq 1 30); do
    if answers "$uri" 60; then
      echo "libvirtd.sh: libvirtd (pid $(cat "$state/libvirtd.pid")) serves $uri and qemu+tcp://127.0.0.1/system" >&2
      return 0
    fi
    sleep 0.1
  done
  echo "libvirtd.sh: libvirtd did not answer on $uri; see $state/libvirtd.log" >&2
  stop
  return 1
}

stop() {
  [ -f "$state/libvirtd.pid" ] || [ -f "$state/virtlogd.pid" ] || return 0
  if [ -f "$state/libvirtd.pid" ] && answers "$uri"; then
    for domain in $(virsh -q -c "$uri" list --all --name 2>/dev/null | grep '^nitro-test-'); do
      virsh -q -c "$uri" destroy "$domain" >/dev/null 2>&1
      virsh -q -c "$uri" undefine "$domain" --snapshots-metadata >/dev/null 2>&1
      echo "libvirtd.sh: removed leftover domain $domain" >&2
    done
  fi
  stop_pid libvirtd "$state/libvirtd.pid"
  stop_pid virtlogd "$state/virtlogd.pid"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
