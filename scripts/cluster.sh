#!/usr/bin/env bash
# Usage: scripts/cluster.sh start|stop|status|env|kill-node N|start-node N|leader Q|kill-leader Q|restart-killed|
#                          stop-primary|crash-primary|promote-standby|reset
#   A three-node RabbitMQ cluster and a PostgreSQL primary with one streaming standby, as plain processes on
#   127.0.0.1 under .data/cluster/ (no clash with scripts/servers.sh), for failover tests and demos.
#   start            start whatever is not running, join the nodes, make the standby (pg_basebackup); write env.sh
#   stop             stop everything; reset stops and removes .data/cluster/ (needed after promote-standby)
#   status           what runs (exit 3 when something does not)
#   env              print .data/cluster/env.sh: SCHOOLICT_CLUSTER_AMQP_URL (the three nodes, comma-separated),
#                    SCHOOLICT_CLUSTER_DATABASE_URL (both servers, target_session_attrs=read-write), management URL
#   kill-node N      SIGKILL RabbitMQ node N (1-3); start-node N brings it back (it rejoins)
#   leader Q         the number of the node that leads quorum queue Q (vhost /), from the management API
#   kill-leader Q    SIGKILL the node leading Q; restart-killed brings back the node killed last
#   stop-primary     stop the PostgreSQL primary (fast: waits for the standby to catch up); crash-primary stops it
#                    at once (immediate); promote-standby makes the standby the primary. Replication is synchronous.
# Ports (environment, defaults): SCHOOLICT_CLUSTER_AMQP_PORT=56730 (nodes use 56730-56732, management 15700-15702,
#   distribution 25700-25702), SCHOOLICT_CLUSTER_EPMD_PORT=43700, SCHOOLICT_CLUSTER_PG_PORT=54340 (standby +1).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DATA=${SCHOOLICT_DATA_DIR:-$SCRIPT_DIR/../.data}/cluster
mkdir -p "$DATA/logs"
DATA=$(cd "$DATA" && pwd)
AMQP_BASE=${SCHOOLICT_CLUSTER_AMQP_PORT:-56730}
MGMT_BASE=15700
DIST_BASE=25700
EPMD_PORT=${SCHOOLICT_CLUSTER_EPMD_PORT:-43700}
PG_PRIMARY=${SCHOOLICT_CLUSTER_PG_PORT:-54340}
PG_STANDBY=$((PG_PRIMARY + 1))
TIMEOUT=${SCHOOLICT_START_TIMEOUT:-90}
RMQ_BIN=/usr/lib/rabbitmq/bin

log() { echo "cluster: $*"; }
die() { echo "cluster: $*" >&2; exit 1; }
# shellcheck source=scripts/lib.sh
source "$SCRIPT_DIR/lib.sh"
# PostgreSQL's folders (primary, standby, sockets) live in .data/cluster/pg; when user postgres cannot reach .data (a
# clone under /root, mode 700), .data/cluster/pg links to a folder under /var/tmp.
PG_DIR=$DATA/pg
if is_root && [[ ! -e $PG_DIR ]] && ! runuser -u postgres -- test -x "$DATA" 2>/dev/null; then
  real=/var/tmp/schoolict-cluster-pg-$(printf '%s' "$DATA" | cksum | cut -d' ' -f1)
  mkdir -p "$real"
  ln -sfn "$real" "$PG_DIR"
fi
[[ -L $PG_DIR ]] && mkdir -p "$(readlink "$PG_DIR")"
mkdir -p "$PG_DIR"
PG_DIR=$(readlink -f "$PG_DIR")
# No socket (TIME_WAIT included) on 127.0.0.1:PORT: after a stop, the distribution port stays in TIME_WAIT for up
# to a minute and RabbitMQ refuses to start (dist_port_already_used).
port_quiet() { ! grep -qi ":$(printf '%04X' "$1") " /proc/net/tcp; }
NODE_ENV=()
node_env() { # N: set NODE_ENV to the environment of RabbitMQ node N
  local n=$1 dir=$DATA/rabbit-$1
  NODE_ENV=(HOME="$DATA/home" RABBITMQ_NODENAME="rabbit-$n@localhost" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    RABBITMQ_NODE_PORT=$((AMQP_BASE + n - 1)) RABBITMQ_DIST_PORT=$((DIST_BASE + n - 1)) ERL_EPMD_ADDRESS=127.0.0.1
    ERL_EPMD_PORT="$EPMD_PORT" RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$DATA/logs/rabbit-$n"
    RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf" RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
    RABBITMQ_PID_FILE="$DATA/rabbit-$n.pid" RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf"
    RABBITMQ_ADVANCED_CONFIG_FILE="$dir/advanced.config" ERL_CRASH_DUMP="$DATA/logs/erl_crash-$n.dump"
    "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1} +sbwt none +sbwtdcpu none +sbwtdio none")
}
ctl() { # N ARGS...: rabbitmqctl against node N
  local n=$1
  shift
  node_env "$n"
  env "${NODE_ENV[@]}" "$RMQ_BIN/rabbitmqctl" -n "rabbit-$n@localhost" "$@"
}

start_node() {
  local n=$1 dir=$DATA/rabbit-$1
  pidfile_running "$DATA/rabbit-$n.pid" && { log "node $n already running"; return; }
  mkdir -p "$dir/mnesia" "$DATA/logs/rabbit-$n" "$DATA/home"
  chmod 700 "$DATA/home"
  [[ -s $DATA/home/.erlang.cookie ]] || (umask 077 && od -An -N20 -tx1 /dev/urandom | tr -d ' \n' | tr a-f A-F >"$DATA/home/.erlang.cookie")
  chmod 600 "$DATA/home/.erlang.cookie"
  cat >"$dir/rabbitmq.conf" <<EOF
listeners.tcp.default = 127.0.0.1:$((AMQP_BASE + n - 1))
management.tcp.ip = 127.0.0.1
management.tcp.port = $((MGMT_BASE + n - 1))
max_message_size = 4194304
log.console = false
EOF
  echo '[rabbitmq_management].' >"$dir/enabled_plugins"
  rm -f "$DATA/rabbit-$n.pid"
  wait_until port_quiet $((DIST_BASE + n - 1)) || die "port $((DIST_BASE + n - 1)) stays busy"
  node_env "$n"
  setsid env "${NODE_ENV[@]}" "$RMQ_BIN/rabbitmq-server" </dev/null >>"$DATA/logs/rabbit-$n.out" 2>&1 &
  log "starting rabbitmq node $n on 127.0.0.1:$((AMQP_BASE + n - 1))"
}

wait_node() {
  local n=$1
  wait_until port_open $((AMQP_BASE + n - 1)) || die "node $n did not open its port (see $DATA/logs/rabbit-$n.out)"
  ctl "$n" -q await_startup --timeout "$TIMEOUT" >>"$DATA/logs/rabbit-$n.out" 2>&1 || die "node $n did not start"
}

join_nodes() {
  local n
  for n in 2 3; do
    if ctl "$n" -q cluster_status 2>/dev/null | grep -q "rabbit-1@localhost"; then continue; fi
    ctl "$n" -q stop_app && ctl "$n" -q join_cluster rabbit-1@localhost && ctl "$n" -q start_app \
      || die "node $n could not join the cluster"
    log "node $n joined rabbit-1@localhost"
  done
}

pg_start() {
  local bin
  bin=$(find_pg_bin)
  local primary=$PG_DIR/primary standby=$PG_DIR/standby
  mkdir -p "$PG_DIR/run"
  if is_root; then chown postgres: "$PG_DIR" "$PG_DIR/run"; chmod 755 "$PG_DIR"; fi
  if [[ ! -s $primary/PG_VERSION ]]; then
    mkdir -p "$primary" && { is_root && chown postgres: "$primary" || true; }
    as_pg "$bin/initdb" -D "$primary" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >>"$DATA/logs/pg-initdb.log" 2>&1 \
      || die "initdb failed"
  fi
  if [[ -s $standby/PG_VERSION && ! -e $standby/standby.signal ]]; then
    # The standby was promoted: starting the old primary again would make two primaries (split brain).
    die "the standby was promoted, so the old primary stays down; 'scripts/cluster.sh reset' starts afresh"
  fi
  if ! pidfile_running "$primary/postmaster.pid"; then
    as_pg "$bin/pg_ctl" -D "$primary" -w -t "$TIMEOUT" -o "-p $PG_PRIMARY -k $PG_DIR/run -c listen_addresses=127.0.0.1" \
      start </dev/null >>"$DATA/logs/pg-primary.log" 2>&1 || die "the primary did not start"
    log "postgres primary on 127.0.0.1:$PG_PRIMARY"
  fi
  if [[ $(as_pg "$bin/psql" -X -tA -h 127.0.0.1 -p "$PG_PRIMARY" -U postgres -d postgres -c \
        "SELECT count(*) FROM pg_database WHERE datname = 'schoolict'" 2>/dev/null || echo 0) != 1 ]] \
     && [[ $(as_pg "$bin/psql" -X -tA -h 127.0.0.1 -p "$PG_PRIMARY" -U postgres -d postgres -c "SELECT pg_is_in_recovery()") == f ]]; then
    as_pg "$bin/psql" -X -q -h 127.0.0.1 -p "$PG_PRIMARY" -U postgres -d postgres -c "CREATE DATABASE schoolict"
  fi
  if [[ ! -s $standby/PG_VERSION ]]; then
    mkdir -p "$standby" && { is_root && chown postgres: "$standby" || true; }
    chmod 700 "$standby"
    as_pg "$bin/pg_basebackup" -h 127.0.0.1 -p "$PG_PRIMARY" -U postgres -D "$standby" -R -X stream --checkpoint=fast \
      >>"$DATA/logs/pg-standby.log" 2>&1 || die "pg_basebackup failed"
    log "standby made from the primary (pg_basebackup)"
  fi
  if ! pidfile_running "$standby/postmaster.pid"; then
    as_pg "$bin/pg_ctl" -D "$standby" -w -t "$TIMEOUT" -o "-p $PG_STANDBY -k $PG_DIR/run -c listen_addresses=127.0.0.1" \
      start </dev/null >>"$DATA/logs/pg-standby.log" 2>&1 || die "the standby did not start"
    log "postgres standby on 127.0.0.1:$PG_STANDBY"
  fi
  # Synchronous replication once the standby runs: a commit returns when the standby has flushed it, so a crashed
  # primary loses nothing that was acknowledged (with asynchronous replication it may).
  as_pg "$bin/psql" -X -q -h 127.0.0.1 -p "$PG_PRIMARY" -U postgres -d postgres \
    -c "ALTER SYSTEM SET synchronous_standby_names = '*'" -c "SELECT pg_reload_conf()" >/dev/null
}

# N of the node that leads quorum queue $1 in vhost /, asked of the first node whose management API answers.
queue_leader() {
  local n leader
  for n in 1 2 3; do
    leader=$(curl -fsS --max-time 5 -u guest:guest "http://127.0.0.1:$((MGMT_BASE + n - 1))/api/queues/%2F/$1" 2>/dev/null \
      | grep -o '"leader":"rabbit-[0-9]@' | grep -o '[0-9]') || continue
    [[ -n $leader ]] && { echo "$leader"; return 0; }
  done
  return 1
}

write_env() {
  local urls=() n
  for n in 1 2 3; do urls+=("amqp://guest:guest@127.0.0.1:$((AMQP_BASE + n - 1))/%2f"); done
  {
    echo "# written by scripts/cluster.sh start"
    printf 'export %s=%q\n' \
      SCHOOLICT_CLUSTER_AMQP_URL "$(IFS=,; echo "${urls[*]}")" \
      SCHOOLICT_CLUSTER_DATABASE_URL "postgresql://postgres@127.0.0.1:$PG_PRIMARY,127.0.0.1:$PG_STANDBY/schoolict?target_session_attrs=read-write" \
      SCHOOLICT_CLUSTER_MANAGEMENT_URL "http://guest:guest@127.0.0.1:$MGMT_BASE" \
      SCHOOLICT_CLUSTER_DIR "$DATA"
  } >"$DATA/env.sh"
}

case ${1:-} in
  start)
    if ! pgrep -f "epmd.*-port $EPMD_PORT" >/dev/null; then
      # Once (30 November) epmd did not open its port within the timeout and left no log; a second try, and what
      # was seen, so that a next time says more.
      for attempt in 1 2; do
        setsid epmd -port "$EPMD_PORT" -address 127.0.0.1 </dev/null >>"$DATA/logs/epmd.log" 2>&1 &
        echo $! >"$DATA/epmd.pid"
        TIMEOUT=$((TIMEOUT / 2)) wait_until port_open "$EPMD_PORT" && break
        epmd_pid=$(cat "$DATA/epmd.pid")
        log "epmd (pid $epmd_pid, $(pid_running "$epmd_pid" && echo running || echo gone)) did not open" \
          "127.0.0.1:$EPMD_PORT; log: $(tail -3 "$DATA/logs/epmd.log" 2>/dev/null | tr '\n' ' ')"
        kill "$epmd_pid" 2>/dev/null || true
        [[ $attempt == 2 ]] && die "epmd did not start"
      done
    fi
    pg_start
    for n in 1 2 3; do start_node "$n"; wait_node "$n"; done
    join_nodes
    write_env
    log "up: three RabbitMQ nodes, a PostgreSQL primary and a standby; environment: $DATA/env.sh"
    ;;
  stop)
    for n in 1 2 3; do
      if pidfile_running "$DATA/rabbit-$n.pid"; then kill "$(cat "$DATA/rabbit-$n.pid")" 2>/dev/null || true; fi
    done
    bin=$(find_pg_bin)
    for d in standby primary; do
      [[ -s $PG_DIR/$d/postmaster.pid ]] && as_pg "$bin/pg_ctl" -D "$PG_DIR/$d" -m fast -w stop >/dev/null 2>&1 || true
    done
    for n in 1 2 3; do
      while pidfile_running "$DATA/rabbit-$n.pid"; do sleep 0.3; done
    done
    [[ -s $DATA/epmd.pid ]] && kill "$(cat "$DATA/epmd.pid")" 2>/dev/null || true
    log "stopped"
    ;;
  status)
    code=0
    for n in 1 2 3; do
      if pidfile_running "$DATA/rabbit-$n.pid"; then log "node $n running"; else log "node $n down"; code=3; fi
    done
    for d in primary standby; do
      if pidfile_running "$PG_DIR/$d/postmaster.pid"; then log "postgres $d running"; else log "postgres $d down"; code=3; fi
    done
    exit $code
    ;;
  env) cat "$DATA/env.sh" ;;
  reset)
    "$0" stop
    [[ -L $DATA/pg ]] && rm -rf "${PG_DIR:?}"
    rm -rf "${DATA:?}"
    log "removed $DATA"
    ;;
  kill-node)
    n=${2:?node number}
    pidfile_running "$DATA/rabbit-$n.pid" || die "node $n is not running"
    kill -9 "$(cat "$DATA/rabbit-$n.pid")"
    log "node $n killed"
    ;;
  start-node)
    n=${2:?node number}
    start_node "$n"
    wait_node "$n"
    log "node $n back"
    ;;
  leader)
    queue_leader "${2:?queue name}"
    ;;
  kill-leader)
    n=$(queue_leader "${2:?queue name}") || die "no leader found for ${2}"
    "$0" kill-node "$n"
    echo "$n" >"$DATA/killed-node"
    ;;
  restart-killed)
    [[ -s $DATA/killed-node ]] || die "no node was killed by kill-leader"
    "$0" start-node "$(cat "$DATA/killed-node")"
    rm -f "$DATA/killed-node"
    ;;
  crash-primary)
    as_pg "$(find_pg_bin)/pg_ctl" -D "$PG_DIR/primary" -m immediate -w stop >/dev/null
    log "primary crashed (immediate stop)"
    ;;
  stop-primary)
    as_pg "$(find_pg_bin)/pg_ctl" -D "$PG_DIR/primary" -m fast -w stop >/dev/null
    log "primary stopped"
    ;;
  promote-standby)
    as_pg "$(find_pg_bin)/pg_ctl" -D "$PG_DIR/standby" -w promote >/dev/null
    log "standby promoted: 127.0.0.1:$PG_STANDBY is the primary"
    ;;
  *)
    sed -n '2,18s/^# \{0,1\}//p' "$0" >&2
    exit 2
    ;;
esac
