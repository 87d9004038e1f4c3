#!/usr/bin/env bash
# Installs Debian's redis-server and nginx when missing, for the tests that start their own
# instances on free loopback ports. Idempotent; prints nothing but errors. Never leaves a
# system-wide redis or nginx daemon running: one that a package's postinst started is stopped.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
[ -x /usr/sbin/nginx ] || missing+=(nginx)
[ ${#missing[@]} -eq 0 ] && exit 0

# Keep postinst scripts from starting the daemons (invoke-rc.d asks policy-rc.d first).
policy=/usr/sbin/policy-rc.d
added_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && added_policy=1
fi
trap '[ "$added_policy" = 1 ] && rm -f "$policy"' EXIT
if [ ! -f /tmp/.copilot-services-apt-updated ]; then
  apt-get update -qq >/dev/null && touch /tmp/.copilot-services-apt-updated
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# Belt and braces: stop a daemon that was started anyway (only the packages' own ones,
# found by their pid files, never a test's instance).
for pidfile in /run/redis/redis-server.pid /run/nginx.pid; do
  if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    kill "$(cat "$pidfile")" 2>/dev/null || true
  fi
done
exit 0
