# Helpers shared by scripts/servers.sh and scripts/cluster.sh (sourced; each defines log and die, and TIMEOUT).
# shellcheck shell=bash

is_root() { [[ $(id -u) -eq 0 ]]; }
as_pg() { if is_root; then runuser -u postgres -- "$@"; else "$@"; fi; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# pid_running PID: a live, non-zombie process (this machine's init reaps zombies only lazily).
pid_running() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z ]]
}
pid_gone() { ! pid_running "$1"; }
# pidfile_running FILE: the PID on the file's first line runs (postmaster.pid, RabbitMQ's pid file).
pidfile_running() {
  local pid
  pid=$(head -n1 "$1" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && pid_running "$pid"
}
# wait_until COMMAND...: poll up to $TIMEOUT seconds.
wait_until() {
  local deadline=$((SECONDS + TIMEOUT))
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}
find_pg_bin() {
  if command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then
    dirname "$(readlink -f "$(command -v pg_ctl)")"
    return
  fi
  local dirs=(/usr/lib/postgresql/*/bin)
  [[ -x ${dirs[-1]}/pg_ctl ]] || die "PostgreSQL server binaries not found: run scripts/install-deps.sh"
  printf '%s\n' "${dirs[@]}" | sort -V | tail -n1
}
