//! The rotation evidence as operators read it, from the JSON the admin listener writes.

use gantry_actors::ports::rotations::RotationRecord;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::{rotation_evidence, rotation_line, rotations_header};

/// A rotation record as `GET /admin/rotations/{id}` writes it, with `detail`.
fn record(detail: serde_json::Value) -> RotationRecord {
    RotationRecord {
        id: Uuid::parse_str("0190a0b0-0000-7000-8000-000000000001").expect("a test id"),
        kind: "rotation".into(),
        deployment_id: Some("deploy-7".into()),
        commit_sha: Some("cafe123".into()),
        requested_by: "cli".into(),
        outcome: "failed".into(),
        failed_step: Some("smoke".into()),
        reason: Some("smoke failed: login 401".into()),
        detail,
        started_at: OffsetDateTime::parse("2026-12-06T22:28:17Z", &Rfc3339).expect("a test instant"),
        finished_at: None,
    }
}

/// The row keeps its columns, and a record without a failed step or deployment shows `-` for them.
#[test]
fn a_rotation_row_pads_its_columns_and_dashes_what_is_missing() {
    let failed = record(json!({}));
    let clean = RotationRecord {
        kind: "rollback".into(),
        outcome: "succeeded".into(),
        failed_step: None,
        deployment_id: None,
        ..record(json!({}))
    };
    assert_eq!(
        rotations_header(),
        "id                                    kind      outcome    failed at   deployment        started"
    );
    assert_eq!(
        rotation_line(&failed),
        "0190a0b0-0000-7000-8000-000000000001  rotation  failed     smoke       deploy-7          2026-12-06T22:28:17Z"
    );
    assert_eq!(
        rotation_line(&clean),
        "0190a0b0-0000-7000-8000-000000000001  rollback  succeeded  -           -                 2026-12-06T22:28:17Z"
    );
}

/// `gantry rotations show` lists the reason, every version change by instance (a missing fingerprint as `-`),
/// the smoke result and the session notice, after sending the record through JSON as the server does.
#[test]
fn the_evidence_lists_changes_smoke_and_notice() {
    let detail = json!({
        "steps": [],
        "changes": {"0190a0b0-0000-7000-8000-0000000000aa": [
            {"name": "JWT_SECRET", "action": "staged", "from": null, "to": "fp:new", "at": "2026-12-06T22:28:18Z"},
            {"name": "JWT_SECRET", "action": "promoted", "from": "fp:old", "to": "fp:new", "at": "2026-12-06T22:28:19Z"}
        ]},
        "smoke": {"ok": true, "runbook": {"ok": true, "steps": []}},
        "notice": {"id": "0190a0b0-0000-7000-8000-0000000000bb", "not_before_ms": 1_796_596_099_000_i64}
    });
    let sent = serde_json::to_string(&record(detail)).expect("serializes");
    let read: RotationRecord = serde_json::from_str(&sent).expect("the CLI reads the server's record");
    assert_eq!(
        rotation_evidence(&read),
        "0190a0b0-0000-7000-8000-000000000001  rotation  failed     smoke       deploy-7          2026-12-06T22:28:17Z\n\
         reason: smoke failed: login 401\n\
         instance 0190a0b0-0000-7000-8000-0000000000aa  JWT_SECRET staged  - → fp:new  at 2026-12-06T22:28:18Z\n\
         instance 0190a0b0-0000-7000-8000-0000000000aa  JWT_SECRET promoted  fp:old → fp:new  at 2026-12-06T22:28:19Z\n\
         smoke: passed\n\
         sessions revoked before 1796596099000 ms (notice 0190a0b0-0000-7000-8000-0000000000bb)\n"
    );
}

/// A record whose detail says nothing (a rotation that stopped before the smoke step) shows the smoke as not
/// run and no notice, rather than failing.
#[test]
fn an_empty_detail_shows_smoke_not_run() {
    let evidence = rotation_evidence(&RotationRecord { reason: None, ..record(json!(null)) });
    assert!(evidence.ends_with("\nsmoke: failed or not run\n"), "{evidence}");
    assert_eq!(evidence.lines().count(), 2, "{evidence}");
}
