-- Registrations are keyed by the token's issuer as well as its subject: two
-- integrators trusted by one realm may name their users alike. SQLite cannot
-- change a primary key in place, so the table is rebuilt. Rows from before
-- this migration get issuer '' (legacy): the realm adopts them at startup for
-- its one trusted issuer, or refuses to start when it trusts several (see the
-- README). `last_guess_at` (unix seconds of the last counted guess) times the
-- phase-2 window after which an exhausted row erases itself.
CREATE TABLE registrations_v3 (
    realm_id            TEXT    NOT NULL,
    issuer              TEXT    NOT NULL,
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
    last_guess_at       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (realm_id, issuer, user_id, reg_id)
);
INSERT INTO registrations_v3 (realm_id, issuer, user_id, reg_id, share_index, oprf_key, masked_unlock_share,
    unlock_tag, encrypted_share, max_guesses, guesses, created_at, last_guess_at)
SELECT realm_id, '', user_id, reg_id, share_index, oprf_key, masked_unlock_share,
    unlock_tag, encrypted_share, max_guesses, guesses, created_at, 0
FROM registrations;
DROP TABLE registrations;
ALTER TABLE registrations_v3 RENAME TO registrations;
-- The rows the erasure sweep looks at: no guess left, by the time of the last one.
CREATE INDEX registrations_exhausted ON registrations (realm_id, last_guess_at) WHERE guesses >= max_guesses;

-- Tombstones of registrations erased after too many wrong guesses (no secret
-- column): a later request for one answers locked_out, not not_found.
CREATE TABLE lockouts (
    realm_id  TEXT    NOT NULL,
    issuer    TEXT    NOT NULL,
    user_id   TEXT    NOT NULL,
    reg_id    TEXT    NOT NULL,
    erased_at INTEGER NOT NULL,
    PRIMARY KEY (realm_id, issuer, user_id, reg_id)
);
