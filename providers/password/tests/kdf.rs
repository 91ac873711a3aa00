//! Calibration, and the parser and policy on arbitrary input.

use proptest::prelude::*;
use share_backup_core::ErrorKind;
use share_backup_password::{
    CostCap, KdfParams, MIN_SEAL_SPACE_COST, MIN_SEAL_WORK, PasswordHeader, Policy, calibrate, calibrate_with,
};
use std::time::Duration;

#[test]
fn calibrate_refuses_a_zero_target() {
    assert_eq!(calibrate(Duration::ZERO).unwrap_err().kind(), &ErrorKind::InvalidInput);
}

#[test]
fn calibrate_meets_the_floor_never_picks_less_for_a_longer_target_and_keeps_time_and_threads() {
    let short = calibrate(Duration::from_millis(5)).unwrap();
    let long = calibrate(Duration::from_millis(1000)).unwrap();
    assert_eq!((short.params.time_cost(), short.params.parallelism()), (3, 1));
    // A 5 ms target is below the floor for new backups: the floor wins.
    assert!(short.params.space_cost() >= MIN_SEAL_SPACE_COST);
    assert!(short.params.work() >= MIN_SEAL_WORK);
    // Never less for a longer target (strictly more is a timing matter:
    // on a loaded machine the floor alone can take most of a second).
    assert!(long.params.space_cost() >= short.params.space_cost(), "{:?} vs {:?}", short, long);
    assert!(long.measured > Duration::ZERO);
    let two = calibrate_with(Duration::from_millis(5), 1, 2).unwrap();
    assert_eq!((two.params.time_cost(), two.params.parallelism()), (1, 2));
    assert!(two.params.work() >= MIN_SEAL_WORK, "{two:?}");
}

#[test]
fn calibrated_costs_for_a_second_fit_the_default_cap() {
    // The default cap leaves room for a calibrated one-second setting on this machine.
    let c = calibrate(Duration::from_millis(1000)).unwrap();
    CostCap::DEFAULT.check(&c.params).unwrap();
}

proptest! {
    #[test]
    fn header_parsing_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = PasswordHeader::parse(&bytes);
    }

    #[test]
    fn a_parsed_header_encodes_back_to_the_same_bytes(
        space in 1u32..=(1 << 26), time in 1u32..=(1 << 16), p in 1u8..=64,
        salt in proptest::collection::vec(any::<u8>(), 16..=64), kcv in any::<[u8; 16]>(),
    ) {
        let mut b = vec![1u8, 1];
        b.extend_from_slice(&space.to_be_bytes());
        b.extend_from_slice(&time.to_be_bytes());
        b.push(p);
        b.push(salt.len() as u8);
        b.extend_from_slice(&salt);
        b.extend_from_slice(&kcv);
        let h = PasswordHeader::parse(&b).unwrap();
        prop_assert_eq!(h.params(), &KdfParams::new(space, time, p).unwrap());
        prop_assert_eq!(h.to_bytes(), b);
    }

    #[test]
    fn policy_checks_never_panic(s in any::<String>()) {
        for p in [Policy::password(), Policy::pin(), Policy::passcode(), Policy::custom()] {
            let _ = p.check_with_inputs(&s, &["user@example.com"]);
        }
    }
}
