-- Pipeline engines: fingerprint index entries, the rights-registry log and creator keys.
CREATE TABLE fingerprint_entries (
    work_id TEXT PRIMARY KEY REFERENCES works (id) ON DELETE CASCADE,
    store_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE registry_log (
    name TEXT PRIMARY KEY,
    signer TEXT NOT NULL,
    lease_owner TEXT,
    lease_expires_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE TABLE creator_keys (
    creator_id TEXT PRIMARY KEY REFERENCES creators (id) ON DELETE CASCADE,
    signing_key TEXT NOT NULL,
    public_key TEXT NOT NULL,
    identity_salt TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
