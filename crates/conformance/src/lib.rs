#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod harness;
pub mod leak;
mod outcome;
pub mod provider;
pub mod store;
mod suite;

pub use harness::Harness;
pub use outcome::{CaseReport, CaseResult, Failure, Outcome, Report};
pub use provider::{PROVIDER_CASES, ProviderCase};
pub use store::{STORE_CASES, StoreCase};
pub use suite::{Suite, run_provider_case, run_provider_cases, run_store_case, run_store_cases};

pub use libtest_mimic;
