//! The password UI's helpers (the seed: "Create a UI for password input.
//! Enforce password requirements"), and KDF calibration.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use share_backup_core::Settings;
use share_backup_password::{PasswordProvider, Policy};

use crate::error::{PasswordViolation, ShareBackupError};

/// How hard a password is to guess (zxcvbn), for a strength meter.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Strength {
    /// 0 (trivial) to 4 (very hard to guess).
    pub score: u8,
    /// `very weak`, `weak`, `fair`, `strong` or `very strong`.
    pub label: String,
    /// Time an offline attacker needs, in words (`3 hours`, `centuries`).
    pub offline_time: String,
    /// Generic suggestions (never the text).
    pub suggestions: Vec<String>,
}

/// The result of checking a password as it is typed.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct PasswordCheck {
    /// True when the password meets every requirement.
    pub ok: bool,
    /// The broken requirements, in a stable order.
    pub violations: Vec<PasswordViolation>,
    /// The strength estimate.
    pub strength: Strength,
}

/// The requirements of the `password` method under some settings (the
/// registry's `password` settings: `policy`, `min_length`, ...). Build it
/// once per screen and call [`PasswordPolicy::check`] on every keystroke.
#[derive(Debug, uniffi::Object)]
pub struct PasswordPolicy {
    policy: Policy,
}

#[uniffi::export]
impl PasswordPolicy {
    /// The policy of the `password` provider built with `settings`.
    ///
    /// # Errors
    /// `InvalidInput` for an unknown key or a value that does not parse.
    #[uniffi::constructor]
    pub fn new(settings: HashMap<String, String>) -> Result<Arc<Self>, ShareBackupError> {
        let p = PasswordProvider::from_settings(&Settings::from_pairs(settings))?;
        Ok(Arc::new(PasswordPolicy { policy: p.policy().clone() }))
    }

    /// The requirements, one line each, for the UI.
    pub fn requirements(&self) -> Vec<String> {
        self.policy.requirements()
    }

    /// Checks `input` for `user_id` (cheap: no key derivation).
    pub fn check(&self, input: String, user_id: String) -> PasswordCheck {
        let mut input = zeroize::Zeroizing::new(input);
        let inputs: Vec<&str> = if user_id.is_empty() { Vec::new() } else { vec![user_id.as_str()] };
        let violations: Vec<PasswordViolation> =
            self.policy.check_with_inputs(&input, &inputs).iter().map(Into::into).collect();
        let s = share_backup_password::strength(&input, &inputs);
        input.clear();
        PasswordCheck {
            ok: violations.is_empty(),
            violations,
            strength: Strength {
                score: s.score,
                label: s.label.to_owned(),
                offline_time: s.offline_time,
                suggestions: s.suggestions,
            },
        }
    }
}

/// The password requirements under `settings`, one line each.
///
/// # Errors
/// `InvalidInput` for bad settings.
#[uniffi::export]
pub fn password_requirements(settings: HashMap<String, String>) -> Result<Vec<String>, ShareBackupError> {
    Ok(PasswordPolicy::new(settings)?.requirements())
}

/// Checks a password as it is typed: the broken requirements and the
/// strength. Cheap enough for every keystroke.
///
/// # Errors
/// `InvalidInput` for bad settings.
#[uniffi::export]
pub fn check_password(
    settings: HashMap<String, String>,
    input: String,
    user_id: String,
) -> Result<PasswordCheck, ShareBackupError> {
    Ok(PasswordPolicy::new(settings)?.check(input, user_id))
}

/// The KDF costs that calibration picked on this device.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Calibration {
    /// KDF blocks per thread (the `space_cost` setting).
    pub space_cost: u32,
    /// Mixing rounds (`time_cost`).
    pub time_cost: u32,
    /// Threads (`parallelism`).
    pub parallelism: u8,
    /// How long one derivation took here, in milliseconds.
    pub measured_ms: u64,
}

/// Picks KDF costs so one derivation takes about `target_ms` here (runs a
/// few derivations, about twice the target, off the caller's thread). Pass
/// the result as the `password` provider's settings.
///
/// # Errors
/// `InvalidInput` for a zero target.
#[uniffi::export]
pub async fn calibrate(target_ms: u64) -> Result<Calibration, ShareBackupError> {
    crate::runtime::spawn(async move {
        let c = tokio::task::spawn_blocking(move || share_backup_password::calibrate(Duration::from_millis(target_ms)))
            .await
            .map_err(|_| ShareBackupError::new(crate::error::ErrorKind::Internal, "calibration panicked"))??;
        Ok(Calibration {
            space_cost: c.params.space_cost(),
            time_cost: c.params.time_cost(),
            parallelism: c.params.parallelism(),
            measured_ms: u64::try_from(c.measured.as_millis()).unwrap_or(u64::MAX),
        })
    })
    .await
}
