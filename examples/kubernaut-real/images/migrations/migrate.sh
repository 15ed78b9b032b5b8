#!/bin/sh
# Applies every *.sql file of a directory (default /migrations), in name
# order, to the database the libpq environment names (PGHOST, PGPORT,
# PGUSER, PGPASSWORD, PGDATABASE). Each file runs in one transaction and
# the first error stops everything (exit 1).
#
# It does not wait for the database: the stack applies it once PostgreSQL
# is ready (dependsOn). A database it cannot reach within PGCONNECT_TIMEOUT
# (default 5 s) fails it at once, saying where it looked.
#
# The files are written to be applied again (IF NOT EXISTS, ON CONFLICT DO
# NOTHING), so a Job that retries after a partial run completes it.
set -eu

dir=${1:-/migrations}
export PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-5}"
where="${PGUSER:-?}@${PGHOST:-localhost}:${PGPORT:-5432}/${PGDATABASE:-?}"

if ! out=$(psql -X -q -A -t -c 'SELECT 1' 2>&1); then
	echo "migrate: cannot connect to PostgreSQL at $where: $out" >&2
	exit 1
fi

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
