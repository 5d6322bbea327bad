//! Whether the fleet agrees on its keys (the runbook's "check the fleet" step, issue 21): the fingerprints every
//! live instance reported with its heartbeat, compared per secret and state. Pure: no I/O.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use uuid::Uuid;

use crate::ports::rotations::SeenInstance;

/// One secret version the instances do not agree on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Disagreement {
    /// The variable (`JWT_SECRET`, …).
    pub name: String,
    /// `current`, `pending` or `previous`.
    pub state: String,
    /// Each reporting instance's fingerprint for it (`None`: that instance has no such version).
    pub fingerprints: BTreeMap<Uuid, Option<String>>,
}

/// The verdict over a fleet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Agreement {
    /// At least one instance is listed, every one reported, and all hold the same fingerprint for every secret
    /// and state.
    pub agrees: bool,
    /// The secret versions they differ on, by name then state.
    pub disagreements: Vec<Disagreement>,
    /// The instances that wrote no report (an older version): the fleet cannot be said to agree while any is live.
    pub unreported: Vec<Uuid>,
}

/// One reporting instance's fingerprints by (secret, state).
type Versions<'a> = BTreeMap<(&'a str, &'a str), &'a str>;

/// Compares the fingerprints of `instances`: a secret version differs when two reporting instances hold
/// different fingerprints for it, or one holds it and another does not.
#[must_use]
pub fn compare(instances: &[SeenInstance]) -> Agreement {
    let reported: Vec<(Uuid, Versions<'_>)> = instances
        .iter()
        .filter_map(|i| {
            let report = i.report.as_ref()?;
            let versions =
                report.secrets.iter().map(|s| ((s.name.as_str(), s.state.as_str()), s.fingerprint.as_str())).collect();
            Some((i.id, versions))
        })
        .collect();
    let unreported: Vec<Uuid> = instances.iter().filter(|i| i.report.is_none()).map(|i| i.id).collect();
    let keys: BTreeSet<(&str, &str)> = reported.iter().flat_map(|(_, versions)| versions.keys().copied()).collect();
    let mut disagreements = Vec::new();
    for (name, state) in keys {
        let fingerprints: BTreeMap<Uuid, Option<String>> = reported
            .iter()
            .map(|(id, versions)| (*id, versions.get(&(name, state)).map(|f| (*f).to_owned())))
            .collect();
        let distinct: BTreeSet<&Option<String>> = fingerprints.values().collect();
        if distinct.len() > 1 {
            disagreements.push(Disagreement { name: name.to_owned(), state: state.to_owned(), fingerprints });
        }
    }
    // No instance at all is no evidence of agreement: heartbeats are not being written.
    let agrees = !instances.is_empty() && disagreements.is_empty() && unreported.is_empty();
    Agreement { agrees, disagreements, unreported }
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;
    use crate::ports::rotations::{InstanceReport, ReportedSecret};

    fn instance(n: u128, secrets: &[(&str, &str, &str)]) -> SeenInstance {
        SeenInstance {
            id: Uuid::from_u128(n),
            last_heartbeat: OffsetDateTime::UNIX_EPOCH,
            age_ms: 0,
            report: Some(InstanceReport {
                version: "0.1.0".into(),
                started_at: OffsetDateTime::UNIX_EPOCH,
                status: "ready".into(),
                components: BTreeMap::new(),
                secrets: secrets
                    .iter()
                    .map(|(name, state, fingerprint)| ReportedSecret {
                        name: (*name).into(),
                        state: (*state).into(),
                        version: 1,
                        fingerprint: (*fingerprint).into(),
                    })
                    .collect(),
            }),
        }
    }

    /// Instances holding the same fingerprints agree; one instance alone agrees with itself.
    #[test]
    fn same_fingerprints_agree() {
        let a = instance(1, &[("JWT_SECRET", "current", "aaa"), ("JWT_SECRET", "previous", "bbb")]);
        let b = instance(2, &[("JWT_SECRET", "previous", "bbb"), ("JWT_SECRET", "current", "aaa")]);
        assert_eq!(compare(&[a.clone(), b]), Agreement { agrees: true, disagreements: vec![], unreported: vec![] });
        assert!(compare(&[a]).agrees);
        assert!(!compare(&[]).agrees, "an empty fleet is not said to agree");
    }

    /// A different fingerprint, or a version one instance lacks (a pending staged on one only), is a
    /// disagreement naming every instance's value.
    #[test]
    fn differing_or_missing_versions_disagree() {
        let a = instance(1, &[("JWT_SECRET", "current", "aaa"), ("JWT_SECRET", "pending", "ccc")]);
        let b = instance(2, &[("JWT_SECRET", "current", "abc")]);
        let verdict = compare(&[a, b]);
        assert!(!verdict.agrees);
        let found: Vec<(&str, &str)> =
            verdict.disagreements.iter().map(|d| (d.name.as_str(), d.state.as_str())).collect();
        assert_eq!(found, vec![("JWT_SECRET", "current"), ("JWT_SECRET", "pending")]);
        assert_eq!(verdict.disagreements[1].fingerprints[&Uuid::from_u128(2)], None);
        assert_eq!(verdict.disagreements[0].fingerprints[&Uuid::from_u128(1)].as_deref(), Some("aaa"));
    }

    /// An instance that wrote no report is listed, and the fleet is not said to agree.
    #[test]
    fn an_unreported_instance_keeps_the_verdict_open() {
        let a = instance(1, &[("JWT_SECRET", "current", "aaa")]);
        let mut b = instance(2, &[]);
        b.report = None;
        let verdict = compare(&[a, b]);
        assert!(!verdict.agrees && verdict.disagreements.is_empty());
        assert_eq!(verdict.unreported, vec![Uuid::from_u128(2)]);
    }
}
