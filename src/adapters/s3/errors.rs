//! How an S3 failure reaches the caller: the status and a short, operator-safe reason of an SDK error, and
//! its mapping to the port's `ObjectStoreError` (counted and logged once, here).

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use gantry_actors::ports::Unavailable;
use gantry_actors::ports::objects::ObjectStoreError;

/// The HTTP status of a failed request, if a response arrived.
pub(super) fn status<E>(err: &SdkError<E>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

/// A short reason safe for operators: an error code, a status or a failure class, never headers,
/// credentials or the request.
pub(super) fn reason<E: ProvideErrorMetadata>(err: &SdkError<E>) -> String {
    match err {
        SdkError::ServiceError(service) => match (service.err().code(), status(err)) {
            (Some(code), _) => code.to_owned(),
            (None, Some(status)) => format!("HTTP {status}"),
            (None, None) => "service error".to_owned(),
        },
        SdkError::TimeoutError(_) => "timed out".to_owned(),
        SdkError::DispatchFailure(d) if d.is_timeout() => "connection timed out".to_owned(),
        SdkError::DispatchFailure(d) if d.is_io() => "connection failed".to_owned(),
        SdkError::DispatchFailure(_) => "request could not be sent".to_owned(),
        SdkError::ResponseError(_) => "unreadable response".to_owned(),
        SdkError::ConstructionFailure(_) => "request could not be built".to_owned(),
        _ => "request failed".to_owned(),
    }
}

/// Maps a failed SDK call of `op`: counts it, logs the cause chain once (the SDK's `Display` carries no
/// credentials or headers), and returns `CredentialsRejected` for a 403 or a short `Unavailable` otherwise.
pub(super) fn sdk_failure<E>(op: &'static str, bucket: &str, err: &SdkError<E>) -> ObjectStoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    metrics::counter!("gantry_object_store_errors_total", "backend" => "s3", "op" => op).increment(1);
    let status = status(err);
    let reason = reason(err);
    tracing::warn!(backend = "s3", op, bucket, ?status, reason = %reason, error = %DisplayErrorContext(err), "object store operation failed");
    if status == Some(403) {
        ObjectStoreError::CredentialsRejected
    } else {
        Unavailable::new(format!("s3 {op} failed: {reason}")).into()
    }
}

/// A failure of `op` found by this adapter rather than the SDK: counted, logged, returned.
pub(super) fn store_failure(op: &'static str, reason: &'static str) -> ObjectStoreError {
    metrics::counter!("gantry_object_store_errors_total", "backend" => "s3", "op" => op).increment(1);
    tracing::warn!(backend = "s3", op, reason, "object store operation failed");
    Unavailable::new(reason).into()
}
