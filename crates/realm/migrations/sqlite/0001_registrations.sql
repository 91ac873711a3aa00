-- One realm's part of each registration (SPEC.md of share-backup-realm-protocol).
CREATE TABLE registrations (
    realm_id            TEXT   NOT NULL,
    user_id             TEXT    NOT NULL,
    reg_id              TEXT    NOT NULL,
    share_index         INTEGER NOT NULL,
    oprf_key            BLOB    NOT NULL,
    masked_unlock_share BLOB    NOT NULL,
    unlock_tag          BLOB    NOT NULL,
    encrypted_share     BLOB    NOT NULL,
    max_guesses         INTEGER NOT NULL CHECK (max_guesses > 0),
    guesses             INTEGER NOT NULL DEFAULT 0 CHECK (guesses >= 0 AND guesses <= max_guesses),
    created_at          INTEGER NOT NULL,
    PRIMARY KEY (realm_id, user_id, reg_id)
);
