//! The CLI reads what the server writes: its own types round-trip, and the free-form views take what they
//! find.

use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Job, JobDetail, NoticeSummary, ProblemDocument, RotationDetail, RotationProgress, SmokeOutcome, rfc3339};

/// A job with its attempts as the server serializes it (`gantry_actors::jobs::JobDetail`) reads back whole.
#[test]
fn a_served_job_detail_reads_back_whole() {
    let job = Job { progress: json!({"step": "stage"}), ..Job::new("secrets.rotate", Some("cli".into())) };
    let served = serde_json::to_string(&gantry_actors::jobs::JobDetail { job: job.clone(), attempts: Vec::new() })
        .expect("serializes");
    let read: JobDetail = serde_json::from_str(&served).expect("reads");
    assert_eq!((read.job, read.attempts), (job, Vec::new()));
}

/// How the server writes an instant.
#[derive(serde::Serialize)]
struct SerdeInstant(#[serde(with = "time::serde::rfc3339")] OffsetDateTime);

/// An instant prints as the server wrote it, fractions and all.
#[test]
fn instants_print_as_the_server_wrote_them() {
    for text in ["2026-12-06T22:28:17Z", "2026-12-06T22:28:17.5Z", "2026-12-06T22:28:17.123456Z"] {
        let at = OffsetDateTime::parse(text, &Rfc3339).expect("parses");
        let written = serde_json::to_value(SerdeInstant(at)).expect("serializes");
        assert_eq!(written, json!(text));
        assert_eq!(rfc3339(at), text);
    }
}

/// A rotation's progress: none before it reports; steps with a sentence or a document as detail; an odd
/// field left blank instead of failing the whole read.
#[test]
fn rotation_progress_takes_what_it_finds() {
    let silent = Job::new("secrets.rotate", None);
    assert!(RotationProgress::of(&silent).steps.is_empty());

    let reporting = Job {
        progress: json!({"step": "stage", "steps": [
            {"name": "validate", "state": "succeeded", "detail": "JWT_SECRET changes"},
            {"name": "stage", "state": "running", "detail": {"acks": {}}},
            {"name": 7, "state": "failed"}
        ]}),
        ..silent
    };
    let steps = RotationProgress::of(&reporting).steps;
    assert_eq!(steps.len(), 3);
    assert_eq!(
        (steps[0].name.as_deref(), steps[0].state.as_deref(), steps[0].detail_text()),
        (Some("validate"), Some("succeeded"), Some("JWT_SECRET changes"))
    );
    assert_eq!(steps[1].detail_text(), None);
    assert_eq!((steps[2].name.as_deref(), steps[2].state.as_deref()), (None, Some("failed")));
}

/// A rotation record's detail: the smoke result and notice when present, nothing (not an error) when the
/// detail holds something else.
#[test]
fn rotation_detail_takes_what_it_finds() {
    let detail: RotationDetail =
        serde_json::from_value(json!({"smoke": {"ok": true}, "notice": {"id": "n", "not_before_ms": 5}}))
            .expect("reads");
    assert_eq!(detail.smoke, Some(SmokeOutcome { ok: true }));
    assert_eq!(detail.notice, Some(NoticeSummary { id: Some("n".into()), not_before_ms: Some(5) }));

    let odd: RotationDetail =
        serde_json::from_value(json!({"smoke": "skipped", "changes": [], "notice": null})).expect("reads");
    assert_eq!(odd, RotationDetail::default());
}

/// A problem document reads its code and detail, and the problems of a refused template set.
#[test]
fn a_problem_document_reads_code_detail_and_template_problems() {
    let document: ProblemDocument = serde_json::from_value(json!({
        "type": "https://gantry.dev/problems/template_invalid", "title": "Unprocessable Entity", "status": 422,
        "code": "template_invalid", "detail": "the template set has problems",
        "problems": [{"template": "Cranes", "field": "jib", "code": "dependency_cycle", "message": "cycle"}]
    }))
    .expect("reads");
    assert_eq!((document.code.as_deref(), document.status), (Some("template_invalid"), Some(422)));
    let problems = document.problems.expect("problems");
    assert_eq!((problems[0].template.as_deref(), problems[0].field.as_deref()), (Some("Cranes"), Some("jib")));
}
