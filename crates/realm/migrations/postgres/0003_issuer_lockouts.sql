-- Registrations are keyed by the token's issuer as well as its subject: two
-- integrators trusted by one realm may name their users alike. Rows from
-- before this migration get issuer '' (legacy): the realm adopts them at
-- startup for its one trusted issuer, or refuses to start when it trusts
-- several (see the README). `last_guess_at` (unix seconds of the last
-- counted guess) times the phase-2 window after which an exhausted row
-- erases itself.
ALTER TABLE registrations ADD COLUMN issuer TEXT NOT NULL DEFAULT '';
ALTER TABLE registrations ALTER COLUMN issuer DROP DEFAULT;
ALTER TABLE registrations ADD COLUMN last_guess_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE registrations DROP CONSTRAINT registrations_pkey;
ALTER TABLE registrations ADD PRIMARY KEY (realm_id, issuer, user_id, reg_id);
-- The rows the erasure sweep looks at: no guess left, by the time of the last one.
CREATE INDEX registrations_exhausted ON registrations (realm_id, last_guess_at) WHERE guesses >= max_guesses;

-- Tombstones of registrations erased after too many wrong guesses (no secret
-- column): a later request for one answers locked_out, not not_found.
CREATE TABLE lockouts (
    realm_id  TEXT   NOT NULL,
    issuer    TEXT   NOT NULL,
    user_id   TEXT   NOT NULL,
    reg_id    TEXT   NOT NULL,
    erased_at BIGINT NOT NULL,
    PRIMARY KEY (realm_id, issuer, user_id, reg_id)
);
