//! What a case says: passed, skipped (and why), or failed (which contract
//! point, and what was observed).

use std::fmt;

/// A case that ran to the end.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Every check held.
    Passed,
    /// The case does not apply (capabilities, harness), with the reason.
    Skipped {
        /// Why it was skipped.
        reason: String,
    },
    /// Every check that applied held, but some checks of the case did not
    /// apply: each entry names the check and says why (for example
    /// `delete_key` on a provider whose capabilities say it does not delete).
    /// Counts as passed; the reports list the entries.
    PartlySkipped {
        /// The checks that did not run, each with its reason.
        skipped: Vec<String>,
    },
}

impl Outcome {
    /// A skip with this reason.
    pub fn skipped(reason: impl Into<String>) -> Self {
        Outcome::Skipped { reason: reason.into() }
    }

    /// [`Outcome::Passed`] when `skipped` is empty, else [`Outcome::PartlySkipped`].
    pub fn passed_except(skipped: Vec<String>) -> Self {
        if skipped.is_empty() { Outcome::Passed } else { Outcome::PartlySkipped { skipped } }
    }
}

/// A broken contract point.
///
/// `Display` and `Debug` both print the contract and the observation, so
/// that `case(...).await.unwrap()` in a `#[tokio::test]` reads well.
#[derive(Clone, PartialEq, Eq)]
pub struct Failure {
    contract: String,
    observed: String,
}

impl Failure {
    /// The contract point (`contract`) did not hold: `observed` says what happened instead.
    pub fn new(contract: impl Into<String>, observed: impl Into<String>) -> Self {
        Failure { contract: contract.into(), observed: observed.into() }
    }

    /// The contract point that broke.
    pub fn contract(&self) -> &str {
        &self.contract
    }

    /// What the suite saw instead.
    pub fn observed(&self) -> &str {
        &self.observed
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "contract: {}\nobserved: {}", self.contract, self.observed)
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\n{self}\n")
    }
}

impl std::error::Error for Failure {}

/// What every case returns.
pub type CaseResult = Result<Outcome, Failure>;

/// Fails with `contract` unless `cond` holds; `observed` is only built on failure.
pub(crate) fn ensure(cond: bool, contract: &str, observed: impl FnOnce() -> String) -> Result<(), Failure> {
    if cond { Ok(()) } else { Err(Failure::new(contract, observed())) }
}

/// The result of one case in a [`Report`].
#[derive(Debug)]
#[non_exhaustive]
pub struct CaseReport {
    /// The case's name (`roundtrip_1b`, `store_commit_race`, ...).
    pub case: &'static str,
    /// What was tested: the provider's method id or the store's name.
    pub subject: String,
    /// What happened.
    pub result: CaseResult,
}

/// The results of a run of cases.
#[derive(Debug, Default)]
pub struct Report {
    /// One entry per case, in the order they ran.
    pub cases: Vec<CaseReport>,
}

impl Report {
    /// The cases that failed.
    pub fn failures(&self) -> impl Iterator<Item = (&'static str, &Failure)> {
        self.cases.iter().filter_map(|c| c.result.as_ref().err().map(|f| (c.case, f)))
    }

    /// The cases that were skipped, with the reasons.
    pub fn skipped(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.cases.iter().filter_map(|c| match &c.result {
            Ok(Outcome::Skipped { reason }) => Some((c.case, reason.as_str())),
            _ => None,
        })
    }

    /// The cases that passed with some checks skipped, with what was
    /// skipped and why.
    pub fn partly_skipped(&self) -> impl Iterator<Item = (&'static str, &[String])> {
        self.cases.iter().filter_map(|c| match &c.result {
            Ok(Outcome::PartlySkipped { skipped }) => Some((c.case, skipped.as_slice())),
            _ => None,
        })
    }

    /// The result of one case, if it ran.
    pub fn get(&self, case: &str) -> Option<&CaseResult> {
        self.cases.iter().find(|c| c.case == case).map(|c| &c.result)
    }

    /// Whether no case failed.
    pub fn passed(&self) -> bool {
        self.failures().next().is_none()
    }

    /// Panics with every failure when a case failed.
    #[track_caller]
    pub fn assert_passed(&self) {
        assert!(self.passed(), "conformance failures:\n{self}");
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (mut passed, mut skipped, mut failed, mut partly) = (0, 0, 0, 0);
        for c in &self.cases {
            match &c.result {
                Ok(Outcome::Passed) => passed += 1,
                Ok(Outcome::PartlySkipped { skipped }) => {
                    passed += 1;
                    partly += 1;
                    for s in skipped {
                        writeln!(f, "partly  {} [{}]: not checked: {s}", c.case, c.subject)?;
                    }
                }
                Ok(Outcome::Skipped { reason }) => {
                    skipped += 1;
                    writeln!(f, "skipped {} [{}]: {reason}", c.case, c.subject)?;
                }
                Err(e) => {
                    failed += 1;
                    let text = e.to_string().replace('\n', "\n    ");
                    writeln!(f, "FAILED  {} [{}]:\n    {text}", c.case, c.subject)?;
                }
            }
        }
        write!(f, "{passed} passed, {failed} failed, {skipped} skipped")?;
        if partly > 0 {
            write!(f, " ({partly} passed with checks skipped)")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_lists_failures_and_skips_and_ends_with_the_counts() {
        let r = Report {
            cases: vec![
                CaseReport { case: "a", subject: "m".into(), result: Ok(Outcome::Passed) },
                CaseReport { case: "b", subject: "m".into(), result: Ok(Outcome::skipped("no secret")) },
                CaseReport { case: "c", subject: "m".into(), result: Err(Failure::new("keys differ", "they match")) },
                CaseReport {
                    case: "d",
                    subject: "m".into(),
                    result: Ok(Outcome::passed_except(vec!["the NotFound check: deletes is false".into()])),
                },
            ],
        };
        let text = r.to_string();
        assert!(text.contains("skipped b [m]: no secret"), "{text}");
        assert!(text.contains("FAILED  c [m]:\n    contract: keys differ\n    observed: they match"), "{text}");
        assert!(text.contains("partly  d [m]: not checked: the NotFound check: deletes is false"), "{text}");
        assert!(text.ends_with("2 passed, 1 failed, 1 skipped (1 passed with checks skipped)"), "{text}");
        assert_eq!(r.partly_skipped().map(|(c, s)| (c, s.len())).collect::<Vec<_>>(), vec![("d", 1)]);
        assert_eq!(Outcome::passed_except(vec![]), Outcome::Passed);
        assert!(!r.passed());
        assert_eq!(r.failures().map(|(c, _)| c).collect::<Vec<_>>(), vec!["c"]);
        let panic = std::panic::catch_unwind(|| r.assert_passed()).unwrap_err();
        assert!(panic.downcast_ref::<String>().unwrap().contains("keys differ"));
    }

    #[test]
    fn a_failure_debug_reads_like_its_display_for_unwrap() {
        let f = Failure::new("the share comes back", "it did not");
        assert_eq!(format!("{f:?}"), "\ncontract: the share comes back\nobserved: it did not\n");
    }
}
