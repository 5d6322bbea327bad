//! Upload throughput: the same bytes uploaded directly with aws-sdk-s3 and through Gantry to the same
//! S3-compatible server, in one run. Used by `bench/upload.sh`, which starts the server and Gantry.
//!
//! `upload_bench direct ENDPOINT BUCKET KEY_ID SECRET MIB` — one PutObject of MIB mebibytes.
//! `upload_bench gantry BASE_URL ACCESS_TOKEN MIB` — one `POST /v1/uploads`, body streamed in 64 KiB chunks.
//! Each prints `seconds=… mib_per_s=…`.

use std::time::{Duration, Instant};

use anyhow::Context;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use bytes::Bytes;

const CHUNK: usize = 64 * 1024;

/// A PNG header then a deterministic pattern: the same bytes for both paths.
fn chunk(i: usize) -> Bytes {
    let mut v: Vec<u8> = (0..CHUNK).map(|j| u8::try_from((i * 31 + j) % 251).unwrap_or(0)).collect();
    if i == 0 {
        v[..8].copy_from_slice(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]);
    }
    Bytes::from(v)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (elapsed, mib) = match args.first().map(String::as_str) {
        Some("direct") => {
            let [endpoint, bucket, key_id, secret, mib] = &args[1..6] else { anyhow::bail!("direct: 5 args") };
            let mib: usize = mib.parse()?;
            let config = aws_sdk_s3::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .endpoint_url(endpoint)
                .region(Region::new("us-east-1"))
                .credentials_provider(Credentials::new(key_id, secret, None, None, "bench"))
                .force_path_style(true)
                .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
                .response_checksum_validation(aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired)
                .build();
            let client = aws_sdk_s3::Client::from_conf(config);
            let _ = client.create_bucket().bucket(bucket).send().await;
            let mut body = Vec::with_capacity(mib * 1024 * 1024);
            for i in 0..mib * 1024 * 1024 / CHUNK {
                body.extend_from_slice(&chunk(i));
            }
            let started = Instant::now();
            client
                .put_object()
                .bucket(bucket)
                .key(format!("bench/{}", uuid::Uuid::new_v4()))
                .content_length(i64::try_from(body.len())?)
                .body(body.into())
                .send()
                .await
                .context("direct put")?;
            (started.elapsed(), mib)
        }
        Some("gantry") => {
            let [base, token, mib] = &args[1..4] else { anyhow::bail!("gantry: 3 args") };
            let mib: usize = mib.parse()?;
            let chunks = mib * 1024 * 1024 / CHUNK;
            let stream = futures::stream::iter((0..chunks).map(|i| Ok::<_, std::io::Error>(chunk(i))));
            let started = Instant::now();
            let response = reqwest::Client::builder()
                .timeout(Duration::from_secs(3600))
                .build()?
                .post(format!("{base}/v1/uploads"))
                .bearer_auth(token)
                .header("content-type", "image/png")
                .header("content-length", (chunks * CHUNK).to_string())
                .body(reqwest::Body::wrap_stream(stream))
                .send()
                .await?;
            anyhow::ensure!(response.status() == 201, "status {}: {}", response.status(), response.text().await?);
            (started.elapsed(), mib)
        }
        _ => anyhow::bail!("usage: upload_bench direct … | gantry …"),
    };
    let rate = mib as f64 / elapsed.as_secs_f64();
    println!("seconds={:.3} mib_per_s={rate:.1}", elapsed.as_secs_f64());
    Ok(())
}
