# Shared by the quick-start scripts: installs Debian packages when root, otherwise prints
# the exact command to run and stops.
ensure_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -eq 0 ]; then
    echo "Installing: ${missing[*]}" >&2
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }; then
      echo "Could not install ${missing[*]} with apt-get." >&2
      return 1
    fi
  else
    echo "Missing Debian packages. Run as root:" >&2
    echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
}

# guest/build.sh fetches the guest kernel and busybox with 'apt-get download', which needs package lists.
ensure_apt_lists() {
  if [ -n "$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' 2>/dev/null | head -n 1)" ]; then
    return 0
  fi
  if [ "$(id -u)" -eq 0 ]; then
    echo "Updating apt package lists (needed to fetch the test guest's kernel)" >&2
    apt-get update -qq || { echo "apt-get update failed." >&2; return 1; }
  else
    echo "The apt package lists hold no linux-image-6.1.0-*-amd64. Run as root:" >&2
    echo "  apt-get update" >&2
    exit 1
  fi
}

command -v dotnet >/dev/null 2>&1 || { echo "The .NET 10 SDK is required (dotnet not on PATH)." >&2; exit 1; }
