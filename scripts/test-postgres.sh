#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for the tests and prints the line to eval:
#   eval "$(scripts/test-postgres.sh start)"   → exports PACS_TEST_PG_URL (and PACS_TEST_PG_DIR)
#   scripts/test-postgres.sh stop               → stops it and removes its data directory
# It uses the newest /usr/lib/postgresql/*/bin (Debian's postgresql package), a data directory
# of its own under /tmp (so a cluster the machine may run is never touched), a free port on
# 127.0.0.1, trust authentication (local and throwaway), and one role and database "pacs".
# initdb refuses to run as root: as root the server runs as the postgres user.
set -euo pipefail

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "test-postgres: no PostgreSQL server binaries (apt-get install postgresql)" >&2
  exit 1
fi

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
  start)
    dir=$(mktemp -d /tmp/pacs-test-pg.XXXXXX)
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
    as_owner "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || as_owner "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C >"$dir/initdb.log" 2>&1
    # fsync off: a test database is thrown away, and the tests must not wait on the disk.
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" start >&2
    "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
      -c "CREATE ROLE pacs LOGIN SUPERUSER" -c "CREATE DATABASE pacs OWNER pacs" >&2
    echo "export PACS_TEST_PG_DIR=$dir"
    echo "export PACS_TEST_PG_URL=postgres://pacs@127.0.0.1:$port/pacs"
    ;;
  stop)
    dir=${PACS_TEST_PG_DIR:?PACS_TEST_PG_DIR is not set}
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
