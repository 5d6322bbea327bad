//! The jobs table as operators read it, from the JSON the admin listener writes.

use gantry_actors::ports::jobs::{AttemptOutcome, JobState};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::{job_detail, jobs_header};
use crate::cli::admin_client::types::{Attempt, Job, JobDetail};

fn at(text: &str) -> OffsetDateTime {
    OffsetDateTime::parse(text, &Rfc3339).expect("an RFC 3339 test instant")
}

fn id(text: &str) -> Uuid {
    Uuid::parse_str(text).expect("a test id")
}

/// A discarded job with one failed attempt, as `GET /admin/jobs/{id}` writes it (the server's own type).
fn served() -> String {
    let job = Job {
        id: id("0190a0b0-0000-7000-8000-000000000001"),
        state: JobState::Discarded,
        attempt: 3,
        max_attempts: 3,
        created_at: at("2026-12-06T22:28:17.5Z"),
        error: Some("drill failure on attempt 3".into()),
        ..Job::new("drill.fail", Some("admin".into()))
    };
    let attempts = vec![Attempt {
        attempt: 2,
        instance_id: id("0190a0b0-0000-7000-8000-0000000000aa"),
        started_at: at("2026-12-06T22:28:18Z"),
        finished_at: at("2026-12-06T22:28:19.25Z"),
        outcome: AttemptOutcome::Failed,
        error: Some("drill failure on attempt 2".into()),
    }];
    serde_json::to_string(&gantry_actors::jobs::JobDetail { job, attempts }).expect("serializes")
}

/// `gantry jobs show` prints the header, the job's row and an attempt line exactly as the table always did:
/// padded columns, the tries and the attempt number unpadded, instants as the instance wrote them.
#[test]
fn a_job_prints_as_the_table_always_did() {
    let detail: JobDetail = serde_json::from_str(&served()).expect("the CLI reads the server's job");
    let printed = format!("{}\n{}", jobs_header(), job_detail(&detail));
    assert_eq!(
        printed,
        "id                                    kind                queue        state        tries  created                      error\n\
         0190a0b0-0000-7000-8000-000000000001  drill.fail          default      discarded  3/3  2026-12-06T22:28:17.5Z       drill failure on attempt 3\n  \
         attempt 2  failed         instance 0190a0b0-0000-7000-8000-0000000000aa  2026-12-06T22:28:18Z → 2026-12-06T22:28:19.25Z  drill failure on attempt 2\n"
    );
}
