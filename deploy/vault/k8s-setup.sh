#!/bin/sh
# Vault/OpenBao set-up for the Kubernetes participants; run ONCE by a Vault operator with a
# privileged token (BAO_ADDR/VAULT_ADDR and BAO_TOKEN/VAULT_TOKEN set), from a machine that can read
# the cluster's service-account issuer. Idempotent. Works with `vault` or `bao` (VAULT_CLI).
#
# What it sets up (see k8s/README.md):
#   - transit engine at $TRANSIT_MOUNT, one key per participant pod: mpc-node-1 .. mpc-node-$REPLICAS
#   - JWT auth at auth/$AUTH_MOUNT that trusts the cluster's service-account tokens (audience
#     "vault", subject system:serviceaccount:$NAMESPACE:mpc-participant) and names each login after
#     the POD (user_claim /kubernetes.io/pod/name), so each pod is its own entity alias
#   - one templated policy (policies/participant-k8s.hcl.tmpl): a pod reaches only mpc-<pod name>
#   - role $ROLE binding the two; the StatefulSet sets VAULT_AUTH_ROLE=$ROLE, and the image's entry
#     point logs in at every container start (deploy/vault_login.py)
#   - KV v2 at $KV_MOUNT: node-token/<pod name> holds that pod's API token (an operator writes it:
#     `vault kv put mpc-kv/node-token/node-1 token=...`); each pod's policy reads only its own
#   - the API's ed25519 intent key mpc-api-intent, policy mpc-api (sign with it, nothing else) and role
#     $API_ROLE for the service account mpc-api; participants may only read its public key
set -eu
CLI="${VAULT_CLI:-vault}"
: "${NAMESPACE:=mpc}"
: "${REPLICAS:=3}"
: "${TRANSIT_MOUNT:=transit}"
: "${AUTH_MOUNT:=k8s-jwt}"
: "${ROLE:=mpc-participant}"
: "${API_ROLE:=mpc-api}"
: "${KV_MOUNT:=mpc-kv}"  # KV v2: node-token/<pod name> holds each participant pod's API token
: "${TOKEN_PERIOD:=24h}"  # periodic tokens: the pod renews its token while it runs
# The cluster's OIDC issuer discovery URL (`kubectl get --raw /.well-known/openid-configuration`);
# or set JWT_VALIDATION_PUBKEYS_FILE to a PEM file with the issuer's public key(s).
: "${OIDC_DISCOVERY_URL:=https://kubernetes.default.svc.cluster.local}"
HERE=$(cd "$(dirname "$0")" && pwd)

"$CLI" secrets list -format=json | grep -q "\"$TRANSIT_MOUNT/\"" || "$CLI" secrets enable -path="$TRANSIT_MOUNT" transit
i=1
while [ "$i" -le "$REPLICAS" ]; do
    key="mpc-node-$i"
    "$CLI" read "$TRANSIT_MOUNT/keys/$key" >/dev/null 2>&1 || "$CLI" write -f "$TRANSIT_MOUNT/keys/$key" type=aes256-gcm96
    i=$((i + 1))
done

"$CLI" auth list -format=json | grep -q "\"$AUTH_MOUNT/\"" || "$CLI" auth enable -path="$AUTH_MOUNT" jwt
if [ -n "${JWT_VALIDATION_PUBKEYS_FILE:-}" ]; then
    "$CLI" write "auth/$AUTH_MOUNT/config" jwt_validation_pubkeys=@"$JWT_VALIDATION_PUBKEYS_FILE"
else
    "$CLI" write "auth/$AUTH_MOUNT/config" oidc_discovery_url="$OIDC_DISCOVERY_URL" \
        ${OIDC_DISCOVERY_CA_PEM:+oidc_discovery_ca_pem=@"$OIDC_DISCOVERY_CA_PEM"}
fi
accessor=$("$CLI" read -field=accessor "sys/auth/$AUTH_MOUNT")
"$CLI" secrets list -format=json | grep -q "\"$KV_MOUNT/\"" || "$CLI" secrets enable -path="$KV_MOUNT" -version=2 kv
sed -e "s|@MOUNT@|$TRANSIT_MOUNT|g" -e "s|@ACCESSOR@|$accessor|g" -e "s|@KV@|$KV_MOUNT|g" \
    "$HERE/policies/participant-k8s.hcl.tmpl" \
    | "$CLI" policy write mpc-participant -

"$CLI" write "auth/$AUTH_MOUNT/role/$ROLE" \
    role_type=jwt \
    bound_audiences=vault \
    bound_subject="system:serviceaccount:$NAMESPACE:mpc-participant" \
    user_claim=/kubernetes.io/pod/name \
    user_claim_json_pointer=true \
    token_policies=mpc-participant \
    token_no_default_policy=true \
    token_period="$TOKEN_PERIOD"
# The API's intent key and its own role: only the API's service account may sign intents.
"$CLI" read "$TRANSIT_MOUNT/keys/mpc-api-intent" >/dev/null 2>&1 \
    || "$CLI" write -f "$TRANSIT_MOUNT/keys/mpc-api-intent" type=ed25519
sed -e "s|@MOUNT@|$TRANSIT_MOUNT|g" "$HERE/policies/api.hcl.tmpl" | "$CLI" policy write mpc-api -
"$CLI" write "auth/$AUTH_MOUNT/role/$API_ROLE" \
    role_type=jwt \
    bound_audiences=vault \
    bound_subject="system:serviceaccount:$NAMESPACE:mpc-api" \
    user_claim=sub \
    token_policies=mpc-api \
    token_no_default_policy=true \
    token_period="$TOKEN_PERIOD"
echo "k8s-setup: role $ROLE ready; each participant pod reaches only transit key mpc-<pod name>"
echo "k8s-setup: role $API_ROLE ready; only the API signs intents (transit key mpc-api-intent)"
