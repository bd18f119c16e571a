#!/bin/sh
# One-shot of the compose stack (mpc image, after `mpc migrate up`): gives each participant an API
# token of role `node` (`mpc tokens create --role node`), written into that participant's own
# credentials volume as api-token (mode 0400). A token already there is kept.
set -eu
: "${PARTICIPANTS:=node-1 node-2 node-3}"
: "${NODE_TOKEN_TTL:=8760h}"
: "${CREDENTIALS_DIR:=/credentials}"
umask 077
for node in $PARTICIPANTS; do
    file="$CREDENTIALS_DIR/$node/api-token"
    if [ -s "$file" ]; then
        echo "node-tokens: $node keeps its API token"
        continue
    fi
    mpc tokens create --name "$node" --role node --node-id "$node" --ttl "$NODE_TOKEN_TTL" > "$file.tmp"
    mv "$file.tmp" "$file"
    chmod 0400 "$file"
    echo "node-tokens: $node got an API token (role node)"
done
