#!/usr/bin/env bash
# Starts the app; on a machine with no screen, inside a virtual one (Xvfb) so it still runs.
set -euo pipefail
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ] && [ -z "${QT_QPA_PLATFORM:-}" ]; then
  echo "No screen found (DISPLAY is unset): starting Assetsmith inside Xvfb." >&2
  exec xvfb-run -a -s "-screen 0 1600x1000x24" "$@"
fi
exec "$@"
