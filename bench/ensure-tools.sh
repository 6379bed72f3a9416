#!/bin/sh
# Installs what `make bench` needs that is not there yet: pgbench (Debian
# ships it with the PostgreSQL server packages, pulled in by
# postgresql-contrib). Nothing is downloaded but Debian packages.
set -eu
if ls /usr/lib/postgresql/*/bin/pgbench >/dev/null 2>&1; then
	exit 0
fi
echo "bench: pgbench is missing; installing postgresql-contrib with apt-get" >&2
if [ "$(id -u)" -ne 0 ]; then
	echo "bench: run as root, or install pgbench yourself: apt-get install postgresql-contrib" >&2
	exit 1
fi
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-contrib
