//! The admin client against a stand-in listener: the request it sends, the answer typed with its bytes kept,
//! and each kind of problem as the commands print it.

use hyper::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::types::RotateRequest;
use super::{AdminClient, Problem, percent_encode};

/// A listener that answers one request with `status` and `body`; yields the request's head and body.
async fn answering(status: &str, body: &str) -> (AdminClient, tokio::task::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let served = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accepts");
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.expect("reads");
            request.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&request);
            if let Some((head, sent)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length: ").map(str::to_owned))
                    .and_then(|n| n.parse::<usize>().ok())
                    .unwrap_or(0);
                if n == 0 || sent.len() >= length {
                    break;
                }
            }
        }
        stream.write_all(response.as_bytes()).await.expect("writes");
        String::from_utf8_lossy(&request).into_owned()
    });
    (AdminClient::new(&format!("{base}/"), "the-token".into()), served)
}

/// A found account comes back typed, with its body exactly as sent (what `users find` prints); the email is
/// percent-encoded in the query and the token sent as a bearer.
#[tokio::test]
async fn an_answer_is_typed_and_keeps_its_bytes() {
    let body = r#"{ "id": "0190a0b0-0000-7000-8000-000000000001", "email": "a+b@example.com",
        "created_at": "2026-12-06T22:28:17Z", "disabled_at": null }"#;
    let (client, served) = answering("200 OK", body).await;
    let found = client.find_user("a+b@example.com").await.expect("found");
    let request = served.await.expect("served");
    assert_eq!(found.body, body);
    assert_eq!(found.value.email, "a+b@example.com");
    assert!(request.starts_with("GET /admin/users?email=a%2Bb%40example.com HTTP/1.1\r\n"), "{request}");
    assert!(request.contains("authorization: Bearer the-token\r\n"), "{request}");
}

/// A refusal keeps the status, the body as sent and its problem document; it prints as
/// `the instance answered {status}: {body}`.
#[tokio::test]
async fn a_refusal_prints_status_and_body() {
    let body = r#"{"type":"about:blank","title":"Not Found","status":404,"code":"job_not_found","detail":"no job"}"#;
    let (client, _served) = answering("404 Not Found", body).await;
    let problem = client.job(uuid::Uuid::nil()).await.expect_err("refused");
    assert_eq!(problem.status(), Some(StatusCode::NOT_FOUND));
    assert_eq!(problem.document().and_then(|d| d.code.as_deref()), Some("job_not_found"));
    assert_eq!(problem.to_string(), format!("the instance answered 404 Not Found: {body}"));
}

/// A rotation is accepted only with 202: another success is a refusal, as the command always treated it.
#[tokio::test]
async fn a_rotation_answered_without_202_is_refused() {
    let (client, served) = answering("200 OK", r#"{"job_id":"0190a0b0-0000-7000-8000-000000000001"}"#).await;
    let problem = client.rotate(&RotateRequest::default()).await.expect_err("not 202");
    assert!(served.await.expect("served").starts_with("POST /admin/secrets/rotate HTTP/1.1\r\n"));
    assert_eq!(problem.status(), Some(StatusCode::OK));
    assert_eq!(problem.document().and_then(|d| d.code.as_deref()), None, "{problem:?}");
    assert!(problem.to_string().starts_with("the instance answered 200 OK: {\"job_id\""), "{problem}");
}

/// A listener that cannot be reached is a transport problem naming where it connected, with no status.
#[tokio::test]
async fn an_unreachable_listener_is_a_transport_problem() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("address");
    drop(listener);
    let problem = AdminClient::new(&format!("http://{addr}"), "t".into()).rotations().await.expect_err("nothing there");
    assert!(matches!(problem, Problem::Transport(_)), "{problem:?}");
    assert!(problem.to_string().starts_with(&format!("connecting to {addr}: ")), "{problem}");
}

/// Query values are percent-encoded except RFC 3986's unreserved characters.
#[test]
fn query_values_are_percent_encoded() {
    assert_eq!(percent_encode("smoke-1a2b@smoke.gantry.invalid"), "smoke-1a2b%40smoke.gantry.invalid");
    assert_eq!(percent_encode("2026-12-06T22:28:17+01:00"), "2026-12-06T22%3A28%3A17%2B01%3A00");
    assert_eq!(percent_encode("a b_~"), "a%20b_~");
}

/// A rotation's body carries the flags given and leaves out those not given (not `null`).
#[tokio::test]
async fn a_rotation_body_leaves_out_what_was_not_given() {
    let (client, served) = answering("202 Accepted", r#"{"job_id":"0190a0b0-0000-7000-8000-0000000000aa"}"#).await;
    let request = RotateRequest {
        requested_by: Some("jane".into()),
        user_message: Some("Please log in again.".into()),
        ..RotateRequest::default()
    };
    client.rotate(&request).await.expect("202");
    let sent = served.await.expect("served");
    let body = sent.split_once("\r\n\r\n").expect("a body").1;
    assert_eq!(body, r#"{"requested_by":"jane","user_message":"Please log in again."}"#, "{sent}");
}
