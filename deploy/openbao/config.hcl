# OpenBao server of the development compose stack (docker-compose.yml, service `vault`).
# Integrated (raft) storage on the `vault-data` volume, so transit keys survive restarts (OpenBao 2
# has no "file" storage). deploy/vault/bootstrap.sh initialises it once (1 unseal key, kept in the
# `vault-init` volume: development only) and unseals it on every `docker compose up`.
# Production: a real Vault/OpenBao cluster (README, Deployment).
storage "raft" {
  path    = "/openbao/file"
  node_id = "vault"
}

listener "tcp" {
  address         = "0.0.0.0:8200"
  cluster_address = "0.0.0.0:8201"
  tls_disable     = true
}

api_addr     = "http://vault:8200"
cluster_addr = "http://vault:8201"
ui           = false
