#!/usr/bin/env bash
# Installs the servers Parley runs on, from Debian's packages, when their binaries are missing.
# Package post-install scripts may try to start the services; a policy-rc.d refuses that (we start
# our own instances), so the install itself never depends on the machine's service manager.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"

need=()
command -v nats-server >/dev/null || need+=(nats-server)
command -v redis-server >/dev/null || need+=(redis-server)
{ command -v mariadbd >/dev/null && command -v mariadb-install-db >/dev/null; } || need+=(mariadb-server mariadb-client)
[ "${PARLEY_NEED_COMPOSE:-0}" = 1 ] && { command -v docker-compose >/dev/null || need+=(docker-compose); }
[ ${#need[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-infra: need root (or sudo) to install: ${need[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
echo "install-infra: installing ${need[*]}" >&2
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null && $SUDO chmod +x "$policy" && created_policy=1
fi
trap '[ $created_policy = 1 ] && $SUDO rm -f "$policy"' EXIT
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" || true

for b in nats-server redis-server mariadbd mariadb-install-db; do
  command -v "$b" >/dev/null || { echo "install-infra: $b is still missing after the install" >&2; exit 1; }
done
