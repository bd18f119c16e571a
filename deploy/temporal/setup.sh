#!/bin/sh
# One-shot (admin-tools image): wait for the Temporal frontend, make sure the namespace exists, and
# register the workflow search attributes (SEARCH_ATTRIBUTES in mpc/devstack/temporal.py). Idempotent.
# Kubernetes: run the same commands once against the cluster's frontend (README, Deployment).
set -eu
: "${TEMPORAL_ADDRESS:=temporal:7233}"
: "${TEMPORAL_NAMESPACE:=default}"
ATTRIBUTES="MpcKeyId MpcProtocol MpcCurve MpcChain MpcOperation MpcStatus"

tries=0
until temporal operator cluster health --address "$TEMPORAL_ADDRESS" 2>/dev/null | grep -q SERVING; do
    tries=$((tries + 1))
    [ "$tries" -lt 90 ] || { echo "temporal-setup: $TEMPORAL_ADDRESS not serving after 180 s" >&2; exit 1; }
    sleep 2
done

if ! temporal operator namespace describe --address "$TEMPORAL_ADDRESS" -n "$TEMPORAL_NAMESPACE" >/dev/null 2>&1; then
    temporal operator namespace create --address "$TEMPORAL_ADDRESS" -n "$TEMPORAL_NAMESPACE" --retention 72h
fi

existing=$(temporal operator search-attribute list --address "$TEMPORAL_ADDRESS" -n "$TEMPORAL_NAMESPACE" 2>/dev/null || true)
for name in $ATTRIBUTES; do
    if printf '%s\n' "$existing" | grep -qw "$name"; then
        echo "temporal-setup: search attribute $name exists"
    else
        temporal operator search-attribute create --address "$TEMPORAL_ADDRESS" -n "$TEMPORAL_NAMESPACE" \
            --name "$name" --type Keyword
        echo "temporal-setup: search attribute $name created"
    fi
done
