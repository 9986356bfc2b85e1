#!/usr/bin/env bash
# Start Debian's packaged PostgreSQL cluster and make a role and a database for the campaign
# store's tests; print the URL to use as AFFECTATION_TEST_POSTGRES_URL. Idempotent (the
# server may already run, the role may already exist). Runs as root, as CI does: initdb
# refuses root, so the packaged cluster (pg_createcluster/pg_ctlcluster) is used and SQL
# runs as the postgres user. Exits non-zero when no server can be started.
set -euo pipefail
# Only the URL goes to standard output: every tool's chatter ("Removed stale pid file.")
# goes to standard error, or the caller would take it for part of the URL.
exec 3>&1 1>&2
ROLE=affectation_test
PASSWORD=affectation_test
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) \
    >/dev/null 2>&1 || exit 1
fi
VERSION=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
[ -n "$VERSION" ] || exit 1
if ! pg_lsclusters -h | awk '{print $1, $2}' | grep -qx "$VERSION main"; then
  pg_createcluster "$VERSION" main >/dev/null
fi
PORT=$(pg_lsclusters -h | awk -v v="$VERSION" '$1 == v && $2 == "main" {print $3}')
if ! pg_lsclusters -h | awk -v v="$VERSION" '$1 == v && $2 == "main" {print $4}' \
    | grep -q online; then
  pg_ctlcluster "$VERSION" main start 3>&-  # the server must not hold the URL pipe open
fi
for _ in $(seq 1 30); do
  pg_isready -q -h localhost -p "$PORT" && break
  sleep 1
done
pg_isready -q -h localhost -p "$PORT"
psql_admin() { runuser -u postgres -- psql -p "$PORT" -v ON_ERROR_STOP=1 -tAq "$@"; }
if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" != "1" ]; then
  psql_admin -c "CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD'"
fi
# Tests drop their databases WITH (FORCE): the role may end its own stray sessions.
psql_admin -c "SET client_min_messages = warning; GRANT pg_signal_backend TO $ROLE" >/dev/null
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$ROLE'")" != "1" ]; then
  psql_admin -c "CREATE DATABASE $ROLE OWNER $ROLE"
fi
echo "postgresql+psycopg://$ROLE:$PASSWORD@localhost:$PORT/$ROLE" >&3
