#!/usr/bin/env bash
# Run a command with DATABASE_URL pointing at a throw-away PostgreSQL 15 cluster on a free loopback
# port (Debian's binaries), stopped and removed afterwards. Usage: scripts/with-pg15.sh npm test
set -euo pipefail
BIN=/usr/lib/postgresql/15/bin
[ -x "$BIN/postgres" ] || { echo "PostgreSQL 15 binaries not found in $BIN (apt-get install postgresql-15)" >&2; exit 1; }
dir=$(mktemp -d)
chmod 755 "$dir"
port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
as_pg=()
if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; as_pg=(runuser -u postgres --); fi
"${as_pg[@]}" "$BIN/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C >/dev/null
"${as_pg[@]}" "$BIN/pg_ctl" -D "$dir/data" -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories= -c max_connections=200 -c fsync=off" -l "$dir/log" -w start >/dev/null
cleanup() { "${as_pg[@]}" "$BIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres" "$@"
