#!/bin/sh
# Entrypoint of the opk-signer `buildkit` image: start the signing sidecar on a unix socket
# inside the container, wait until it listens, then run buildkitd with our arguments. It stays
# as PID 1 and passes SIGTERM/SIGINT to both, so `docker stop` drains the sidecar.
#
# buildx's docker-container driver passes buildkitd flags as the container command, so "$@" is
# exactly what buildkitd would have received from upstream's entrypoint.
#
# Environment:
#   ACTIONS_ID_TOKEN_REQUEST_URL / ACTIONS_ID_TOKEN_REQUEST_TOKEN
#                          GitHub Actions OIDC (setup-buildx driver-opts env.*); read by the sidecar
#   OPK_SIGNER_SOCKET      socket path (default /run/opk-signer/signer.sock)
#   OPK_SIGNER_ARGS        extra `opk-signer serve` flags (word-split), e.g. "--log-level debug"
#   OPK_SIGNER_BIN         command that runs the CLI (default: node /opt/opk-signer/dist/cli/main.js)
#   OPK_SIGNER_KEEP_TOKEN_ENV=1
#                          keep ACTIONS_ID_TOKEN_REQUEST_* in buildkitd's environment (e.g. for a
#                          [cache.gha.sign] script); by default only the sidecar gets them
#   OPK_SIGNER_START_TIMEOUT  seconds to wait for the socket (default 30)
#   OPK_BUILDKITD          what to exec (default: upstream buildkitd-entrypoint, else buildkitd)
set -eu

sock="${OPK_SIGNER_SOCKET:-/run/opk-signer/signer.sock}"
bin="${OPK_SIGNER_BIN:-node /opt/opk-signer/dist/cli/main.js}"
timeout="${OPK_SIGNER_START_TIMEOUT:-30}"

log() { printf '{"time":"%s","level":"%s","msg":"%s","service":"opk-buildkitd-entrypoint"}\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$1" "$2" >&2; }

mkdir -p "$(dirname "$sock")"
# shellcheck disable=SC2086 # OPK_SIGNER_BIN and OPK_SIGNER_ARGS are word lists on purpose.
$bin serve --listen "unix://$sock" ${OPK_SIGNER_ARGS:-} &
signer_pid=$!
# A stop signal before buildkitd runs: the sidecar drains and the container stops (as PID 1 the
# shell would otherwise ignore SIGTERM and wait for docker's SIGKILL).
trap 'kill -TERM "$signer_pid" 2>/dev/null; wait "$signer_pid"; exit 143' TERM INT

# Poll for the socket: buildkitd must not start exporting before the signer can answer.
ticks=0
while [ ! -S "$sock" ]; do
  if ! kill -0 "$signer_pid" 2>/dev/null; then
    wait "$signer_pid" || true
    log error "opk-signer sidecar exited before listening on $sock"
    exit 1
  fi
  ticks=$((ticks + 1))
  if [ "$ticks" -gt $((timeout * 10)) ]; then
    log error "opk-signer sidecar did not listen on $sock within ${timeout}s"
    kill "$signer_pid" 2>/dev/null || true
    exit 1
  fi
  sleep 0.1
done
log info "opk-signer sidecar listening on unix://$sock (pid $signer_pid)"

if [ "${OPK_SIGNER_KEEP_TOKEN_ENV:-0}" != "1" ]; then
  unset ACTIONS_ID_TOKEN_REQUEST_TOKEN ACTIONS_ID_TOKEN_REQUEST_URL
fi
export OPK_SIGNER_PID="$signer_pid"

if [ -n "${OPK_BUILDKITD:-}" ]; then
  set -- "$OPK_BUILDKITD" "$@"
elif [ -x /usr/bin/buildkitd-entrypoint ]; then
  # Upstream's wrapper (cgroup v2 namespace setup), which execs buildkitd "$@".
  set -- /usr/bin/buildkitd-entrypoint "$@"
else
  set -- buildkitd "$@"
fi

# This shell stays as the container's PID 1 instead of exec'ing buildkitd: `docker stop` signals
# PID 1 only, and a sidecar left behind a dead buildkitd is SIGKILLed with the PID namespace,
# cutting the signing calls it had accepted. So the stop signal goes to both; the sidecar drains
# (accepted calls finish, new ones are refused) while buildkitd shuts down. `wait` also reaps
# orphans re-parented to PID 1 (ash and dash wait for any child).
stopping=""
stop() {
  stopping=1
  kill -TERM "$bk_pid" 2>/dev/null || true
  kill -TERM "$signer_pid" 2>/dev/null || true
}
trap stop TERM INT
"$@" &
bk_pid=$!
set +e
# A trapped signal interrupts `wait` with a status above 128, whether or not the child is still
# running. While it runs, wait again; once it has gone, one more `wait` gives its own status (the
# shell keeps it; a shell that does not answers 127, and the status seen stands).
wait_for() {
  wait "$1"
  st=$?
  while [ "$st" -gt 128 ] && kill -0 "$1" 2>/dev/null; do
    wait "$1"
    st=$?
  done
  if [ "$st" -gt 128 ]; then
    wait "$1"
    again=$?
    [ "$again" -eq 127 ] || st=$again
  fi
  return "$st"
}
wait_for "$bk_pid"
status=$?
if [ -z "$stopping" ]; then
  log "$([ "$status" -eq 0 ] && echo info || echo error)" "buildkitd exited (status $status); stopping the opk-signer sidecar"
  kill -TERM "$signer_pid" 2>/dev/null || true
fi
wait_for "$signer_pid"
signer_status=$?
[ "$signer_status" -eq 0 ] || log error "opk-signer sidecar exited with status $signer_status"
exit "$status"
