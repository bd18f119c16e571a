#!/bin/sh
# One-shot of the compose stack (runs in the OpenBao image as `vault-bootstrap`). Idempotent:
#   1. waits for the server; initialises it on first start (1 unseal key; development only: the
#      init output is kept in the vault-init volume, never in the repository) and unseals it;
#   2. enables the transit engine and creates one transit key per participant (mpc-node-1..N);
#   3. writes one policy per participant, limited to its own key (policies/participant.hcl.tmpl), and
#      creates a token with only that policy into that participant's own credentials volume
#      (/credentials/node-N/vault-token, owner 10001 = the mpc image's user, mode 0400), reusing a
#      token that is still valid. The token is periodic (24 h): the image's entry point renews it
#      while the participant runs; one that expired while the stack was down is replaced here.
#   4. creates the API's ed25519 intent key mpc-api-intent and a token for the API that may only sign
#      with it (/credentials/api/vault-token, policies/api.hcl.tmpl); participants may read its public key.
# Production: Vault is its own cluster, unsealed by its operators; see deploy/vault/k8s-setup.sh.
set -eu
: "${BAO_ADDR:=http://vault:8200}"
: "${PARTICIPANTS:=node-1 node-2 node-3}"
: "${TRANSIT_MOUNT:=transit}"
: "${TOKEN_PERIOD:=24h}"  # periodic: the participant renews it while it runs
: "${MPC_UID:=10001}"
: "${INIT_DIR:=/vault-init}"
: "${CREDENTIALS_DIR:=/credentials}"
: "${POLICY_TEMPLATE:=/deploy/vault/policies/participant.hcl.tmpl}"
: "${API_POLICY_TEMPLATE:=$(dirname "$POLICY_TEMPLATE")/api.hcl.tmpl}"
INIT_FILE="$INIT_DIR/init.json"
export BAO_ADDR

status() { bao status >/dev/null 2>&1; echo $?; }   # 0 unsealed, 2 sealed/uninitialised, 1 error

tries=0
while [ "$(status)" = 1 ]; do
    tries=$((tries + 1))
    [ "$tries" -lt 60 ] || { echo "vault-bootstrap: $BAO_ADDR unreachable" >&2; exit 1; }
    sleep 1
done

if bao status -format=json 2>/dev/null | grep -q '"initialized": false'; then
    echo "vault-bootstrap: initialising (development: 1 unseal key in the vault-init volume)"
    umask 077
    bao operator init -key-shares=1 -key-threshold=1 -format=json > "$INIT_FILE.tmp"
    mv "$INIT_FILE.tmp" "$INIT_FILE"
fi
[ -s "$INIT_FILE" ] || { echo "vault-bootstrap: Vault is initialised but $INIT_FILE is missing" >&2; exit 1; }
unseal_key=$(awk '/"unseal_keys_b64"/ {getline; gsub(/[ ",]/, ""); print; exit}' "$INIT_FILE")
BAO_TOKEN=$(sed -n 's/.*"root_token": *"\([^"]*\)".*/\1/p' "$INIT_FILE")
export BAO_TOKEN

if bao status -format=json 2>/dev/null | grep -q '"sealed": true'; then
    echo "vault-bootstrap: unsealing"
    bao operator unseal "$unseal_key" >/dev/null
fi

# after an unseal, raft elects its leader before the server answers requests
tries=0
until mounts=$(bao secrets list -format=json 2>/dev/null); do
    tries=$((tries + 1))
    [ "$tries" -lt 60 ] || { echo "vault-bootstrap: $BAO_ADDR does not become active" >&2; exit 1; }
    sleep 1
done

if ! printf '%s' "$mounts" | grep -q "\"$TRANSIT_MOUNT/\""; then
    bao secrets enable -path="$TRANSIT_MOUNT" transit
fi

for node in $PARTICIPANTS; do
    key="mpc-$node"
    if ! bao read "$TRANSIT_MOUNT/keys/$key" >/dev/null 2>&1; then
        bao write -f "$TRANSIT_MOUNT/keys/$key" type=aes256-gcm96 >/dev/null
        echo "vault-bootstrap: transit key $key created"
    fi
    sed -e "s|@MOUNT@|$TRANSIT_MOUNT|g" -e "s|@KEY@|$key|g" "$POLICY_TEMPLATE" | bao policy write "$key" - >/dev/null

    dir="$CREDENTIALS_DIR/$node"
    mkdir -p "$dir"
    token_file="$dir/vault-token"
    if [ -s "$token_file" ] && BAO_TOKEN=$(cat "$token_file") bao token lookup >/dev/null 2>&1; then
        echo "vault-bootstrap: $node keeps its token"
    else
        umask 077
        bao token create -orphan -policy="$key" -no-default-policy -period="$TOKEN_PERIOD" \
            -display-name="$key" -field=token > "$token_file.tmp"
        mv "$token_file.tmp" "$token_file"
        echo "vault-bootstrap: $node got a token limited to transit key $key"
    fi
    chown "$MPC_UID:$MPC_UID" "$dir" "$token_file"
    chmod 0700 "$dir"
    chmod 0400 "$token_file"
done
# the API's intent key (ed25519, never leaves Vault) and a token that may only sign with it
if ! bao read "$TRANSIT_MOUNT/keys/mpc-api-intent" >/dev/null 2>&1; then
    bao write -f "$TRANSIT_MOUNT/keys/mpc-api-intent" type=ed25519 >/dev/null
    echo "vault-bootstrap: transit key mpc-api-intent created"
fi
sed -e "s|@MOUNT@|$TRANSIT_MOUNT|g" "$API_POLICY_TEMPLATE" | bao policy write mpc-api - >/dev/null
dir="$CREDENTIALS_DIR/api"
mkdir -p "$dir"
token_file="$dir/vault-token"
if [ -s "$token_file" ] && BAO_TOKEN=$(cat "$token_file") bao token lookup >/dev/null 2>&1; then
    echo "vault-bootstrap: the API token is still valid"
else
    umask 077
    bao token create -orphan -policy=mpc-api -no-default-policy -period="$TOKEN_PERIOD" \
        -display-name=mpc-api -field=token > "$token_file.tmp"
    mv "$token_file.tmp" "$token_file"
    echo "vault-bootstrap: the API got a token limited to signing intents"
fi
chown "$MPC_UID:$MPC_UID" "$dir" "$token_file"
chmod 0700 "$dir"
chmod 0400 "$token_file"
echo "vault-bootstrap: done"
