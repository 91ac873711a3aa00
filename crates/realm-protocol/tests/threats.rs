//! The store holder's experiment: with the envelope's header and the whole
//! database row of one realm, every PIN stays possible.

use share_backup_realm_protocol::client::{self, RegistrationHeader};
use share_backup_realm_protocol::{oprf, register, shamir};
use zeroize::Zeroizing;

/// What the attacker can compute from realm 0's row for a candidate PIN:
/// realm 0's unlock-key share, `[1] || y`.
fn candidate_share(pin: &str, user: &str, header: &RegistrationHeader, oprf_key: &[u8], masked: &[u8]) -> Vec<u8> {
    let k = oprf::decode_scalar(oprf_key).unwrap();
    let n = oprf::evaluate(&k, &client::access_key(pin.as_bytes(), user, &header.reg_id)[..]).unwrap();
    let pad = client::mask_for_tests(&n);
    [vec![1u8], masked.iter().zip(pad.iter()).map(|(a, b)| a ^ b).collect()].concat()
}

/// A realm-1 share that, with `share0`, reconstructs `secret` (found byte by byte).
fn completion(share0: &[u8], secret: &[u8]) -> Vec<u8> {
    let mut out = vec![2u8];
    for (i, want) in secret.iter().enumerate() {
        let b = (0..=255u8)
            .find(|b| {
                let pair = [Zeroizing::new(vec![1, share0[i + 1]]), Zeroizing::new(vec![2, *b])];
                shamir::combine(&pair).unwrap()[0] == *want
            })
            .expect("every byte has a completion");
        out.push(b);
    }
    out
}

#[test]
fn store_holder_with_one_realm_database_cannot_check_a_pin() {
    let realms: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
    let reg = register(b"482916", "alice", [3; 16], &realms, 2, 10).unwrap();
    let row = &reg.requests[0];
    // The unlock key is known to the test only, to build the completions.
    let unlock = client::unlock_key_for_tests(&reg.header, &reg.requests, b"482916", "alice");
    for pin in ["482916", "000000", "271828", "999999"] {
        let s0 = candidate_share(pin, "alice", &reg.header, &row.oprf_key.0, &row.masked_unlock_share.0);
        // For every PIN there is a realm-1 share making everything the
        // attacker sees consistent: the header's commitment to U holds, and
        // realm 0's tag and encrypted share are functions of U alone.
        let s1 = completion(&s0, &unlock);
        let u = shamir::combine(&[Zeroizing::new(s0), Zeroizing::new(s1)]).unwrap();
        assert_eq!(&u[..], &unlock[..], "PIN {pin}");
        assert!(client::unlock_matches_for_tests(&reg.header, &u), "PIN {pin}");
    }
}
