#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod context;
mod envelope;
mod error;
mod method;
mod progress;
mod provider;
mod registry;
mod retry;
mod secret;
mod settings;

pub use context::{BackupId, Binding, ClientId, Configs, Context, CustodianId, MAX_ID_LEN, UserId};
pub use envelope::{
    AAD_DOMAIN_V1, Aead, Envelope, MAX_BODY_LEN, MAX_ENVELOPE_LEN, MAX_HEADER_LEN, PREFIX_V1, TAG_LEN, VERSION_V1,
};
pub use error::{Error, ErrorKind, GuessDetails, Result};
pub use method::{MAX_METHOD_LEN, MethodId};
pub use progress::{Progress, ProgressSink, Status};
pub use provider::{BackupProvider, BackupProviderExt, Capabilities, KeyHeader, SealedKey};
pub use registry::{
    BuildFn, DEFAULT_CHAIN, MethodInfo, Registration, RegistrationOrigin, Registry, RegistryError, linked_registrations,
};
pub use retry::{Delays, RetryPolicy};
pub use secret::{BackupShare, DataKey, fill_random};
pub use settings::{SettingSpec, Settings};

pub use async_trait::async_trait;
#[doc(hidden)]
pub use inventory;
pub use secrecy::{self, ExposeSecret, SecretString};
