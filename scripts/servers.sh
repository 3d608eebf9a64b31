#!/usr/bin/env bash
# Usage: scripts/servers.sh start|stop|status|env
#   Runs RabbitMQ (with the management plugin), PostgreSQL and an SMTP sink as plain processes
#   on 127.0.0.1 (no systemd, no Docker), all state under .data/ (or $SCHOOLICT_DATA_DIR).
#   start   start whatever is not running yet (idempotent), then write .data/env.sh
#   stop    stop all three by PID and wait until they are gone
#   status  report each server (exit 0 = all running, 3 = something is not)
#   env     print .data/env.sh  (use: eval "$(scripts/servers.sh env)")
#   provision  (after a build) `schoolict provision` for the default vhost and database: least-privilege
#           users and roles, one URL per principal in .data/secrets/ (amqp-<user>.url, db-<role>.url)
# Ports (environment, defaults): SCHOOLICT_AMQP_PORT=56720 SCHOOLICT_AMQPS_PORT=56721 (TLS, with a local CA
#   made here: .data/rabbitmq/tls/ca.pem) SCHOOLICT_AMQP_MGMT_PORT=15680 SCHOOLICT_AMQP_PROMETHEUS_PORT=15693 SCHOOLICT_AMQP_DIST_PORT=25680 SCHOOLICT_EPMD_PORT=43690 SCHOOLICT_PG_PORT=54329
#   SCHOOLICT_SMTP_PORT=25250; SCHOOLICT_START_TIMEOUT=60 bounds every wait (seconds);
#   SCHOOLICT_MAX_MESSAGE_BYTES=4194304 is the broker's max_message_size (match the workers' MAX_MESSAGE_BYTES).
# Logs: .data/logs/. Test mail: .data/mail/*.eml (failure injection: echo 4xx > .data/mail/.mode).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DATA=${SCHOOLICT_DATA_DIR:-$SCRIPT_DIR/../.data}
mkdir -p "$DATA"
DATA=$(cd "$DATA" && pwd)
LOGS=$DATA/logs
MAIL_DIR=$DATA/mail
TIMEOUT=${SCHOOLICT_START_TIMEOUT:-60}

AMQP_PORT=${SCHOOLICT_AMQP_PORT:-56720}
AMQPS_PORT=${SCHOOLICT_AMQPS_PORT:-56721}
MGMT_PORT=${SCHOOLICT_AMQP_MGMT_PORT:-15680}
PROM_PORT=${SCHOOLICT_AMQP_PROMETHEUS_PORT:-15693}
DIST_PORT=${SCHOOLICT_AMQP_DIST_PORT:-25680}
EPMD_PORT=${SCHOOLICT_EPMD_PORT:-43690}
PG_PORT=${SCHOOLICT_PG_PORT:-54329}
SMTP_PORT=${SCHOOLICT_SMTP_PORT:-25250}

RMQ_DIR=$DATA/rabbitmq
RMQ_BIN=/usr/lib/rabbitmq/bin
RMQ_ENV=(
  HOME="$RMQ_DIR/home"
  RABBITMQ_NODENAME=rabbit@localhost
  RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  RABBITMQ_NODE_PORT="$AMQP_PORT"
  RABBITMQ_DIST_PORT="$DIST_PORT"
  ERL_EPMD_ADDRESS=127.0.0.1
  ERL_EPMD_PORT="$EPMD_PORT"
  RABBITMQ_MNESIA_BASE="$RMQ_DIR/mnesia"
  RABBITMQ_LOG_BASE="$LOGS/rabbitmq"
  RABBITMQ_CONFIG_FILE="$RMQ_DIR/rabbitmq.conf"
  RABBITMQ_ADVANCED_CONFIG_FILE="$RMQ_DIR/advanced.config"
  RABBITMQ_CONF_ENV_FILE="$RMQ_DIR/rabbitmq-env.conf"
  RABBITMQ_ENABLED_PLUGINS_FILE="$RMQ_DIR/enabled_plugins"
  RABBITMQ_PID_FILE="$DATA/rabbitmq.pid"
  RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1} +sbwt none +sbwtdcpu none +sbwtdio none"
)

log() { echo "servers: $*"; }
die() { echo "servers: $*" >&2; exit 1; }
# shellcheck source=scripts/lib.sh
source "$SCRIPT_DIR/lib.sh"
# alive PIDFILE PATTERN: the PID in the file runs a program whose command line contains PATTERN.
alive() {
  pidfile_running "$1" && grep -qaF -- "$2" "/proc/$(head -n1 "$1")/cmdline" 2>/dev/null
}
# fail MESSAGE LOG...: print the tails of the logs and exit.
fail() {
  local msg=$1 f
  shift
  echo "servers: $msg" >&2
  for f in "$@"; do
    [[ -f $f ]] && { echo "---- tail of $f" >&2; tail -n 30 "$f" >&2; }
  done
  exit 1
}
require_free_port() {
  if port_open "$1"; then die "port $1 ($2) is already used by another process; set $3"; fi
}

# PostgreSQL's files live in .data/postgres; if user postgres cannot reach that folder
# (e.g. a clone under /root, mode 700), .data/postgres links to a folder under /var/tmp.
pg_paths() {
  PG_BASE=$DATA/postgres
  if is_root && [[ ! -e $PG_BASE ]] && ! runuser -u postgres -- test -x "$DATA"; then
    local real
    real=/var/tmp/schoolict-pg-$(printf '%s' "$DATA" | cksum | cut -d' ' -f1)
    mkdir -p "$real"
    ln -sfn "$real" "$PG_BASE"
  fi
  [[ -L $PG_BASE ]] && mkdir -p "$(readlink "$PG_BASE")"
  mkdir -p "$PG_BASE"
  PG_BASE=$(readlink -f "$PG_BASE")
  PGDATA_DIR=$PG_BASE/data
  PG_SOCK=$PG_BASE/run
  # A Unix socket path is limited to 107 bytes.
  if ((${#PG_SOCK} > 80)); then
    PG_SOCK=/tmp/schoolict-pg-$(printf '%s' "$PG_BASE" | cksum | cut -d' ' -f1)
  fi
}

psql_pg() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres "$@"; }

# ---------------------------------------------------------------- RabbitMQ
rmq_launch() {
  if alive "$DATA/rabbitmq.pid" beam.smp; then
    log "rabbitmq already running (pid $(cat "$DATA/rabbitmq.pid"))"
    RMQ_LAUNCHED=
    return
  fi
  require_free_port "$AMQP_PORT" AMQP SCHOOLICT_AMQP_PORT
  require_free_port "$AMQPS_PORT" AMQPS SCHOOLICT_AMQPS_PORT
  require_free_port "$MGMT_PORT" "RabbitMQ management" SCHOOLICT_AMQP_MGMT_PORT
  require_free_port "$DIST_PORT" "Erlang distribution" SCHOOLICT_AMQP_DIST_PORT
  mkdir -p "$RMQ_DIR/home" "$RMQ_DIR/mnesia" "$LOGS/rabbitmq"
  chmod 700 "$RMQ_DIR/home"
  local cookie=$RMQ_DIR/home/.erlang.cookie
  if [[ ! -s $cookie ]]; then
    (umask 077 && od -An -N20 -tx1 /dev/urandom | tr -d ' \n' | tr a-f A-F >"$cookie")
  fi
  chmod 600 "$cookie"
  rmq_tls_files
  cat >"$RMQ_DIR/rabbitmq.conf" <<EOF
listeners.tcp.default = 127.0.0.1:$AMQP_PORT
listeners.ssl.default = 127.0.0.1:$AMQPS_PORT
ssl_options.cacertfile = $RMQ_DIR/tls/ca.pem
ssl_options.certfile = $RMQ_DIR/tls/server.pem
ssl_options.keyfile = $RMQ_DIR/tls/server.key
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
management.tcp.ip = 127.0.0.1
management.tcp.port = $MGMT_PORT
# RabbitMQ's own metrics (deploy/grafana, deploy/prometheus): per queue, so dead letters can raise an alert.
prometheus.tcp.ip = 127.0.0.1
prometheus.tcp.port = $PROM_PORT
prometheus.return_per_object_metrics = true
# The largest message the broker takes: the workers' MAX_MESSAGE_BYTES (default 4 MiB), so an oversized
# submission is refused to the portal when it publishes (406), not carried to a worker.
max_message_size = ${SCHOOLICT_MAX_MESSAGE_BYTES:-4194304}
log.console = false
log.file.level = info
EOF
  echo '[rabbitmq_management,rabbitmq_prometheus].' >"$RMQ_DIR/enabled_plugins"

  # Our own epmd, so that it has a PID to stop and listens on loopback only.
  if ! alive "$DATA/epmd.pid" epmd; then
    require_free_port "$EPMD_PORT" epmd SCHOOLICT_EPMD_PORT
    setsid epmd -port "$EPMD_PORT" -address 127.0.0.1 </dev/null >>"$LOGS/epmd.log" 2>&1 &
    echo $! >"$DATA/epmd.pid"
    wait_until port_open "$EPMD_PORT" || fail "epmd did not open port $EPMD_PORT" "$LOGS/epmd.log"
  fi

  rm -f "$DATA/rabbitmq.pid"
  log "starting rabbitmq on 127.0.0.1:$AMQP_PORT (management $MGMT_PORT)"
  RMQ_START=$SECONDS
  setsid env "${RMQ_ENV[@]}" "$RMQ_BIN/rabbitmq-server" </dev/null >>"$LOGS/rabbitmq-server.log" 2>&1 &
  RMQ_LAUNCHED=$!
}

# A local certificate authority and a server certificate for the name localhost (made once), so that
# amqps:// is tested against a real TLS listener: clients trust it with AMQP_CA_CERT=.../tls/ca.pem.
rmq_tls_files() {
  local dir=$RMQ_DIR/tls
  [[ -s $dir/ca.pem && -s $dir/server.pem && -s $dir/server.key ]] && return 0
  command -v openssl >/dev/null || die "openssl is missing: run scripts/install-deps.sh"
  mkdir -p "$dir"
  (
    cd "$dir"
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=schoolict local test CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout ca.key -out ca.pem
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr
    printf '%s\n' "subjectAltName=DNS:localhost" "extendedKeyUsage=serverAuth" >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile server.ext -out server.pem
    chmod 644 ca.pem server.pem
  ) >>"$LOGS/tls.log" 2>&1 || fail "could not make the TLS certificates" "$LOGS/tls.log"
  log "made a local CA and a server certificate in $dir"
}

rmq_wait() {
  [[ -n $RMQ_LAUNCHED ]] || return 0
  local logs=("$LOGS/rabbitmq-server.log" "$LOGS/rabbitmq/rabbit@localhost.log") deadline=$((SECONDS + TIMEOUT))
  until alive "$DATA/rabbitmq.pid" beam.smp && port_open "$AMQP_PORT" && port_open "$AMQPS_PORT" && port_open "$MGMT_PORT"; do
    pid_running "$RMQ_LAUNCHED" || fail "rabbitmq exited during startup" "${logs[@]}"
    ((SECONDS < deadline)) || fail "rabbitmq did not start within ${TIMEOUT}s" "${logs[@]}"
    sleep 0.2
  done
  env "${RMQ_ENV[@]}" timeout "$TIMEOUT" "$RMQ_BIN/rabbitmqctl" -q await_startup --timeout "$TIMEOUT" \
    >>"$LOGS/rabbitmq-server.log" 2>&1 || fail "rabbitmqctl await_startup failed" "${logs[@]}"
  log "rabbitmq up (pid $(cat "$DATA/rabbitmq.pid"), $((SECONDS - RMQ_START))s)"
}

# ---------------------------------------------------------------- PostgreSQL
pg_start() {
  PG_BIN=$(find_pg_bin)
  pg_paths
  if alive "$PGDATA_DIR/postmaster.pid" postgres; then
    head -n1 "$PGDATA_DIR/postmaster.pid" >"$DATA/postgres.pid"
    log "postgres already running (pid $(cat "$DATA/postgres.pid"))"
  else
    require_free_port "$PG_PORT" PostgreSQL SCHOOLICT_PG_PORT
    # Left by a killed server (pg_ctl would take a not yet reaped zombie for a live server).
    rm -f "$PGDATA_DIR/postmaster.pid"
    mkdir -p "$PG_SOCK" "$LOGS"
    if is_root; then chown postgres: "$PG_BASE" "$PG_SOCK"; fi
    chmod 700 "$PG_BASE"
    if [[ ! -s $PGDATA_DIR/PG_VERSION ]]; then
      log "initdb $PGDATA_DIR"
      rm -rf "$PGDATA_DIR"
      as_pg "$PG_BIN/initdb" -D "$PGDATA_DIR" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
        >>"$LOGS/postgres-initdb.log" 2>&1 || fail "initdb failed" "$LOGS/postgres-initdb.log"
      echo "include_if_exists = 'schoolict.conf'" | as_pg tee -a "$PGDATA_DIR/postgresql.conf" >/dev/null
    fi
    # TLS with the local CA's certificate for localhost (the one RabbitMQ uses): clients may connect with
    # sslmode=verify-full&sslrootcert=.data/rabbitmq/tls/ca.pem to localhost (SCHOOLICT_DATABASE_TLS_URL).
    rmq_tls_files
    mkdir -p "$PG_BASE/tls"
    cp "$RMQ_DIR/tls/server.pem" "$RMQ_DIR/tls/server.key" "$PG_BASE/tls/"
    if is_root; then chown -R postgres: "$PG_BASE/tls"; fi
    chmod 600 "$PG_BASE/tls/server.key"
    printf '%s\n' "fsync = on" "max_connections = 200" "shared_buffers = 256MB" "ssl = on" \
      "ssl_cert_file = '$PG_BASE/tls/server.pem'" "ssl_key_file = '$PG_BASE/tls/server.key'" |
      as_pg tee "$PGDATA_DIR/schoolict.conf" >/dev/null
    log "starting postgres on 127.0.0.1:$PG_PORT"
    local t0=$SECONDS
    # No -l: the server inherits this log file, opened here (so user postgres needs no access to logs/).
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -w -t "$TIMEOUT" \
      -o "-p $PG_PORT -k '$PG_SOCK' -c listen_addresses=127.0.0.1" start \
      </dev/null >>"$LOGS/postgres.log" 2>&1 || fail "postgres did not start" "$LOGS/postgres.log"
    head -n1 "$PGDATA_DIR/postmaster.pid" >"$DATA/postgres.pid"
    log "postgres up (pid $(cat "$DATA/postgres.pid"), $((SECONDS - t0))s)"
  fi
  if [[ $(psql_pg -tAc "SELECT 1 FROM pg_database WHERE datname = 'schoolict'") != 1 ]]; then
    psql_pg -c 'CREATE DATABASE schoolict' && log "created database schoolict"
  fi
}

# ---------------------------------------------------------------- SMTP sink
smtp_start() {
  mkdir -p "$MAIL_DIR"
  if alive "$DATA/smtp.pid" smtp_sink.py; then
    log "smtp sink already running (pid $(cat "$DATA/smtp.pid"))"
    return
  fi
  require_free_port "$SMTP_PORT" SMTP SCHOOLICT_SMTP_PORT
  if ! /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null; then
    die "/usr/bin/python3 cannot import aiosmtpd: run scripts/install-deps.sh"
  fi
  setsid /usr/bin/python3 "$SCRIPT_DIR/smtp_sink.py" --host 127.0.0.1 --port "$SMTP_PORT" --dir "$MAIL_DIR" \
    </dev/null >>"$LOGS/smtp_sink.log" 2>&1 &
  echo $! >"$DATA/smtp.pid"
  wait_until port_open "$SMTP_PORT" || fail "smtp sink did not open port $SMTP_PORT" "$LOGS/smtp_sink.log"
  log "smtp sink up (pid $(cat "$DATA/smtp.pid")) writing to $MAIL_DIR"
}

write_env() {
  local tmp=$DATA/.env.sh.tmp
  {
    echo "# written by scripts/servers.sh start"
    printf 'export %s=%q\n' \
      AMQP_URL "amqp://guest:guest@127.0.0.1:$AMQP_PORT/%2f" \
      DATABASE_URL "postgresql://postgres@127.0.0.1:$PG_PORT/schoolict" \
      SMTP_URL "smtp://127.0.0.1:$SMTP_PORT" \
      SCHOOLICT_AMQPS_URL "amqps://guest:guest@localhost:$AMQPS_PORT/%2f" \
      SCHOOLICT_AMQP_CA_CERT "$RMQ_DIR/tls/ca.pem" \
      SCHOOLICT_MAIL_DIR "$MAIL_DIR" \
      RABBITMQ_MGMT_URL "http://127.0.0.1:$MGMT_PORT" \
      RABBITMQ_PROMETHEUS_URL "http://127.0.0.1:$PROM_PORT/metrics" \
      SCHOOLICT_MANAGEMENT_URL "http://guest:guest@127.0.0.1:$MGMT_PORT" \
      SCHOOLICT_SECRETS_DIR "$DATA/secrets" \
      SCHOOLICT_DATABASE_TLS_URL "postgresql://postgres@localhost:$PG_PORT/schoolict?sslmode=verify-full&sslrootcert=$RMQ_DIR/tls/ca.pem"
  } >"$tmp"
  mv "$tmp" "$DATA/env.sh"
}

# ---------------------------------------------------------------- stop / status
# pid_of PIDFILE PATTERN: print the PID if that process is alive.
pid_of() { if alive "$1" "$2"; then head -n1 "$1"; fi; }

# stop_wait NAME PID: wait until it has exited; SIGKILL after $TIMEOUT s.
stop_wait() {
  local name=$1 pid=$2
  if [[ -z $pid ]]; then
    log "$name not running"
    return
  fi
  if ! wait_until pid_gone "$pid"; then
    echo "servers: $name (pid $pid) still running after ${TIMEOUT}s, sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    wait_until pid_gone "$pid" || die "$name (pid $pid) does not die"
  fi
  log "$name stopped"
}

stop_all() {
  local t0=$SECONDS rmq pg smtp epmd_pid
  # Read every PID first (RabbitMQ deletes its pid file while shutting down), signal all so
  # they shut down in parallel, then wait for each; epmd last, once beam.smp is gone.
  rmq=$(pid_of "$DATA/rabbitmq.pid" beam.smp)
  pg=$(pid_of "$DATA/postgres.pid" postgres)
  smtp=$(pid_of "$DATA/smtp.pid" smtp_sink.py)
  epmd_pid=$(pid_of "$DATA/epmd.pid" epmd)
  if [[ -n $rmq ]]; then kill -TERM "$rmq"; fi
  if [[ -n $pg ]]; then kill -INT "$pg"; fi # fast shutdown
  if [[ -n $smtp ]]; then kill -TERM "$smtp"; fi
  stop_wait "smtp sink" "$smtp"
  stop_wait postgres "$pg"
  stop_wait rabbitmq "$rmq"
  if [[ -n $epmd_pid ]]; then kill -TERM "$epmd_pid"; fi
  stop_wait epmd "$epmd_pid"
  rm -f "$DATA"/{rabbitmq,postgres,smtp,epmd}.pid
  log "all stopped ($((SECONDS - t0))s)"
}

status_all() {
  local rc=0 line name file pattern url
  for line in "rabbitmq rabbitmq.pid beam.smp amqp://127.0.0.1:$AMQP_PORT management http://127.0.0.1:$MGMT_PORT" \
    "epmd epmd.pid epmd 127.0.0.1:$EPMD_PORT" \
    "postgres postgres.pid postgres postgresql://127.0.0.1:$PG_PORT/schoolict" \
    "smtp-sink smtp.pid smtp_sink.py smtp://127.0.0.1:$SMTP_PORT"; do
    read -r name file pattern url <<<"$line"
    if alive "$DATA/$file" "$pattern"; then
      printf '%-10s running  pid %-8s %s\n' "$name" "$(head -n1 "$DATA/$file")" "$url"
    else
      printf '%-10s stopped\n' "$name"
      rc=3
    fi
  done
  return "$rc"
}

case ${1:-} in
  start)
    mkdir -p "$LOGS"
    t0=$SECONDS
    rmq_launch # RabbitMQ boots in the background while the others start
    pg_start
    smtp_start
    rmq_wait
    write_env
    log "all up ($((SECONDS - t0))s); environment: $DATA/env.sh"
    ;;
  stop) stop_all ;;
  status) status_all ;;
  provision)
    # shellcheck disable=SC1091
    source "$DATA/env.sh"
    bin=$(cd "$SCRIPT_DIR/.." && swift build --show-bin-path)
    [[ -x $bin/schoolict ]] || die "no $bin/schoolict: run swift build first"
    "$bin/schoolict" provision --amqp-url "$AMQP_URL" --management-url "$SCHOOLICT_MANAGEMENT_URL" \
      --database-url "$DATABASE_URL" --secrets "$SCHOOLICT_SECRETS_DIR"
    ;;
  env)
    [[ -f $DATA/env.sh ]] || die "$DATA/env.sh missing: run scripts/servers.sh start"
    cat "$DATA/env.sh"
    ;;
  *)
    sed -n '2,16s/^# \{0,1\}//p' "$0" >&2
    exit 2
    ;;
esac
