#!/usr/bin/env bash
# Starts and stops the PostgreSQL 15 and Redis servers the mirror tests use, each in its
# own directory on a private port (never a system instance).
#   scripts/services.sh start postgres DIR PORT   initdb on first use; user postgres,
#                                                 password "taskd-test" over TCP
#   scripts/services.sh start redis DIR PORT      password "taskd-test"
#   scripts/services.sh stop postgres|redis DIR
#   scripts/services.sh remove postgres|redis DIR  stop, then delete its files
#   scripts/services.sh free-port                 prints a TCP port free right now
# PostgreSQL refuses to run as root: as root, its commands run as user postgres, on files
# in a directory of its own under /tmp (DIR may sit where that user cannot go); DIR/pgdir
# names it.
set -euo pipefail

password=taskd-test
pg_bin=/usr/lib/postgresql/15/bin

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}/${2:-}" in
start/postgres)
  dir=$3 port=$4
  mkdir -p "$dir"
  if [ ! -f "$dir/pgdir" ]; then
    pg=$(mktemp -d /tmp/taskd-pg.XXXXXX)
    chmod 700 "$pg"
    [ "$(id -u)" -ne 0 ] || chown postgres "$pg"
    printf '%s\n' "$password" >"$pg/pwfile"
    [ "$(id -u)" -ne 0 ] || chown postgres "$pg/pwfile"
    as_postgres "$pg_bin/initdb" -D "$pg/data" -U postgres --pwfile="$pg/pwfile" \
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-locale >"$dir/initdb.log"
    echo "$pg" >"$dir/pgdir"
  fi
  pg=$(cat "$dir/pgdir")
  as_postgres "$pg_bin/pg_ctl" -D "$pg/data" -l "$pg/log" -w -t 60 \
    -o "-p $port -k $pg -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
  ;;
stop/postgres | remove/postgres)
  dir=$3
  [ -f "$dir/pgdir" ] || exit 0
  pg=$(cat "$dir/pgdir")
  if [ -f "$pg/data/postmaster.pid" ]; then
    as_postgres "$pg_bin/pg_ctl" -D "$pg/data" -m fast -w -t 60 stop >/dev/null
  fi
  if [ "$1" = remove ]; then rm -rf "$pg" "$dir"; fi
  ;;
start/redis)
  dir=$3 port=$4
  mkdir -p "$dir"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save "" --appendonly yes \
    --requirepass "$password" --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
  for _ in $(seq 1 200); do
    redis-cli -p "$port" -a "$password" --no-auth-warning ping 2>/dev/null | grep -q PONG && exit 0
    sleep 0.05
  done
  echo "services: redis on port $port did not answer" >&2
  exit 1
  ;;
stop/redis | remove/redis)
  dir=$3
  if [ "$1" = remove ]; then trap 'rm -rf "$dir"' EXIT; fi
  [ -f "$dir/redis.pid" ] || exit 0
  pid=$(cat "$dir/redis.pid")
  kill -TERM "$pid" 2>/dev/null || exit 0
  for _ in $(seq 1 200); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$dir/redis.pid"; exit 0; }
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$dir/redis.pid"
  ;;
free-port/*)
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
  ;;
*)
  sed -n '2,10p' "$0" >&2
  exit 2
  ;;
esac
