#!/bin/sh
# Starts PostgreSQL in the foreground, initialising PGDATA first when it
# holds no cluster (an emptyDir is empty on every pod start).
#
#   POSTGRES_PASSWORD  required: the password of POSTGRES_USER
#   POSTGRES_USER      the superuser (default postgres)
#   POSTGRES_DB        a database created for it (default: POSTGRES_USER)
#   PGDATA             the data directory (default set by the image); not a
#                      mount point itself: mount its parent (an emptyDir)
#
# Clients on the network authenticate with scram-sha-256; local socket
# connections inside the container are trusted. Arguments are passed to
# postgres (`-c name=value`).
set -eu

: "${PGDATA:?PGDATA must be set}"
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	if [ -z "${POSTGRES_PASSWORD:-}" ]; then
		echo "docker-entrypoint: POSTGRES_PASSWORD is empty: network clients could not log in" >&2
		exit 1
	fi
	# Initialise beside PGDATA and move it into place when done, so that a
	# container restarted halfway (an emptyDir outlives its container)
	# starts over instead of finding a cluster without its database.
	# Without fsync: the data lives no longer than the pod.
	tmp="$PGDATA.init"
	rm -rf "$tmp" "$PGDATA"
	pwfile=$(mktemp)
	printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
	initdb --pgdata="$tmp" --username="$user" --pwfile="$pwfile" --no-sync \
		--encoding=UTF8 --no-locale --auth-local=trust --auth-host=scram-sha-256 >/dev/null
	rm -f "$pwfile"
	{
		echo "host all all 0.0.0.0/0 scram-sha-256"
		echo "host all all ::/0 scram-sha-256"
	} >>"$tmp/pg_hba.conf"
	if [ "$db" != postgres ]; then
		# Single-user mode: no server listens, so nothing can connect (or
		# pass a readiness probe) before initialisation is done.
		quoted=$(printf '%s' "$db" | sed 's/"/""/g')
		echo "CREATE DATABASE \"$quoted\"" |
			postgres --single -j -D "$tmp" -c fsync=off postgres >/dev/null
	fi
	mv "$tmp" "$PGDATA"
	echo "docker-entrypoint: initialised $PGDATA (user $user, database $db)"
fi

exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
