-- One realm's part of each registration (SPEC.md of share-backup-realm-protocol).
CREATE TABLE registrations (
    realm_id            TEXT   NOT NULL,
    user_id             TEXT   NOT NULL,
    reg_id              TEXT   NOT NULL,
    share_index         BIGINT NOT NULL,
    oprf_key            BYTEA  NOT NULL,
    masked_unlock_share BYTEA  NOT NULL,
    unlock_tag          BYTEA  NOT NULL,
    encrypted_share     BYTEA  NOT NULL,
    max_guesses         BIGINT NOT NULL CHECK (max_guesses > 0),
    guesses             BIGINT NOT NULL DEFAULT 0 CHECK (guesses >= 0 AND guesses <= max_guesses),
    created_at          BIGINT NOT NULL,
    PRIMARY KEY (realm_id, user_id, reg_id)
);
