-- Per-token request counts, one row per (realm, token, one-minute window),
-- shared by every realm process over this database. The token is stored
-- only as its SHA-256.
CREATE TABLE rate_limits (
    realm_id     TEXT   NOT NULL,
    token_hash   BYTEA  NOT NULL,
    window_start BIGINT NOT NULL,
    requests     BIGINT NOT NULL CHECK (requests > 0),
    PRIMARY KEY (realm_id, token_hash, window_start)
);
CREATE INDEX rate_limits_by_window ON rate_limits (window_start);
