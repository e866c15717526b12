#!/usr/bin/env bash
# Installs the Debian packages the app and the tests need, only when some are missing:
# PortAudio for sounddevice, Qt's runtime libraries, Xvfb for a window without a screen.
set -euo pipefail
pkgs=(libportaudio2 libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libxcb-cursor0
      libxcb-icccm4 libxcb-keysyms1 libdbus-1-3 libfontconfig1 fonts-dejavu-core xvfb)
command -v dpkg-query >/dev/null || { echo "sysdeps: not a Debian system; install PortAudio and Qt 6's xcb libraries yourself" >&2; exit 0; }
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "sysdeps: installing ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
elif command -v sudo >/dev/null; then
  sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "sysdeps: please run: apt-get install ${missing[*]}" >&2
  exit 1
fi
