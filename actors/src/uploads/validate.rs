//! The validating stream: an upload's body on its way into the object store, checked chunk by chunk and never
//! buffered whole — except a PDF. It enforces the size limit (refused the moment it is exceeded), decides the
//! type from the first bytes against the allowlist and the declared `Content-Type`, refuses a body that sends
//! nothing for the idle timeout or less than the minimum rate over a window ([`MinRate`], after its grace
//! period), ends at once when a newcomer displaced it (the ledger's decision), hashes (SHA-256) what passes,
//! and counts every chunk into the upload's ledger entry. A PDF is also kept in memory as it passes (at most `uploads.pdf_max_bytes`, refused with 413
//! the moment it is more) and, once its last byte arrived and before the stream ends, parsed whole for active
//! content ([`super::pdf`]). Its last chunk is held back until the check passed, so the store never has
//! every byte of a refused PDF (not even a store that commits on the last byte of a known length), and the
//! store's write is finished only when the stream ends: a refused PDF is never stored. A refusal is an `Err` item, which makes the store's all-or-nothing `put` discard what it had;
//! what the stream learned (or why it refused) is read back through [`Learned`].

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use sha2::{Digest, Sha256};

use super::ledger::{MinRate, Progress};
use super::media::{self, MediaType, SNIFF_LEN, Sniff};
use super::pdf::{PdfInspector, PdfVerdict};

/// Why the stream refused the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyRefusal {
    /// More than the uploader's largest file.
    TooLarge,
    /// Not an allowed file type.
    Unsupported,
    /// The bytes contradict the declared `Content-Type`.
    Mismatch,
    /// The body failed (the client went away).
    ClientAborted,
    /// Nothing arrived for the idle timeout.
    Stalled,
    /// Less than the minimum rate arrived over a window.
    TooSlow,
    /// A newcomer displaced the upload (it was the slowest under the minimum rate with every slot taken).
    Displaced,
    /// A PDF carrying active content (`/JavaScript`, `/OpenAction`, …).
    ActiveContent,
    /// A PDF the parser cannot read (or past its bounds).
    UnreadablePdf,
    /// A PDF larger than the PDF limit.
    PdfTooLarge,
}

/// What the stream learned about the body.
#[derive(Debug, Default)]
pub(crate) struct Learned {
    /// Why it refused, if it did.
    pub(crate) refusal: Option<BodyRefusal>,
    /// The type decided from the bytes.
    pub(crate) media: Option<MediaType>,
    /// Bytes that passed (set at the end of a body that was not refused).
    pub(crate) size: u64,
    /// Their SHA-256 (set at the end of a body that was not refused).
    pub(crate) sha256: Option<[u8; 32]>,
}

/// The rules a body is checked against.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    /// Largest accepted body.
    pub(crate) max_bytes: u64,
    /// Accepted types.
    pub(crate) allowed: Vec<MediaType>,
    /// The `Content-Type` the client declared.
    pub(crate) declared: Option<String>,
    /// How long the body may send nothing.
    pub(crate) idle: Duration,
    /// The rate the body must keep, if any.
    pub(crate) min_rate: Option<MinRate>,
    /// Checks whole PDFs (and bounds how large one may be).
    pub(crate) pdf: Arc<PdfInspector>,
}

/// A whole-PDF check in progress.
type PdfCheck = Pin<Box<dyn Future<Output = PdfVerdict> + Send>>;

/// The body as a stream of chunks, validated on the way (see the module docs).
pub(crate) struct Validating<S> {
    body: Pin<Box<S>>,
    rules: Rules,
    prefix: Vec<u8>,
    hasher: Option<Sha256>,
    size: u64,
    learned: Arc<Mutex<Learned>>,
    /// Armed while the body has nothing for us; reset by every chunk.
    idle_timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// When the rate is checked next (armed on the first poll when there is a minimum rate).
    rate_timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// The start of the window being measured and the bytes received before it.
    rate_mark: (tokio::time::Instant, u64),
    /// Completes when a newcomer displaced the upload.
    displaced: Pin<Box<tokio::sync::futures::OwnedNotified>>,
    /// The body so far while its type is undecided or a PDF (for the whole-file check); emptied otherwise.
    pdf_bytes: Vec<u8>,
    /// The whole-PDF check, once the body ended.
    pdf_check: Option<PdfCheck>,
    /// The body has ended (it is not polled again).
    ended: bool,
    /// While the body may be a PDF, the latest chunk is held back until the next one arrives, and the last one
    /// until the PDF passed its check: the store never has every byte of an unchecked PDF, so a store that
    /// commits on the last byte of a known length (a streamed `PutObject`) commits nothing that is refused.
    held: Option<Bytes>,
    /// The upload's ledger entry: bytes and the instant of the last chunk.
    progress: Arc<Progress>,
}

impl<S> Validating<S> {
    /// Validates `body` against `rules`, counting into `progress`; the second half reads what it learned once
    /// the stream is done.
    pub(crate) fn new(body: S, rules: Rules, progress: Arc<Progress>) -> (Self, Arc<Mutex<Learned>>) {
        let learned = Arc::new(Mutex::new(Learned::default()));
        let displaced = Box::pin(progress.displacement().notified_owned());
        let rate_mark = (progress.started(), 0);
        let stream = Self {
            body: Box::pin(body),
            rules,
            prefix: Vec::with_capacity(SNIFF_LEN),
            hasher: Some(Sha256::new()),
            size: 0,
            learned: Arc::clone(&learned),
            idle_timer: None,
            rate_timer: None,
            rate_mark,
            displaced,
            pdf_bytes: Vec::new(),
            pdf_check: None,
            ended: false,
            held: None,
            progress,
        };
        (stream, learned)
    }

    /// Whether the bytes were decided to be a PDF.
    fn is_pdf(&self) -> bool {
        self.learned.lock().unwrap_or_else(PoisonError::into_inner).media == Some(MediaType::Pdf)
    }

    fn refuse(&self, refusal: BodyRefusal) -> std::io::Error {
        self.learned.lock().unwrap_or_else(PoisonError::into_inner).refusal = Some(refusal);
        std::io::Error::other(format!("upload refused: {refusal:?}"))
    }

    fn decide(&mut self, at_end: bool) -> Result<(), std::io::Error> {
        let mut learned = self.learned.lock().unwrap_or_else(PoisonError::into_inner);
        if learned.media.is_some() {
            return Ok(());
        }
        let sniffed = match media::sniff(&self.prefix) {
            Sniff::Known(m) => m,
            Sniff::NeedMore if !at_end => return Ok(()),
            Sniff::NeedMore | Sniff::Unknown => {
                drop(learned);
                return Err(self.refuse(BodyRefusal::Unsupported));
            }
        };
        match media::check(self.rules.declared.as_deref(), sniffed, &self.rules.allowed) {
            Ok(m) => {
                learned.media = Some(m);
                Ok(())
            }
            Err(media::MediaError::Mismatch { .. }) => {
                drop(learned);
                Err(self.refuse(BodyRefusal::Mismatch))
            }
            Err(_) => {
                drop(learned);
                Err(self.refuse(BodyRefusal::Unsupported))
            }
        }
    }
}

impl<S, E> Stream for Validating<S>
where
    S: Stream<Item = Result<Bytes, E>>,
{
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if self.ended {
                return self.poll_end(cx);
            }
            if self.progress.is_displaced() {
                return Poll::Ready(Some(Err(self.refuse(BodyRefusal::Displaced))));
            }
            let chunk = match self.body.as_mut().poll_next(cx) {
                Poll::Pending => {
                    // A client that holds the connection open and sends nothing would keep its upload slot
                    // for the whole upload deadline: after `idle` without a byte, the upload is refused.
                    let idle = self.rules.idle;
                    let timer = self.idle_timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                    if timer.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Some(Err(self.refuse(BodyRefusal::Stalled))));
                    }
                    // One that sends a byte now and then, under the idle timeout, is held to the rate.
                    if let Some(refusal) = self.poll_rate(cx) {
                        return Poll::Ready(Some(Err(self.refuse(refusal))));
                    }
                    return Poll::Pending;
                }
                Poll::Ready(None) => {
                    self.ended = true;
                    self.idle_timer = None;
                    continue;
                }
                Poll::Ready(Some(Err(_))) => return Poll::Ready(Some(Err(self.refuse(BodyRefusal::ClientAborted)))),
                Poll::Ready(Some(Ok(chunk))) => chunk,
            };
            self.idle_timer = None;
            if chunk.is_empty() {
                continue;
            }
            self.progress.advance(chunk.len());
            self.size += chunk.len() as u64;
            if self.size > self.rules.max_bytes {
                return Poll::Ready(Some(Err(self.refuse(BodyRefusal::TooLarge))));
            }
            if self.prefix.len() < SNIFF_LEN {
                let take = (SNIFF_LEN - self.prefix.len()).min(chunk.len());
                self.prefix.extend_from_slice(&chunk[..take]);
                if let Err(e) = self.decide(false) {
                    return Poll::Ready(Some(Err(e)));
                }
            }
            if let Err(e) = self.keep_if_pdf(&chunk) {
                return Poll::Ready(Some(Err(e)));
            }
            if let Some(h) = self.hasher.as_mut() {
                h.update(&chunk);
            }
            let media = self.learned.lock().unwrap_or_else(PoisonError::into_inner).media;
            if media.is_none_or(|m| m == MediaType::Pdf) {
                match self.held.replace(chunk) {
                    Some(previous) => return Poll::Ready(Some(Ok(previous))),
                    None => continue,
                }
            }
            return Poll::Ready(Some(Ok(match self.held.take() {
                // The first chunks were held while the type was undecided: they go out with this one.
                Some(held) => [held, chunk].concat().into(),
                None => chunk,
            })));
        }
    }
}

impl<S> Validating<S> {
    /// While the body waits: whether the upload was displaced, or kept less than the minimum rate over the
    /// window that just ended (the next window starts then). Registers the wakers of both.
    fn poll_rate(&mut self, cx: &mut Context<'_>) -> Option<BodyRefusal> {
        if self.displaced.as_mut().poll(cx).is_ready() {
            return Some(BodyRefusal::Displaced);
        }
        let rule = self.rules.min_rate?;
        loop {
            let first = rule.first_check(self.rate_mark.0);
            let timer = self.rate_timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(first)));
            if timer.as_mut().poll(cx).is_pending() {
                return None;
            }
            let now = tokio::time::Instant::now();
            let (since, before) = self.rate_mark;
            if rule.too_slow(self.size - before, now.saturating_duration_since(since)) {
                tracing::info!(
                    bytes = self.size - before,
                    secs = now.saturating_duration_since(since).as_secs(),
                    min_bytes_per_sec = rule.bytes_per_sec,
                    "upload refused: below the minimum rate"
                );
                return Some(BodyRefusal::TooSlow);
            }
            self.rate_mark = (now, self.size);
            timer.as_mut().reset(now + rule.window);
        }
    }

    /// Keeps `chunk` for the whole-PDF check while the type is undecided or a PDF (at most the PDF limit).
    fn keep_if_pdf(&mut self, chunk: &[u8]) -> Result<(), std::io::Error> {
        let media = self.learned.lock().unwrap_or_else(PoisonError::into_inner).media;
        if media.is_some_and(|m| m != MediaType::Pdf) {
            self.pdf_bytes = Vec::new();
            return Ok(());
        }
        if (self.pdf_bytes.len() + chunk.len()) as u64 > self.rules.pdf.limits().max_bytes {
            self.pdf_bytes = Vec::new();
            return Err(self.refuse(BodyRefusal::PdfTooLarge));
        }
        self.pdf_bytes.extend_from_slice(chunk);
        Ok(())
    }

    /// The end of the body: the type decided, a PDF checked whole, then what passed is recorded.
    fn poll_end(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, std::io::Error>>> {
        if self.hasher.is_none() {
            return Poll::Ready(None);
        }
        if let Err(e) = self.decide(true) {
            self.hasher = None;
            return Poll::Ready(Some(Err(e)));
        }
        if self.is_pdf() {
            let inspector = Arc::clone(&self.rules.pdf);
            let bytes = std::mem::take(&mut self.pdf_bytes);
            let check = self.pdf_check.get_or_insert_with(|| Box::pin(async move { inspector.inspect(bytes).await }));
            let verdict = match check.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(verdict) => verdict,
            };
            self.pdf_check = None;
            let refusal = match verdict {
                PdfVerdict::Clean => None,
                PdfVerdict::Active(found) => {
                    tracing::info!(found, "upload refused: the PDF carries active content");
                    Some(BodyRefusal::ActiveContent)
                }
                PdfVerdict::Unreadable(why) => {
                    tracing::info!(why, "upload refused: the PDF cannot be read");
                    Some(BodyRefusal::UnreadablePdf)
                }
            };
            if let Some(refusal) = refusal {
                self.hasher = None;
                return Poll::Ready(Some(Err(self.refuse(refusal))));
            }
        }
        let digest = self.hasher.take().map(|h| h.finalize().into());
        let mut learned = self.learned.lock().unwrap_or_else(PoisonError::into_inner);
        learned.size = self.size;
        learned.sha256 = digest;
        drop(learned);
        // The held-back last chunk goes out now that the body passed; the next poll ends the stream.
        Poll::Ready(self.held.take().map(Ok))
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;
    use crate::uploads::ledger::Ledger;

    const PNG_HEAD: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D];

    fn rules(max_bytes: u64, declared: Option<&str>) -> Rules {
        Rules {
            max_bytes,
            allowed: MediaType::ALL.to_vec(),
            declared: declared.map(str::to_owned),
            idle: Duration::from_secs(5),
            min_rate: None,
            pdf: Arc::new(PdfInspector::new(crate::uploads::pdf::PdfLimits::for_max_bytes(max_bytes), 1)),
        }
    }

    /// Runs `chunks` through the stream as the store reads it; what passed, what it learned, and the bytes the ledger counted.
    async fn run(chunks: Vec<&'static [u8]>, rules: Rules) -> (Vec<u8>, Learned, u64) {
        let ledger = Arc::new(Ledger::new(1, 1));
        let in_flight = ledger.admit("user:a", "10.0.0.1").expect("room");
        let body = futures::stream::iter(chunks.into_iter().map(|c| Ok::<_, std::io::Error>(Bytes::from_static(c))));
        let (mut stream, learned) = Validating::new(body, rules, Arc::clone(in_flight.progress()));
        // Read as the store does: up to the first error, which aborts the write.
        let mut passed = Vec::new();
        while let Some(Ok(chunk)) = stream.next().await {
            passed.extend_from_slice(&chunk);
        }
        let counted = ledger.snapshot()[0].bytes;
        let learned = std::mem::take(&mut *learned.lock().expect("not poisoned"));
        (passed, learned, counted)
    }

    /// A PNG passes whole: its type, size and SHA-256 are learned, its bytes counted in the ledger.
    #[tokio::test]
    async fn accepted_body_is_measured_and_hashed() {
        let (passed, learned, counted) = run(vec![&PNG_HEAD[..5], &PNG_HEAD[5..], b"rest"], rules(100, None)).await;
        assert_eq!(passed.len(), 16);
        assert_eq!(learned.refusal, None);
        assert_eq!((learned.media, learned.size, counted), (Some(MediaType::Png), 16, 16));
        assert_eq!(learned.sha256, Some(Sha256::digest(&passed).into()));
    }

    /// The chunk that crosses the limit is refused, and nothing learned says the body was whole.
    #[tokio::test]
    async fn oversized_body_is_refused_at_the_crossing_chunk() {
        let (passed, learned, _) = run(vec![PNG_HEAD, b"0123456789"], rules(20, None)).await;
        assert_eq!(passed.len(), 12);
        assert_eq!(learned.refusal, Some(BodyRefusal::TooLarge));
        assert_eq!(learned.sha256, None);
    }

    /// Bytes that contradict the declared type, unknown bytes, and scripted PDFs are refused.
    #[tokio::test]
    async fn wrong_unknown_and_active_bodies_are_refused() {
        let (_, mismatch, _) = run(vec![PNG_HEAD], rules(100, Some("application/pdf"))).await;
        assert_eq!(mismatch.refusal, Some(BodyRefusal::Mismatch));
        let (_, unknown, _) = run(vec![b"just some text here"], rules(100, None)).await;
        assert_eq!(unknown.refusal, Some(BodyRefusal::Unsupported));
        let (_, unreadable, _) = run(vec![b"%PDF-1.7\n<< /OpenAction 5 0 R >>"], rules(100, None)).await;
        assert_eq!(unreadable.refusal, Some(BodyRefusal::UnreadablePdf));
    }

    /// A PDF is checked whole before the stream ends: a script in its last chunk is refused, and a PDF past
    /// the PDF limit is refused the moment it passes it.
    #[tokio::test]
    async fn pdfs_are_checked_whole_and_bounded() {
        const ACTIVE: &[u8] = b"%PDF-1.7\n1 0 obj << /Type /Catalog /OpenAction 2 0 R >> endobj\n2 0 obj << /S /JavaScript /JS (x) >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
        let (passed, active, _) = run(vec![&ACTIVE[..20], &ACTIVE[20..]], rules(1000, None)).await;
        assert_eq!(active.refusal, Some(BodyRefusal::ActiveContent));
        assert_eq!(passed, &ACTIVE[..20], "the store never gets the last chunk of a refused PDF");
        let mut small = rules(1000, None);
        small.pdf = Arc::new(PdfInspector::new(crate::uploads::pdf::PdfLimits::for_max_bytes(40), 1));
        let (_, large, _) = run(vec![&ACTIVE[..20], &ACTIVE[20..]], small).await;
        assert_eq!(large.refusal, Some(BodyRefusal::PdfTooLarge));
    }

    /// A body that sends a byte and then trickles nothing more (under the idle timeout) is refused as too slow
    /// at the first rate check; one displaced by a newcomer ends at once.
    #[tokio::test(start_paused = true)]
    async fn trickling_bodies_are_refused_and_displaced_ones_end() {
        use crate::uploads::ledger::MinRate;
        let rate = MinRate { bytes_per_sec: 100, window: Duration::from_secs(2), grace: Duration::from_secs(3) };
        let ledger = Arc::new(Ledger::new(1, 1).with_min_rate(Some(rate)));
        let in_flight = ledger.admit("user:a", "10.0.0.1").expect("room");
        let trickle = || {
            futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(PNG_HEAD))])
                .chain(futures::stream::pending())
        };
        let mut rules = rules(1000, None);
        rules.idle = Duration::from_secs(60);
        rules.min_rate = Some(rate);
        let (mut stream, learned) = Validating::new(trickle(), rules.clone(), Arc::clone(in_flight.progress()));
        let started = tokio::time::Instant::now();
        while let Some(Ok(_)) = stream.next().await {}
        assert_eq!(learned.lock().expect("not poisoned").refusal, Some(BodyRefusal::TooSlow));
        assert_eq!(started.elapsed(), Duration::from_secs(3), "refused at the first check, after the grace period");

        // A long window: the trickler is displaceable after its grace period, long before its first check.
        let patient = MinRate { window: Duration::from_secs(30), grace: Duration::from_secs(1), ..rate };
        rules.min_rate = Some(patient);
        let ledger = Arc::new(Ledger::new(1, 1).with_min_rate(Some(patient)));
        let slow = ledger.admit("user:b", "10.0.0.2").expect("room");
        let (mut stream, learned) = Validating::new(trickle(), rules, Arc::clone(slow.progress()));
        let reader = tokio::spawn(async move { while let Some(Ok(_)) = stream.next().await {} });
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        assert!(!reader.is_finished());
        let newcomer = ledger.admit("user:c", "10.0.0.3");
        assert!(newcomer.is_ok(), "the trickler, past its grace period and under the rate, gives its place");
        reader.await.expect("the displaced stream ends");
        assert_eq!(learned.lock().expect("not poisoned").refusal, Some(BodyRefusal::Displaced));
    }
}
