//! The upload housekeeping jobs across real processes on Postgres and a private `s3s-fs` (never the shared
//! one: these tests cut it off and kill instances mid-upload): removing a failed or deleted upload's object
//! through a store outage. Part of the `production` suite.
//!
//! The store sits behind [`Proxy`], a TCP relay the test can take down and bring back, so "the store is down
//! at that moment" is a switch, not a race.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use gantry::adapters::postgres::PostgresDb;
use gantry_actors::ports::jobs::{Job, JobFilter, JobState, JobStore};
use secrecy::SecretString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use uuid::Uuid;

use crate::eventually::{Deadline, eventually, settled};
use crate::production::{Backends, backends, free_port, json, production_command, s3s_fs};
use crate::support::with_fresh_database;

/// A TCP relay in front of the private store. While down it accepts and drops every connection at once
/// (connection reset: the store is unreachable), and taking it down also cuts every open connection.
pub(crate) struct Proxy {
    pub(crate) port: u16,
    down: Arc<AtomicBool>,
    /// Bumped by every [`Proxy::cut_after_upload`]: each connection counts its bytes towards the store from the
    /// arming it saw last, so only the connection that carried the upload trips the cut (the instance's
    /// readiness probes and sweeps share the proxy).
    armings: Arc<AtomicU64>,
    /// Armed: go down right after relaying the store's answer once this many bytes went to it (0: disarmed).
    cut_after: Arc<AtomicU64>,
    /// Bumped to cut every open connection.
    generation: watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// A relay on a free port to `127.0.0.1:upstream`.
    pub(crate) async fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let down = Arc::new(AtomicBool::new(false));
        let armings = Arc::new(AtomicU64::new(0));
        let cut_after = Arc::new(AtomicU64::new(0));
        let (generation, _) = watch::channel(0u64);
        let shared = (Arc::clone(&down), Arc::clone(&armings), Arc::clone(&cut_after), generation.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else { continue };
                if shared.0.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await else { continue };
                let (down, armings, cut_after, generation) =
                    (Arc::clone(&shared.0), Arc::clone(&shared.1), Arc::clone(&shared.2), shared.3.clone());
                tokio::spawn(relay(client, server, down, armings, cut_after, generation));
            }
        });
        Self { port, down, armings, cut_after, generation, task }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Takes the store away: open connections are cut, new ones are reset.
    pub(crate) fn take_down(&self) {
        self.down.store(true, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Brings the store back.
    pub(crate) fn bring_back(&self) {
        self.down.store(false, Ordering::SeqCst);
    }

    /// Goes down right after the store answers a request that carried at least `bytes` (an upload's body):
    /// the object is stored, and whatever comes next finds the store unreachable.
    fn cut_after_upload(&self, bytes: u64) {
        self.armings.fetch_add(1, Ordering::SeqCst);
        self.cut_after.store(bytes, Ordering::SeqCst);
    }

    fn is_down(&self) -> bool {
        self.down.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        self.take_down();
    }
}

/// Relays one connection both ways until either side closes or the proxy cuts it.
async fn relay(
    client: TcpStream,
    server: TcpStream,
    down: Arc<AtomicBool>,
    armings: Arc<AtomicU64>,
    cut_after: Arc<AtomicU64>,
    generation: watch::Sender<u64>,
) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let mut cut = generation.subscribe();
    // This connection's bytes towards the store since the arming it last saw: (arming, bytes).
    let mine = Arc::new(std::sync::Mutex::new((armings.load(Ordering::SeqCst), 0u64)));
    let to_store = {
        let mine = Arc::clone(&mine);
        async move {
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n @ 1..) = client_read.read(&mut buf).await {
                {
                    let arming = armings.load(Ordering::SeqCst);
                    let mut mine = mine.lock().expect("lock");
                    if mine.0 != arming {
                        *mine = (arming, 0);
                    }
                    mine.1 += n as u64;
                }
                if server_write.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    };
    let from_store = async move {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n @ 1..) = server_read.read(&mut buf).await {
            if client_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
            let armed = cut_after.load(Ordering::SeqCst);
            let carried = mine.lock().expect("lock").1;
            if armed > 0 && carried >= armed {
                cut_after.store(0, Ordering::SeqCst);
                let _ = client_write.flush().await;
                down.store(true, Ordering::SeqCst);
                generation.send_modify(|g| *g += 1);
            }
        }
    };
    tokio::select! {
        () = to_store => {}
        () = from_store => {}
        _ = cut.changed() => {}
    }
}

/// A private `s3s-fs` over a temporary folder (its objects are files the test can see).
pub(crate) struct Store {
    pub(crate) port: u16,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) key_id: String,
    pub(crate) secret: String,
    child: Child,
}

impl Store {
    pub(crate) async fn start() -> Self {
        let port = free_port();
        let dir = tempfile::tempdir().expect("tempdir");
        let key_id = format!("gantrytest{}", &Uuid::new_v4().simple().to_string()[..8]);
        let secret = Uuid::new_v4().simple().to_string();
        let child = s3s_fs(port, dir.path(), &key_id, &secret);
        let listening = async || TcpStream::connect(("127.0.0.1", port)).await.is_ok();
        settled(Deadline::ms(5_000, 50), listening, |up| *up).await;
        Self { port, dir, key_id, secret, child }
    }

    /// Where `s3s-fs` keeps the object `key` of `bucket`.
    pub(crate) fn object_path(&self, bucket: &str, key: &str) -> PathBuf {
        self.dir.path().join(bucket).join(key)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One `gantry` process with its public and admin URLs.
pub(crate) struct Instance {
    pub(crate) id: Uuid,
    pub(crate) child: Child,
    pub(crate) http: String,
    pub(crate) admin: String,
}

impl Instance {
    /// A production-profile process on `s3_endpoint` (the store's or the proxy's) with quick job polling, plus
    /// `extra` settings; returns once `/healthz` answers.
    pub(crate) async fn start(
        database: &SecretString,
        b: &Backends,
        store: &Store,
        s3_endpoint: &str,
        bucket: &str,
        extra: &[(&str, &str)],
    ) -> Self {
        let id = Uuid::now_v7();
        let (port, admin_port) = (free_port(), free_port());
        let exchange = format!("gantry.events.test-{}", Uuid::new_v4().simple());
        let b = Backends {
            redis: b.redis.clone(),
            amqp: b.amqp.clone(),
            s3_endpoint: s3_endpoint.to_owned(),
            s3_key_id: store.key_id.clone(),
            s3_secret: store.secret.clone(),
        };
        let mut command = production_command(database, &b, (port, admin_port), &exchange, bucket);
        command
            .env("GANTRY_INSTANCE_ID", id.to_string())
            .env("GANTRY_JOBS__LEASE_SECS", "2")
            .env("GANTRY_JOBS__POLL_MS", "50");
        for (key, value) in extra {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("gantry binary");
        let http = format!("http://127.0.0.1:{port}");
        let healthz = async || {
            let answered = reqwest::get(format!("{http}/healthz")).await.is_ok();
            assert!(answered || child.try_wait().expect("status").is_none(), "the instance exited at start-up");
            answered
        };
        settled(Deadline::ms(30_000, 100), healthz, |answered| *answered).await;
        Self { id, child, http, admin: format!("http://127.0.0.1:{admin_port}") }
    }

    /// `kill -9`.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A guest upload token.
    pub(crate) async fn guest_token(&self, client: &reqwest::Client) -> String {
        let url = format!("{}/v1/uploads/guest-token", self.http);
        let grant = json(client.post(url).send().await.expect("req"), 200).await;
        grant["upload_token"].as_str().expect("token").to_owned()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The job store on the test's database.
pub(crate) async fn job_store(database: &SecretString) -> Arc<dyn JobStore> {
    PostgresDb::connect(database, 4).await.expect("postgres").ports().jobs
}

/// Polls until `found` returns a job `done` accepts (at most ~60 s).
pub(crate) async fn wait_for_job(jobs: &Arc<dyn JobStore>, kind: &str, what: &str, done: impl Fn(&Job) -> bool) -> Job {
    let filter = JobFilter { kind: Some(kind.to_owned()), limit: 100, ..JobFilter::default() };
    let list = async || jobs.list(&filter).await.expect("list");
    let what = format!("no {kind} job became {what}");
    let jobs = eventually(&what, Deadline::ms(60_000, 50), list, |jobs| jobs.iter().any(&done)).await;
    jobs.into_iter().find(|j| done(j)).expect("checked")
}

/// A PNG-looking body of `len` bytes.
pub(crate) fn png(len: usize) -> Vec<u8> {
    let mut v = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    v.extend((0..len.saturating_sub(8)).map(|i| u8::try_from(i % 251).expect("small")));
    v
}

fn bucket() -> String {
    format!("gantry-uj-{}", Uuid::new_v4().simple())
}

fn object_exists(path: &Path) -> bool {
    path.try_exists().expect("stat")
}

/// The store goes down right after a refused upload's bytes reached it (digest mismatch) and while the owner
/// deletes a stored upload: both answer as usual (400, 204), the bytes stay while the store is down, and
/// once it is back the `uploads.remove_object` jobs remove them — completed, after more than one attempt.
#[tokio::test]
async fn objects_left_by_a_store_outage_are_removed_when_it_is_back() {
    let Some(b) = backends() else { return };
    with_fresh_database(|database| async move {
        let store = Store::start().await;
        let proxy = Proxy::start(store.port).await;
        let bucket = bucket();
        let instance = Instance::start(&database, &b, &store, &proxy.endpoint(), &bucket, &[]).await;
        let jobs = job_store(&database).await;
        let client = reqwest::Client::new();
        let token = instance.guest_token(&client).await;
        let upload = |body: Vec<u8>, checksum: Option<String>| {
            let mut request = client
                .post(format!("{}/v1/uploads", instance.http))
                .header("x-upload-token", &token)
                .header("content-type", "image/png")
                .body(body);
            if let Some(checksum) = checksum {
                request = request.header("x-checksum-sha256", checksum);
            }
            request.send()
        };

        // A stored upload, to delete while the store is down.
        let kept = json(upload(png(50_000), None).await.expect("req"), 201).await;
        let kept_id = kept["id"].as_str().expect("id").to_owned();
        let kept_path = store.object_path(&bucket, &format!("uploads/{kept_id}"));
        assert!(object_exists(&kept_path));

        // A refused upload whose bytes reach the store just before it goes down.
        proxy.cut_after_upload(200_000);
        let refused = upload(png(300_000), Some("00".repeat(32))).await.expect("req");
        assert_eq!(json(refused, 400).await["code"], "digest_mismatch");
        assert!(proxy.is_down(), "the store went down after storing the refused bytes");
        let first = wait_for_job(&jobs, "uploads.remove_object", "retryable", |j| {
            j.state == JobState::Retryable && j.attempt == 1
        })
        .await;
        let refused_key = first.args["key"].as_str().expect("key").to_owned();
        assert!(object_exists(&store.object_path(&bucket, &refused_key)), "the refused bytes are still there");

        let deleted = client
            .delete(format!("{}/v1/uploads/{kept_id}", instance.http))
            .header("x-upload-token", &token)
            .send()
            .await
            .expect("req");
        assert_eq!(deleted.status(), 204, "the owner's delete is done for them even while the store is down");
        let gone = client
            .get(format!("{}/v1/uploads/{kept_id}", instance.http))
            .header("x-upload-token", &token)
            .send()
            .await
            .expect("req");
        assert_eq!(gone.status(), 404);
        assert!(object_exists(&kept_path), "its bytes wait for the store");

        proxy.bring_back();
        for key in [refused_key.clone(), format!("uploads/{kept_id}")] {
            let done = wait_for_job(&jobs, "uploads.remove_object", "completed", |j| {
                j.args["key"] == key.as_str() && j.state.is_terminal()
            })
            .await;
            assert_eq!(done.state, JobState::Completed, "{done:?}");
            assert!(done.attempt > 1 || key != refused_key, "retried through the outage: {done:?}");
        }
        assert!(!object_exists(&store.object_path(&bucket, &refused_key)), "the refused bytes are gone");
        assert!(!object_exists(&kept_path), "the deleted upload's bytes are gone");
        drop(instance);
    })
    .await;
}

/// An S3 client of the private store, as an operator would point one at the bucket.
fn s3_client(store: &Store) -> aws_sdk_s3::Client {
    let credentials = aws_sdk_s3::config::Credentials::new(&store.key_id, &store.secret, None, None, "test");
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .credentials_provider(credentials)
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(format!("http://127.0.0.1:{}", store.port))
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// The parts of unfinished multipart uploads in the store (s3s-fs keeps each as `.upload_id-<id>.part-<n>`).
fn parts_on_disk(store: &Store) -> usize {
    std::fs::read_dir(store.dir.path())
        .expect("store folder")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.starts_with(".upload_id-") && n.contains(".part-")))
        .count()
}

/// The multipart uploads the store still holds parts of: `ListMultipartUploads` where the store has it (S3,
/// MinIO), else the parts of the uploads Gantry recorded (`ListParts`; s3s-fs answers 501 to the listing).
async fn unfinished_uploads(store: &Store, bucket: &str, recorded: &[(String, String)]) -> usize {
    let client = s3_client(store);
    match client.list_multipart_uploads().bucket(bucket).send().await {
        Ok(listed) => listed.uploads().len(),
        Err(e) => {
            assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(501), "only an unsupported listing: {e:?}");
            let mut with_parts = 0;
            for (key, upload_id) in recorded {
                let parts = client.list_parts().bucket(bucket).key(key).upload_id(upload_id).send().await;
                if parts.is_ok_and(|p| !p.parts().is_empty()) {
                    with_parts += 1;
                }
            }
            with_parts
        }
    }
}

/// `kill -9` of the instance receiving a large upload leaves a multipart upload with its parts in the bucket;
/// another instance's periodic `uploads.abort_incomplete` job aborts it once it is older than the upload
/// deadline: the parts are gone, as an S3 client sees the bucket.
#[tokio::test]
async fn parts_left_by_a_killed_instance_are_aborted_by_the_sweep() {
    let Some(b) = backends() else { return };
    with_fresh_database(|database| async move {
        let store = Store::start().await;
        let bucket = bucket();
        let endpoint = format!("http://127.0.0.1:{}", store.port);
        let part = ("GANTRY_S3__PART_SIZE", "5242880");
        let mut receiver = Instance::start(&database, &b, &store, &endpoint, &bucket, &[part]).await;
        let client = reqwest::Client::new();
        let token = receiver.guest_token(&client).await;

        // 11 MiB without a length (so multipart: two 5 MiB parts go out), then the body waits.
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
        let body = reqwest::Body::wrap_stream(tokio_stream_of(rx));
        let request = client
            .post(format!("{}/v1/uploads", receiver.http))
            .header("x-upload-token", &token)
            .header("content-type", "image/png")
            .body(body)
            .send();
        let request = tokio::spawn(request);
        let bytes = png(11 * 1024 * 1024);
        for chunk in bytes.chunks(256 * 1024) {
            tx.send(Ok(chunk.to_vec())).await.expect("body");
        }
        let ledger = PostgresDb::connect(&database, 2).await.expect("postgres").ports().multiparts;
        let far = time::OffsetDateTime::now_utc() + Duration::from_secs(3600);
        let started = async || ledger.started_before(far, 10).await.expect("ledger");
        let recorded =
            settled(Deadline::ms(10_000, 50), started, |recorded| !recorded.is_empty() && parts_on_disk(&store) >= 2)
                .await;
        assert!(parts_on_disk(&store) >= 2, "two parts went out");
        let recorded: Vec<_> = recorded.into_iter().map(|p| (p.key, p.upload_id)).collect();
        assert_eq!(recorded.len(), 1, "the multipart upload was recorded: {recorded:?}");

        receiver.kill();
        drop(tx);
        let _ = request.await;
        assert_eq!(unfinished_uploads(&store, &bucket, &recorded).await, 1, "the crash left the upload's parts");

        let sweeper = [
            ("GANTRY_UPLOADS__TIMEOUT_SECS", "1"),
            ("GANTRY_UPLOADS__ABANDON_AFTER_SECS", "2"),
            ("GANTRY_UPLOADS__SWEEP_SECS", "1"),
            ("GANTRY_JOBS__MAINTAIN_MS", "100"),
        ];
        let _sweeper = Instance::start(&database, &b, &store, &endpoint, &bucket, &sweeper).await;
        let jobs = job_store(&database).await;
        // Whichever comes first aborts it: the periodic abort of old unfinished uploads, or the removal job of
        // the upload the sweep failed as abandoned (it aborts the unfinished writes of its key).
        let (key, _) = &recorded[0];
        let by_abort = JobFilter { kind: Some("uploads.abort_incomplete".into()), limit: 100, ..JobFilter::default() };
        let by_removal = JobFilter { kind: Some("uploads.remove_object".into()), limit: 100, ..JobFilter::default() };
        // Once a job is seen to have aborted it, that stays known while the parts are still going away.
        let mut aborted_by = None;
        let aborted = async || {
            let aborts = jobs.list(&by_abort).await.expect("list");
            let removals = jobs.list(&by_removal).await.expect("list");
            if aborts
                .iter()
                .any(|j| j.state == JobState::Completed && j.result.as_ref().is_some_and(|r| r["aborted"] == 1))
            {
                aborted_by = Some("uploads.abort_incomplete");
            } else if removals.iter().any(|j| j.state == JobState::Completed && j.args["key"] == key.as_str()) {
                aborted_by = Some("uploads.remove_object");
            }
            (aborted_by, parts_on_disk(&store))
        };
        let (aborted_by, _) =
            settled(Deadline::ms(60_000, 100), aborted, |(by, parts)| by.is_some() && *parts == 0).await;
        assert!(aborted_by.is_some(), "a housekeeping job aborted the upload");
        assert_eq!(parts_on_disk(&store), 0, "the parts are gone");
        assert_eq!(unfinished_uploads(&store, &bucket, &recorded).await, 0);
        assert!(ledger.started_before(far, 10).await.expect("ledger").is_empty(), "and forgotten");
    })
    .await;
}

/// The items of `rx` as a stream (a request body the test feeds and then leaves hanging).
fn tokio_stream_of(
    rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) })
}

/// The S3 adapter aborts a recorded multipart upload once it is older than the cut-off, and only then: a
/// younger one (an upload that may be in progress) is kept; the aborted one is forgotten, and aborting what
/// the store no longer knows counts nothing.
#[tokio::test]
async fn s3_abort_incomplete_aborts_recorded_uploads_older_than_the_cut_off() {
    use gantry::adapters::s3::{S3ObjectStore, S3Settings};
    use gantry::adapters::sqlite::SqliteDb;
    use gantry_actors::ports::objects::{ObjectStore, PendingMultipart};
    if backends().is_none() {
        return;
    }
    let store = Store::start().await;
    let bucket = bucket();
    let dir = tempfile::tempdir().expect("tempdir");
    let db = SqliteDb::open(&dir.path().join("gantry.db")).await.expect("sqlite");
    let ledger = db.ports().multiparts;
    let objects = S3ObjectStore::connect(S3Settings {
        endpoint: format!("http://127.0.0.1:{}", store.port),
        bucket: bucket.clone(),
        region: "us-east-1".to_owned(),
        access_key_id: store.key_id.clone(),
        secret_access_key: SecretString::from(store.secret.clone()),
        part_size: S3Settings::DEFAULT_PART_SIZE,
        create_bucket: true,
    })
    .await
    .expect("connect")
    .with_ledger(Arc::clone(&ledger));
    objects.health().await.expect("bucket");
    // A multipart upload with one part, as a process that died mid-upload leaves it.
    let client = s3_client(&store);
    let key = "uploads/left-by-a-crash";
    let created = client.create_multipart_upload().bucket(&bucket).key(key).send().await.expect("create");
    let upload_id = created.upload_id().expect("id").to_owned();
    let part = aws_sdk_s3::primitives::ByteStream::from(vec![7u8; 1024]);
    client
        .upload_part()
        .bucket(&bucket)
        .key(key)
        .upload_id(&upload_id)
        .part_number(1)
        .body(part)
        .send()
        .await
        .expect("part");
    let started_at = time::OffsetDateTime::now_utc();
    let pending = PendingMultipart { key: key.to_owned(), upload_id: upload_id.clone(), started_at };
    ledger.record(&pending).await.expect("record");
    let recorded = [(key.to_owned(), upload_id.clone())];

    let too_young = objects.abort_incomplete(started_at - Duration::from_secs(60)).await.expect("abort");
    let still_there = unfinished_uploads(&store, &bucket, &recorded).await;
    let aborted = objects.abort_incomplete(started_at + Duration::from_secs(1)).await.expect("abort");

    assert_eq!((too_young, still_there), (0, 1), "an upload younger than the cut-off stays");
    assert_eq!(aborted, 1);
    assert_eq!(unfinished_uploads(&store, &bucket, &recorded).await, 0, "its parts are gone");
    assert_eq!(parts_on_disk(&store), 0);
    let far = started_at + Duration::from_secs(3600);
    assert!(ledger.started_before(far, 10).await.expect("ledger").is_empty(), "and it is forgotten");
    ledger.record(&pending).await.expect("record again");
    assert_eq!(
        objects.abort_incomplete(far).await.expect("abort"),
        0,
        "an upload the store no longer knows counts nothing"
    );
    db.close().await;
}

/// `kill -9` of the instance receiving an upload: another instance's sweep fails the upload as `abandoned`
/// within seconds of the receiver's heartbeat going stale (here a 3 s window), not after the hour-long
/// abandon deadline, which stays at its default.
#[tokio::test]
async fn an_upload_of_a_killed_instance_is_failed_once_its_heartbeat_is_stale() {
    use gantry_actors::ports::uploads::UploadStatus;
    let Some(b) = backends() else { return };
    with_fresh_database(|database| async move {
        let store = Store::start().await;
        let bucket = bucket();
        let endpoint = format!("http://127.0.0.1:{}", store.port);
        let fleet = [
            ("GANTRY_ROTATION__HEARTBEAT_SECS", "1"),
            ("GANTRY_ROTATION__LIVE_WITHIN_SECS", "3"),
            ("GANTRY_UPLOADS__SWEEP_SECS", "1"),
            ("GANTRY_JOBS__MAINTAIN_MS", "100"),
        ];
        let mut receiver = Instance::start(&database, &b, &store, &endpoint, &bucket, &fleet).await;
        let _sweeper = Instance::start(&database, &b, &store, &endpoint, &bucket, &fleet).await;
        let ports = PostgresDb::connect(&database, 2).await.expect("postgres").ports();
        let client = reqwest::Client::new();
        let token = receiver.guest_token(&client).await;

        // An upload whose body starts and then waits.
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
        let request = client
            .post(format!("{}/v1/uploads", receiver.http))
            .header("x-upload-token", &token)
            .header("content-type", "image/png")
            .body(reqwest::Body::wrap_stream(tokio_stream_of(rx)))
            .send();
        let request = tokio::spawn(request);
        tx.send(Ok(png(64 * 1024))).await.expect("body");
        let receiving = wait_for_job(&ports.jobs, "upload", "running", |j| j.state == JobState::Running).await;
        let record = ports.uploads.get_upload(receiving.id).await.expect("get").expect("recorded");
        assert_eq!((record.status, record.received_by), (UploadStatus::Receiving, Some(receiver.id)));

        receiver.kill();
        drop(tx);
        let _ = request.await;
        let failed = wait_for_job(&ports.jobs, "upload", "discarded", |j| {
            j.id == receiving.id && j.state == JobState::Discarded
        })
        .await;
        assert_eq!(failed.error.as_deref(), Some("abandoned"));
        let record = ports.uploads.get_upload(receiving.id).await.expect("get").expect("kept");
        // Within `wait_for_job`'s minute, with `uploads.abandon_after_secs` at its default of an hour.
        assert_eq!((record.status, record.error.as_deref()), (UploadStatus::Failed, Some("abandoned")));
    })
    .await;
}
