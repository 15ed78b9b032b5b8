#!/bin/sh
# Applies every *.sql file of a directory (default /migrations), in name
# order, to the database the libpq environment names (PGHOST, PGPORT,
# PGUSER, PGPASSWORD, PGDATABASE). Each file runs in one transaction and
# the first error stops everything (exit 1).
#
# The stack applies it once PostgreSQL is ready (dependsOn), but a ready
# pod is not yet a reachable Service: kube-proxy programs the Service's
# address a moment later. So it retries the first connection for up to
# MIGRATE_CONNECT_WAIT seconds (default 15) before failing, saying where it
# looked, rather than failing the pod into the Job's back-off.
#
# The files are written to be applied again (IF NOT EXISTS, ON CONFLICT DO
# NOTHING), so a Job that retries after a partial run completes it.
set -eu

dir=${1:-/migrations}
export PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-5}"
where="${PGUSER:-?}@${PGHOST:-localhost}:${PGPORT:-5432}/${PGDATABASE:-?}"

wait=${MIGRATE_CONNECT_WAIT:-15}
deadline=$(( $(date +%s) + wait ))
until out=$(psql -X -q -A -t -c 'SELECT 1' 2>&1); do
	if [ "$(date +%s)" -ge "$deadline" ]; then
		echo "migrate: cannot connect to PostgreSQL at $where within ${wait}s: $out" >&2
		exit 1
	fi
	sleep 0.5
done

n=0
for f in "$dir"/*.sql; do
	if [ ! -e "$f" ]; then
		echo "migrate: no *.sql files in $dir" >&2
		exit 1
	fi
	name=$(basename "$f")
	start=$(date +%s%N)
	if ! psql -X -q -v ON_ERROR_STOP=1 --single-transaction -f "$f"; then
		echo "migrate: $name failed (rolled back); $n applied before it" >&2
		exit 1
	fi
	echo "migrate: applied $name ($(( ($(date +%s%N) - start) / 1000000 )) ms)"
	n=$((n + 1))
done
echo "migrate: applied $n migrations to $where"
