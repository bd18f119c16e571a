# OpenBao server of the development compose stack (docker-compose.yml, service `vault`).
# File storage on the `vault-data` volume, so transit keys survive restarts; deploy/vault/bootstrap.sh
# initialises it once (1 unseal key, kept in the `vault-init` volume: development only) and unseals
# it on every `docker compose up`. Production: a real Vault/OpenBao cluster (see README, Deployment).
storage "file" {
  path = "/openbao/file"
}

listener "tcp" {
  address     = "0.0.0.0:8200"
  tls_disable = true
}

api_addr      = "http://vault:8200"
disable_mlock = true
ui            = false
