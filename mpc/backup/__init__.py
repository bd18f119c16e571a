"""Backup sets: manifest format, PostgreSQL dump and restore, share escrow, restore steps.

A set is a directory `<BACKUP_DIR>/<backup_id>/` holding `db.sql.gz` (pg_dump), `nodes/<node>/...` (each
participant's public `.meta` files and, with escrow, `escrow/<key>/<node>.json`), `manifest.json` (every
file with SHA-256 and size, the schema revision, each key's public data) and `manifest.sig` (the API's
Ed25519 signature over it). A set is complete only once its directory has its final name.
"""
