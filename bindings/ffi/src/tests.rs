//! Rust-side tests of the conversions: every core kind crosses the
//! boundary and back, the typed fields survive, and nothing secret is
//! printed by the records' Debug (what Python's repr and Kotlin's
//! toString show, through the exported Debug/Display).

use std::collections::HashMap;

use share_backup_core::{Error as CoreError, ErrorKind as CoreKind};

use crate::api::{CallConfigs, NotifierConfig, StoreConfig};
use crate::error::{ErrorKind, ShareBackupError};
use crate::foreign::SealedKey;

const ALL_CORE: &[CoreKind] = &[
    CoreKind::InvalidInput,
    CoreKind::PolicyViolation,
    CoreKind::InvalidEnvelope,
    CoreKind::Integrity,
    CoreKind::WrongSecret,
    CoreKind::NotFound,
    CoreKind::Unauthenticated,
    CoreKind::PermissionDenied,
    CoreKind::RateLimited,
    CoreKind::Unavailable,
    CoreKind::ExcessiveWork { required: 7, max: 3 },
    CoreKind::Unsupported,
    CoreKind::InProgress,
    CoreKind::Conflict,
    CoreKind::UnknownMethod,
    CoreKind::NoDefaultProvider,
    CoreKind::DuplicateRegistration,
    CoreKind::Cancelled,
    CoreKind::Internal,
];

#[test]
fn every_core_kind_crosses_the_boundary_and_back_with_its_figures() {
    let mut seen = std::collections::HashSet::new();
    for k in ALL_CORE {
        let e = ShareBackupError::from(CoreError::new(k.clone(), "boom"));
        let ShareBackupError::Failed { kind, retryable, required_work, max_work, .. } = &e;
        assert!(seen.insert(*kind), "{k:?} maps to a kind another core kind maps to");
        assert_eq!(*retryable, k.retryable());
        if let CoreKind::ExcessiveWork { required, max } = k {
            assert_eq!((*required_work, *max_work), (Some(*required), Some(*max)));
        }
        let back = e.clone().into_core("test");
        assert_eq!(back.kind(), k);
    }
    assert_eq!(seen.len(), ALL_CORE.len());
}

#[test]
fn policy_violations_arrive_as_typed_fields() {
    let err = share_backup_password::Policy::pin().enforce("12a", &[]).unwrap_err();
    let e = ShareBackupError::from(err);
    let ShareBackupError::Failed { kind, violations, .. } = &e;
    assert_eq!(*kind, ErrorKind::PolicyViolation);
    assert!(violations.iter().any(|v| v.code == "too_short"));
    assert!(!format!("{e:?} {e}").contains("12a"));
}

#[test]
fn records_holding_secrets_print_no_secret() {
    let secret = "s3cr3t-value-that-must-not-print";
    let configs = CallConfigs {
        password: Some(secret.into()),
        password_bytes: Some(secret.as_bytes().to_vec()),
        google_access_token: Some(secret.into()),
        google_token_source: None,
        passkey: None,
        provider_configs: HashMap::from([("m".to_owned(), HashMap::from([("k".to_owned(), secret.to_owned())]))]),
        custodian_id: None,
        client_id: None,
    };
    let portal = NotifierConfig::Portal {
        base_url: "https://api.example".into(),
        api_version: "v1".into(),
        client_api_key: secret.into(),
        allow_insecure_http: false,
    };
    let store = StoreConfig::Url {
        url: format!("s3://user:{secret}@bucket/prefix?token={secret}"),
        options: HashMap::from([("aws_secret_access_key".to_owned(), secret.to_owned())]),
    };
    let key = SealedKey { key: secret.as_bytes().to_vec(), header: vec![1] };
    for text in [
        format!("{configs:?} {configs}"),
        format!("{portal:?} {portal}"),
        format!("{store:?} {store}"),
        format!("{key:?} {key}"),
    ] {
        assert!(!text.contains(secret), "{text}");
    }
    assert!(format!("{store:?}").contains("s3://bucket/prefix"));
}

#[test]
fn an_unexpected_callback_exception_is_internal() {
    let e = ShareBackupError::from(uniffi::UnexpectedUniFFICallbackError { reason: "KeyError".into() });
    assert_eq!(e.kind(), ErrorKind::Internal);
    assert!(e.message().contains("KeyError"));
}
