#!/bin/sh
# Applies every *.sql file of a directory, in name order, to the database
# named by the libpq environment (PGHOST, PGPORT, PGUSER, PGPASSWORD,
# PGDATABASE). Each file runs in one transaction and stops at the first error.
# Files in goose format are applied up to their "-- +goose Down" marker.
set -eu
dir=${1:-/migrations}
until pg_isready -q; do
	echo "waiting for postgres at ${PGHOST:-localhost}:${PGPORT:-5432}"
	sleep 1
done
n=0
for f in "$dir"/*.sql; do
	[ -e "$f" ] || { echo "no migrations in $dir" >&2; exit 1; }
	echo "applying $(basename "$f")"
	sed '/^-- +goose Down/,$d' "$f" | psql -v ON_ERROR_STOP=1 --single-transaction -q -f -
	n=$((n + 1))
done
echo "applied $n migrations"
