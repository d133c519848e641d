#!/usr/bin/env bash
# The Debian packages the real-program tests need (test/real-programs.test.ts runs the manifests'
# own container commands against a real PostgreSQL 15 and a real Redis started by the test):
#   postgresql-15         initdb, pg_ctl, postgres  (/usr/lib/postgresql/15/bin)
#   postgresql-client-15  pg_isready, psql, pg_dump, pg_restore
#   redis-server          redis-server, redis-cli
#   util-linux            setpriv (run a command as a uid with no passwd entry, as in the images)
#   celery, python3-django-celery-beat, python3-psycopg2, python3-redis
#                         a real Celery worker and beat (DatabaseScheduler) for the Celery liveness
#                         probes (test/real-celery.test.ts)
# Idempotent: installs only what is missing and runs `apt-get update` only then. The tests start
# their own servers as an unprivileged uid in temp directories; the system services these
# packages ship are never started (policy-rc.d forbids it while installing), nor needed.
# Does nothing off Linux or without apt-get (the tests skip only off Linux; elsewhere install the
# packages by hand).
set -euo pipefail

packages=(postgresql-15 postgresql-client-15 redis-server util-linux celery python3-django-celery-beat python3-psycopg2 python3-redis)

if [ "$(uname -s)" != "Linux" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-deps: not a Debian-like Linux; install ${packages[*]} (or their equivalents) yourself" >&2
  exit 0
fi

missing=()
for p in "${packages[@]}"; do
  if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" != "installed" ]; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  sudo=(sudo)
fi

echo "install-test-deps: installing ${missing[*]}" >&2
policy=/usr/sbin/policy-rc.d
placed_policy=0
if [ ! -e "$policy" ]; then
  # 101 = "action forbidden": invoke-rc.d then starts no service during the installation.
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod 0755 "$policy"
  placed_policy=1
fi
cleanup() {
  if [ "$placed_policy" = 1 ]; then "${sudo[@]}" rm -f "$policy"; fi
}
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
