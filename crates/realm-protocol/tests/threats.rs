//! The store holder's experiment: with the envelope's header and the whole
//! database row of one realm, every PIN stays possible.

use share_backup_realm_protocol::client::{self, Randomness};
use share_backup_realm_protocol::{RegisterRequest, oprf, register, shamir};
use zeroize::Zeroizing;

/// The share at identifier `x` of the degree-1 sharing of `secret` whose
/// share at identifier 1 is `share1` (found byte by byte through `combine`).
fn share_at(x: u8, share1: &[u8], secret: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = vec![x];
    for (i, want) in secret.iter().enumerate() {
        let b = (0..=255u8)
            .find(|b| {
                let pair = [Zeroizing::new(vec![1, share1[i]]), Zeroizing::new(vec![x, *b])];
                shamir::combine(&pair).unwrap()[0] == *want
            })
            .expect("every byte has a completion");
        out.push(b);
    }
    Zeroizing::new(out)
}

fn row(r: &RegisterRequest) -> String {
    serde_json::to_string(r).unwrap()
}

/// Everything the attacker holds (the envelope's key header and realm 0's
/// whole row) is produced, byte for byte, by a registration under every
/// other PIN too: for each candidate PIN there is a registration (same
/// OPRF keys, unlock key and secret; other unlock shares at the realms the
/// attacker does not hold) that `register_with` turns into exactly the
/// attacker's bytes. So no offline computation on those bytes can tell the
/// right PIN from a wrong one. The test fails if the header or a realm's
/// row ever carries anything that depends on the PIN other than through
/// the realm's own OPRF (a PIN hash, a tag keyed by the PIN, ...); and it
/// checks that the PIN does matter at the realms the attacker lacks.
#[test]
fn one_realm_row_and_the_envelope_are_the_same_under_every_pin() {
    let realms: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
    let (user, reg_id, right) = ("alice", [3u8; 16], "482916");
    let base = || Randomness {
        oprf_keys: (0..3).map(|_| oprf::random_scalar().unwrap()).collect(),
        unlock_key: [0x5a; 32],
        secret: [0xc3; 32],
        unlock_shares: vec![],
        secret_shares: shamir::split(2, 3, &[0xc3; 32]).unwrap(),
    };
    let mut rnd = base();
    rnd.unlock_shares = shamir::split(2, 3, &rnd.unlock_key).unwrap();
    let real = client::register_with(right.as_bytes(), user, reg_id, &realms, 2, 10, &rnd).unwrap();
    let seen_header = real.header.to_bytes();
    let seen_row = row(&real.requests[0]);
    for pin in ["000000", "271828", "999999", "482917"] {
        // Realm 0's unlock share under `pin`, given the mask the attacker sees.
        let k0 = rnd.oprf_keys[0];
        let n0 = oprf::evaluate(&k0, &client::access_key(pin.as_bytes(), user, &reg_id)[..]).unwrap();
        let pad = client::mask_for_tests(&n0);
        let y0: Vec<u8> = real.requests[0].masked_unlock_share.0.iter().zip(pad.iter()).map(|(a, b)| a ^ b).collect();
        let alt = Randomness {
            oprf_keys: rnd.oprf_keys.clone(),
            unlock_key: rnd.unlock_key,
            secret: rnd.secret,
            unlock_shares: vec![
                Zeroizing::new([&[1u8][..], &y0[..]].concat()),
                share_at(2, &y0, &rnd.unlock_key),
                share_at(3, &y0, &rnd.unlock_key),
            ],
            secret_shares: rnd.secret_shares.clone(),
        };
        let other = client::register_with(pin.as_bytes(), user, reg_id, &realms, 2, 10, &alt).unwrap();
        assert_eq!(other.header.to_bytes(), seen_header, "PIN {pin}: the header tells the PINs apart");
        assert_eq!(row(&other.requests[0]), seen_row, "PIN {pin}: realm 0's row tells the PINs apart");
        // Not vacuous: the rows the attacker lacks differ, and each
        // registration opens only under its own PIN.
        assert_ne!(row(&other.requests[1]), row(&real.requests[1]), "PIN {pin}");
        let u = client::unlock_key_for_tests(&other.header, &other.requests, pin.as_bytes(), user);
        assert!(client::unlock_matches_for_tests(&other.header, &u), "PIN {pin}");
        let u = client::unlock_key_for_tests(&real.header, &real.requests, pin.as_bytes(), user);
        assert!(!client::unlock_matches_for_tests(&real.header, &u), "PIN {pin} opens the real registration");
    }
    // `register` (fresh randomness) produces the same shape as `register_with`.
    let fresh = register(right.as_bytes(), user, reg_id, &realms, 2, 10).unwrap();
    assert_eq!(fresh.header.to_bytes().len(), seen_header.len());
}
