#!/bin/sh
# postgres.sh starts a throwaway PostgreSQL 15 cluster for the health
# package's tests and prints the line that exports its DSN:
#
#   eval "$(.ci/postgres.sh)"
#   go test -race ./health/...
#
# It runs as root on Debian with the postgresql package installed. The
# cluster lives in its own data directory (HOTRELOAD_PG_DIR, default
# /tmp/hotreload-pg), owned by the postgres user, listening only on
# 127.0.0.1 on a free port, with trust authentication for local TCP. It
# never touches Debian's own "15 main" cluster. Running it again while the
# cluster is up prints the same DSN; stop it with
#   su postgres -c "pg_ctl -D /tmp/hotreload-pg/data stop"
set -eu

dir=${HOTRELOAD_PG_DIR:-/tmp/hotreload-pg}
bin=${HOTRELOAD_PG_BIN:-/usr/lib/postgresql/15/bin}
data=$dir/data
log=$dir/postgres.log

log() { echo "postgres.sh: $*" >&2; }

if [ ! -x "$bin/pg_ctl" ]; then
	log "no $bin/pg_ctl: install PostgreSQL 15 (apt-get install -y postgresql-15)"
	exit 1
fi
if [ "$(id -u)" -ne 0 ] && [ "$(id -un)" != postgres ]; then
	log "run as root (or as the postgres user)"
	exit 1
fi

# as_postgres runs a command as the postgres user.
as_postgres() {
	if [ "$(id -un)" = postgres ]; then
		"$@"
	else
		runuser -u postgres -- "$@"
	fi
}

dsn() { echo "export HOTRELOAD_TEST_POSTGRES_DSN='postgres://postgres@127.0.0.1:$1/postgres?sslmode=disable'"; }

# Already running: print its DSN.
if [ -f "$data/postmaster.pid" ] && as_postgres "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
	dsn "$(sed -n 4p "$data/postmaster.pid")"
	exit 0
fi

# busy reports whether something listens on TCP port $1 (false when ss is
# missing: then a failed start moves on to the next port).
busy() {
	command -v ss >/dev/null 2>&1 && ss -Htln "sport = :$1" | grep -q .
}

mkdir -p "$dir"
chown postgres: "$dir"
if [ ! -f "$data/PG_VERSION" ]; then
	as_postgres "$bin/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=trust \
		--no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
fi
port=55432
while [ "$port" -lt 55482 ]; do
	if ! busy "$port" &&
		as_postgres "$bin/pg_ctl" -D "$data" -l "$log" -w -t 30 start \
			-o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off" >/dev/null 2>&1; then
		log "PostgreSQL listening on 127.0.0.1:$port (data $data, log $log)"
		dsn "$port"
		exit 0
	fi
	port=$((port + 1))
done
log "could not start PostgreSQL on any port from 55432 to 55481; see $log"
cat "$log" >&2
exit 1
