#!/bin/sh
# pg-server.sh COMMAND [ARG]... — run COMMAND beside a throw-away PostgreSQL
# server, for the history tests (make check wraps prove in it).
#
# With the server binaries (PG_BINDIR, else /usr/lib/postgresql/*/bin, from
# Debian's postgresql package) it makes a cluster in a new temporary
# directory (initdb, trust authentication, superuser "mmcert", no fsync),
# starts it on a free loopback port with its unix socket in that directory,
# and exports
#   MMCERT_TEST_PG         postgresql://mmcert@127.0.0.1:PORT/postgres
#   MMCERT_TEST_PG_SOCKET  the same server through the socket directory
#   MMCERT_TEST_PG_BIN     the directory of psql, pg_ctl, ...
# Without the binaries it exports MMCERT_TEST_PG_SKIP (the reason); when
# they are there but the server does not start, MMCERT_TEST_PG_BROKEN (the
# reason and the server's log), which the tests report as failures.
# The server is stopped and its directory removed when COMMAND ends, fails
# or is interrupted; a directory left by a run that was killed (its owner
# process is gone) is stopped and removed by the next run. Exit status:
# COMMAND's. When MMCERT_TEST_PG or MMCERT_TEST_PG_SKIP is already set, the
# server of the caller is used and nothing is started.
#
# The cluster lives in /dev/shm when it is a writable memory file system
# (initdb there takes ~1 s, on this machine's disk ~3.5 s), else in $TMPDIR.
#
# initdb refuses to run as root: as root the cluster belongs to the user
# "postgres" (Debian's package makes it), else "nobody", through runuser.
set -u

if [ -n "${MMCERT_TEST_PG:-}${MMCERT_TEST_PG_SKIP:-}${MMCERT_TEST_PG_BROKEN:-}" ]; then
	exec "$@"
fi

bindir=${PG_BINDIR:-}
if [ -z "$bindir" ]; then
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && bindir=$d
	done
fi
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ] || [ ! -x "$bindir/pg_ctl" ]; then
	MMCERT_TEST_PG_SKIP="no PostgreSQL server binaries (initdb, pg_ctl under /usr/lib/postgresql/*/bin): install the Debian package postgresql (./configure --install-deps)"
	export MMCERT_TEST_PG_SKIP
	exec "$@"
fi

tmp=${TMPDIR:-/tmp}
if [ -d /dev/shm ] && [ -w /dev/shm ] && [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ]; then
	tmp=/dev/shm
fi
as_owner=
owner=$(id -un)
if [ "$(id -u)" -eq 0 ]; then
	owner=nobody
	id postgres >/dev/null 2>&1 && owner=postgres
	as_owner="runuser -u $owner --"
fi

# A server whose owner process is gone was left by a killed run.
for old in "$tmp"/mmcert-pg.* "${TMPDIR:-/tmp}"/mmcert-pg.*; do
	[ -f "$old/owner" ] || continue
	pid=$(cat "$old/owner" 2>/dev/null)
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && continue
	[ -f "$old/data/postmaster.pid" ] &&
		$as_owner "$bindir/pg_ctl" -D "$old/data" -m immediate -w -t 10 stop >/dev/null 2>&1
	rm -rf "$old"
done

dir=$(mktemp -d "$tmp/mmcert-pg.XXXXXX") || exit 1
echo $$ >"$dir/owner"
stop() {
	if [ -f "$dir/data/postmaster.pid" ]; then
		$as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w -t 10 stop >/dev/null 2>&1
	fi
	rm -rf "$dir"
}
trap 'stop' EXIT
trap 'stop; trap - EXIT; exit 130' INT
trap 'stop; trap - EXIT; exit 143' TERM
trap 'stop; trap - EXIT; exit 129' HUP

[ -n "$as_owner" ] && chown "$owner" "$dir"
chmod 0755 "$dir"

# A port nobody listens on now (the kernel's choice); the server's bind
# fails when someone takes it first, and the next try asks again.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
		echo $((20000 + $$ % 20000))
}

broken=
if ! $as_owner "$bindir/initdb" -D "$dir/data" -U mmcert --auth=trust -N -E UTF8 --locale=C \
	--wal-segsize=1 >"$dir/initdb.log" 2>&1; then
	broken="initdb failed: $(tail -n 3 "$dir/initdb.log" | tr '\n' ' ')"
fi
port=
tries=0
while [ -z "$broken" ] && [ -z "$port" ] && [ $tries -lt 3 ]; do
	tries=$((tries + 1))
	p=$(free_port)
	if $as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
		-o "-c listen_addresses=127.0.0.1 -p $p -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=60 -c shared_buffers=16MB" \
		start >"$dir/pg_ctl.log" 2>&1; then
		port=$p
	fi
done
if [ -z "$broken" ] && [ -z "$port" ]; then
	broken="pg_ctl start failed $tries times: $(tail -n 3 "$dir/server.log" 2>/dev/null | tr '\n' ' ')"
fi

if [ -n "$broken" ]; then
	MMCERT_TEST_PG_BROKEN=$broken
	export MMCERT_TEST_PG_BROKEN
else
	MMCERT_TEST_PG="postgresql://mmcert@127.0.0.1:$port/postgres"
	MMCERT_TEST_PG_SOCKET="postgresql:///postgres?host=$dir&port=$port&user=mmcert"
	MMCERT_TEST_PG_BIN=$bindir
	export MMCERT_TEST_PG MMCERT_TEST_PG_SOCKET MMCERT_TEST_PG_BIN
fi
"$@"
