//! The presets, each violation and its message.

use share_backup_core::ErrorKind;
use share_backup_password::{
    BUILTIN_BLOCKLIST, Blocklist, CharClass, CharClasses, Policy, PolicyViolations, Preset, Violation,
};

#[test]
fn password_preset_accepts_passphrases_and_strong_passwords() {
    let p = Policy::password();
    for ok in [
        "correct horse battery staple",
        "Tr0ub4dor&3-xylophone",
        "mañana será otro día, ¿verdad?",
        "\u{1f512}\u{1f511} vault of many keys",
    ] {
        assert_eq!(p.check(ok), vec![], "{ok}");
    }
}

#[test]
fn password_preset_has_no_composition_rules() {
    // All lower-case, no digit, no symbol: fine if long and unguessable.
    assert!(Policy::password().check("plinth orbit saffron glacier").is_empty());
    assert_eq!(Policy::password().required(), CharClasses::NONE);
    assert_eq!(Policy::password().allowed(), CharClasses::ALL);
}

#[test]
fn password_preset_allows_long_passphrases_up_to_256_characters() {
    let long: String = "glacier orbit saffron plinth ".repeat(10).chars().take(256).collect();
    assert!(Policy::password().check(&long).is_empty());
    let longer = format!("{long}x");
    assert_eq!(Policy::password().check(&longer), vec![Violation::TooLong { max: 256, actual: 257 }]);
}

/// The stable codes of the violations, in order (zxcvbn's warning texts vary).
fn codes(v: &[Violation]) -> Vec<&'static str> {
    v.iter().map(Violation::code).collect()
}

#[test]
fn password_preset_refuses_short_common_and_guessable_choices() {
    let p = Policy::password();
    assert_eq!(p.check("short")[0], Violation::TooShort { min: 8, actual: 5 });
    assert_eq!(codes(&p.check("short")), ["too_short", "too_guessable"]);
    assert_eq!(codes(&p.check("Password")), ["common", "too_guessable"]);
    assert_eq!(codes(&p.check("P@ssw0rd")), ["common", "too_guessable"]);
    assert_eq!(codes(&p.check("aaaaaaaa")), ["repeated", "too_guessable"]);
    assert_eq!(codes(&p.check("abcdefghij")), ["sequential", "too_guessable"]);
    let v = p.check("iloveyou2");
    assert!(matches!(&v[..], [Violation::TooGuessable { min: 3, score, .. }] if *score < 3), "{v:?}");
}

#[test]
fn check_reports_every_violation_together_including_the_strength_score() {
    let p = Policy::password();
    // Too short, on the blocklist and too guessable, all at once.
    let v = p.check("qwerty");
    assert_eq!(&v[..2], &[Violation::TooShort { min: 8, actual: 6 }, Violation::Common]);
    assert!(matches!(v[2..], [Violation::TooGuessable { score: 0, min: 3, .. }]), "{v:?}");
    // Four rules broken by one text, in the documented order.
    assert_eq!(codes(&p.check("1111")), ["too_short", "common", "repeated", "too_guessable"]);
    assert_eq!(codes(&p.check("aaaa")), ["too_short", "repeated", "too_guessable"]);
    // The user id and the score are reported next to the length.
    assert_eq!(codes(&p.check_with_inputs("alice", &["alice"])), ["too_short", "contains_user_id", "too_guessable"]);
    // A composition rule next to the score.
    let custom = Policy::custom()
        .with_min_score(Some(3))
        .with_required(CharClasses::NONE.with(CharClass::Digit))
        .with_blocklist(Blocklist::empty());
    assert_eq!(codes(&custom.check("dragonfly")), ["missing_class", "too_guessable"]);
}

#[test]
fn pin_preset_takes_six_to_twelve_digits_and_refuses_the_obvious() {
    let p = Policy::pin();
    assert_eq!(p.preset(), Preset::Pin);
    for ok in ["280417", "90357142", "509281736402"] {
        assert!(p.check(ok).is_empty(), "{ok}");
    }
    assert_eq!(p.check("28041"), vec![Violation::TooShort { min: 6, actual: 5 }]);
    assert_eq!(p.check("2804172804172"), vec![Violation::TooLong { max: 12, actual: 13 }]);
    assert_eq!(
        p.check("28a417"),
        vec![Violation::DisallowedClass { class: CharClass::Lower, allowed: CharClasses::DIGITS }]
    );
    assert_eq!(p.check("000000"), vec![Violation::Common, Violation::Repeated]);
    assert_eq!(p.check("737373"), vec![Violation::Repeated]);
    assert_eq!(p.check("246802"), vec![Violation::Sequential]);
    assert_eq!(p.check("112233"), vec![Violation::Common]);
    assert_eq!(p.check("654321"), vec![Violation::Common, Violation::Sequential]);
}

#[test]
fn passcode_preset_takes_letters_and_digits() {
    let p = Policy::passcode();
    assert!(p.check("k7m2q9").is_empty());
    assert!(p.check("Zebra42Mango").is_empty());
    assert_eq!(
        p.check("k7 m2q9"),
        vec![Violation::DisallowedClass { class: CharClass::Space, allowed: CharClasses::ALPHANUMERIC }]
    );
    assert_eq!(codes(&p.check("abc123")), ["common", "too_guessable"]);
    assert_eq!(p.check("k7m2"), vec![Violation::TooShort { min: 6, actual: 4 }]);
    assert!(
        matches!(&p.check("purple")[..], [Violation::TooGuessable { score: 0, min: 1, .. }]),
        "{:?}",
        p.check("purple")
    );
}

#[test]
fn custom_policy_enforces_the_integrators_rules() {
    let p = Policy::custom()
        .with_min_length(12)
        .with_max_length(20)
        .with_allowed(CharClasses::ALPHANUMERIC.with(CharClass::Symbol))
        .with_required([CharClass::Upper, CharClass::Digit, CharClass::Symbol].into_iter().collect())
        .with_min_score(Some(4))
        .with_blocklist(Blocklist::default().with_entries(["AcmeWallet#2024"]));
    p.validate().unwrap();
    assert!(p.check("Quartz-Falcon-93!").is_empty());
    assert_eq!(
        p.check("quartz falcon"),
        vec![
            Violation::DisallowedClass {
                class: CharClass::Space,
                allowed: CharClasses::ALPHANUMERIC.with(CharClass::Symbol)
            },
            Violation::MissingClass { class: CharClass::Upper },
            Violation::MissingClass { class: CharClass::Digit },
            Violation::MissingClass { class: CharClass::Symbol },
            Violation::TooGuessable { score: 3, min: 4, warning: None },
        ]
    );
    // zxcvbn scores these 4 (it does not know the integrator's list): only the blocklist catches them.
    assert_eq!(
        p.check("acmewallet#2024"),
        vec![Violation::MissingClass { class: CharClass::Upper }, Violation::Common]
    );
    assert_eq!(p.check("AcmeWallet#2024"), vec![Violation::Common]);
}

#[test]
fn any_other_text_passes_a_custom_policy_without_a_score() {
    let p = Policy::custom();
    assert!(p.check("x").is_empty());
    assert!(p.check("\u{4e2d}\u{6587}\u{5bc6}\u{7801}").is_empty());
    assert_eq!(CharClass::of('\u{4e2d}'), CharClass::Other);
}

#[test]
fn length_counts_characters_after_normalization_not_bytes() {
    let p = Policy::custom().with_min_length(4).with_max_length(4).with_patterns(false);
    // Four characters, whether é is typed composed (2 bytes) or decomposed (2 code points).
    assert!(p.check("\u{e9}t\u{e9}s").is_empty());
    assert!(p.check("e\u{301}te\u{301}s").is_empty());
}

#[test]
fn empty_and_control_characters_are_their_own_violations() {
    for p in [Policy::password(), Policy::pin(), Policy::passcode(), Policy::custom()] {
        assert_eq!(p.check(""), vec![Violation::Empty]);
        assert_eq!(p.check("abc\ndef1234"), vec![Violation::InvalidCharacter]);
    }
}

#[test]
fn user_ids_inside_the_password_are_refused() {
    let p = Policy::custom();
    assert_eq!(
        p.check_with_inputs("xxDanaScully99", &["dana.scully@fbi.gov", "danascully"]),
        vec![Violation::ContainsUserId]
    );
    assert_eq!(p.check_with_inputs("dana.scully@fbi.gov!", &["dana.scully@fbi.gov"]), vec![Violation::ContainsUserId]);
    // Ids under 4 characters are too short to match meaningfully.
    assert!(p.check_with_inputs("bobcat in the snow", &["bob"]).is_empty());
}

#[test]
fn every_violation_has_a_message_and_a_stable_code() {
    let all = [
        Violation::Empty,
        Violation::InvalidCharacter,
        Violation::TooShort { min: 8, actual: 3 },
        Violation::TooLong { max: 12, actual: 13 },
        Violation::DisallowedClass { class: CharClass::Symbol, allowed: CharClasses::DIGITS },
        Violation::MissingClass { class: CharClass::Upper },
        Violation::Common,
        Violation::Repeated,
        Violation::Sequential,
        Violation::ContainsUserId,
        Violation::TooGuessable { score: 1, min: 3, warning: Some("This is a very common password.".into()) },
    ];
    let codes: std::collections::BTreeSet<&str> = all.iter().map(Violation::code).collect();
    assert_eq!(codes.len(), all.len(), "codes are distinct");
    let msgs: Vec<String> = all.iter().map(ToString::to_string).collect();
    assert_eq!(msgs[2], "Use at least 8 characters (now 3).");
    assert_eq!(msgs[3], "Use at most 12 characters (now 13).");
    assert_eq!(msgs[4], "Use only digits; symbols are not allowed.");
    assert_eq!(msgs[5], "Include at least one of the upper-case letters.");
    assert_eq!(
        msgs[10],
        "This is too easy to guess (strength 1 of 4; at least 3 is needed). This is a very common password."
    );
    for m in &msgs {
        assert!(m.ends_with('.') && m.chars().next().unwrap().is_uppercase(), "{m}");
    }
}

#[test]
fn messages_never_contain_the_password() {
    let p = Policy::custom().with_min_length(30).with_min_score(Some(4));
    for secret in ["Zq9#xx", "ZQZQZQZQ", "qwertyuiop", "hunter2hunter2"] {
        for v in p.check(secret) {
            assert!(!v.to_string().contains(secret), "{v}");
        }
        let e = p.enforce(secret, &[]).unwrap_err();
        assert!(!format!("{e} {e:?} {e:#}").contains(secret), "{e:?}");
    }
}

#[test]
fn enforce_returns_policy_violation_with_the_violations_as_source() {
    let e = Policy::pin().enforce("1111", &[]).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::PolicyViolation);
    let v = e.source_ref().unwrap().downcast_ref::<PolicyViolations>().unwrap();
    assert_eq!(v.violations(), &[Violation::TooShort { min: 6, actual: 4 }, Violation::Common, Violation::Repeated]);
    assert!(e.message().contains("too_short, common, repeated"), "{e}");
    assert!(Policy::pin().enforce("280417", &[]).is_ok());
}

#[test]
fn inconsistent_policies_fail_validation() {
    for bad in [
        Policy::custom().with_min_length(0),
        Policy::custom().with_min_length(10).with_max_length(9),
        Policy::custom().with_max_length(5000),
        Policy::custom().with_allowed(CharClasses::NONE),
        Policy::pin().with_required(CharClasses::NONE.with(CharClass::Upper)),
        Policy::custom().with_min_score(Some(5)),
    ] {
        assert_eq!(bad.validate().unwrap_err().kind(), &ErrorKind::InvalidInput, "{bad:?}");
    }
    for good in [Policy::password(), Policy::pin(), Policy::passcode(), Policy::custom()] {
        good.validate().unwrap();
    }
}

#[test]
fn the_builtin_blocklist_is_case_insensitive_and_can_be_dropped() {
    assert!(BUILTIN_BLOCKLIST.len() > 100);
    let b = Blocklist::default();
    assert!(b.contains("QWERTY") && b.contains("qwerty") && b.contains("000000"));
    let p = Policy::custom().with_blocklist(Blocklist::empty()).with_patterns(false);
    assert!(p.check("qwerty").is_empty());
    assert!(p.check("000000").is_empty());
}

#[test]
fn presets_parse_from_their_names() {
    for (name, preset) in [
        ("password", Preset::Password),
        ("pin", Preset::Pin),
        ("passcode", Preset::Passcode),
        ("custom", Preset::Custom),
    ] {
        assert_eq!(name.parse::<Preset>().unwrap(), preset);
        assert_eq!(Policy::from_preset(preset).preset().name(), name);
    }
    assert!("PIN".parse::<Preset>().is_err());
}

#[test]
fn policy_debug_shows_rules_not_blocklist_entries() {
    let d = format!("{:?}", Policy::password().with_blocklist(Blocklist::default().with_entries(["s3cret-entry"])));
    assert!(d.contains("preset: \"password\""), "{d}");
    assert!(!d.contains("s3cret-entry"), "{d}");
}
