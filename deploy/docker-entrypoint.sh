#!/bin/sh
# Entry point of the mpc image: `docker run IMAGE [COMMAND...]`.
#
#   (no command)              mpc serve: the role comes from NODE_TYPE
#                             (coordinator: API + coordinator worker; participant: participant worker)
#   api | worker coordinator | worker participant | migrate up | tokens create ...
#                             the same `mpc` subcommand
#   /path/to/program ARGS     runs that program (e.g. /bin/sh for debugging)
#
# Secrets may be given as files: for VAR in the list below, VAR_FILE=/path sets VAR from the file
# (Docker/Compose secrets, Kubernetes Secret volumes). NODE_ID defaults to POD_NAME (StatefulSet).
# With VAULT_AUTH_ROLE set and no VAULT_TOKEN, the container logs in to Vault with its Kubernetes
# service-account token (mpc-vault-login) and gets a token limited to its own transit key. A Vault
# token is kept alive (renew-self) while the process runs, unless VAULT_TOKEN_RENEW=false.
set -eu

for var in API_TOKEN VAULT_TOKEN DB_PASSWORD REDIS_PASSWORD PAYLOAD_CODEC_KEY KEY_SHARE_ENCRYPTION_KEY; do
    eval "file=\${${var}_FILE:-}"
    if [ -n "$file" ]; then
        eval "current=\${${var}:-}"
        if [ -n "$current" ]; then
            echo "mpc-entrypoint: both $var and ${var}_FILE are set; set one" >&2
            exit 2
        fi
        if [ ! -r "$file" ]; then
            echo "mpc-entrypoint: ${var}_FILE: cannot read $file" >&2
            exit 2
        fi
        value=$(cat "$file")
        export "$var=$value"
        unset "${var}_FILE"
    fi
done

if [ -z "${NODE_ID:-}" ] && [ -n "${POD_NAME:-}" ]; then
    export NODE_ID="$POD_NAME"
fi

# the helper (deploy/vault_login.py); a command line, so tests can run it outside the image
VAULT_HELPER=${MPC_VAULT_LOGIN:-/usr/local/bin/mpc-vault-login}
if [ -n "${VAULT_AUTH_ROLE:-}" ] && [ -z "${VAULT_TOKEN:-}" ]; then
    VAULT_TOKEN=$($VAULT_HELPER)
    export VAULT_TOKEN
fi
# Kubernetes participants: the pod's own API token (role node, bound to its node id) lives in Vault KV,
# readable by that pod's Vault identity only, so no pod can read another pod's token.
if [ -n "${API_TOKEN_VAULT_PATH:-}" ] && [ -z "${API_TOKEN:-}" ] && [ -n "${VAULT_TOKEN:-}" ]; then
    API_TOKEN=$($VAULT_HELPER --api-token)
    export API_TOKEN
fi
# The processes do not renew their Vault token: a helper does, while this process (after the exec
# below: mpc, same pid) runs. Started in a subshell, so PID 1 (tini) reaps it.
if [ -n "${VAULT_TOKEN:-}" ] && [ -n "${VAULT_ADDR:-}" ] && [ "${VAULT_TOKEN_RENEW:-true}" = "true" ]; then
    ( $VAULT_HELPER --renew --watch-pid $$ & )
fi

[ "$#" -gt 0 ] || set -- serve
case "$1" in
    mpc) shift; exec mpc "$@" ;;
    */*) exec "$@" ;;
    *) exec mpc "$@" ;;
esac
