#!/bin/sh
# Starts or stops a throw-away PostgreSQL for tests, on loopback, in DIR.
#   scripts/pg.sh start DIR   prints a connection URL on stdout
#   scripts/pg.sh stop DIR
# initdb refuses to run as root, so as root the server runs as 'postgres'.
set -e
cmd=$1
dir=$(realpath -m "$2")
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bin/initdb" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
as() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$cmd" in
start)
    rm -rf "$dir"
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    port=$(( 20000 + $$ % 20000 ))
    as "$bin/initdb" -D "$dir/data" -U hudong --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    as "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=on -c max_connections=200 -c shared_buffers=256MB" start >/dev/null \
        || { cat "$dir/server.log" >&2; exit 1; }
    echo "$port" > "$dir/port"
    "$bin/createdb" -h 127.0.0.1 -p "$port" -U hudong hudong >/dev/null
    echo "postgres://hudong@127.0.0.1:$port/hudong"
    ;;
stop)
    [ -d "$dir/data" ] && as "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    ;;
esac
