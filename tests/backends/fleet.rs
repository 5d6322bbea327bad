//! The two-instance fixture of the production suites: two production-profile instances in this test process,
//! sharing the test's database, Redis, bucket and (unless the test says otherwise) bus exchange. Each has a fixed
//! instance id, as operators set them (`instance_id`, `GANTRY_INSTANCE_ID`).

use secrecy::SecretString;
use tokio::sync::oneshot;

use crate::production::{Backends, readiness, start_in_bucket};

/// A started instance: its public base URL, its admin base URL and its stop switch.
pub(crate) type Started = (String, String, oneshot::Sender<()>);

/// Whether the two instances hear each other's bus messages.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Buses {
    /// One exchange: what one instance publishes, the other receives.
    Shared,
    /// An exchange each: the instances share only the stores (a lost bus message).
    Separate,
}

/// Two instances on `database` and the test services with `extra_toml` added to each one's settings, their
/// objects in one fresh bucket named after `name`; returns once each reports its bus up (or after readiness's
/// wait, for the caller's assertions to tell).
pub(crate) async fn two_instances(
    database: &SecretString,
    b: &Backends,
    name: &str,
    extra_toml: &str,
    buses: Buses,
) -> (Started, Started) {
    // Names no other test or run uses (a bucket name stays under S3's 63 characters for short `name`s).
    let unique = format!("{name}-{}", uuid::Uuid::new_v4().simple());
    let bucket = format!("gantry-{unique}");
    let exchange = |instance: &str| match buses {
        Buses::Shared => format!("gantry.events.test-{unique}"),
        Buses::Separate => format!("gantry.events.test-{unique}-{instance}"),
    };
    let with_id = || format!("instance_id = \"{}\"\n{extra_toml}", uuid::Uuid::now_v7());
    let first = start_in_bucket(database, b, &b.s3_secret, &exchange("a"), &bucket, &with_id()).await;
    let second = start_in_bucket(database, b, &b.s3_secret, &exchange("b"), &bucket, &with_id()).await;
    for http in [&first.0, &second.0] {
        readiness(http, |v| v["components"]["bus"]["status"] == "up").await;
    }
    (first, second)
}
