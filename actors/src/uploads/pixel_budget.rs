//! Guests' photo pixel budget: the pixels (width × height) of the photos a guest may have processed per hour,
//! charged per guest token and per client address alike (one address with several free tokens shares one
//! budget), so a burst of huge photos from strangers cannot fill the media queue. Logged-in users are not
//! charged. Pixels are read from the photo's header ([`header_pixels`]) as it streams in; a photo whose size
//! cannot be read from its first bytes is charged as the largest photo accepted.
//!
//! Fixed one-hour windows per key, opened at the key's first charge; memory is bounded by the number of keys
//! (closed windows are swept first, then the oldest is evicted, which can only loosen the budget of that key).

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How many bytes of a guest's upload are kept to read the photo's header (PNG and WebP say their size in
/// their first bytes; a JPEG after its metadata segments, which phones keep well under this).
pub const HEADER_PREFIX_BYTES: usize = 64 * 1024;

/// The width × height a photo's first bytes announce, if they are enough to tell (0 for a PNG without its
/// mandatory header chunk, which no decoder reads).
#[must_use]
pub fn header_pixels(prefix: &[u8]) -> Option<u64> {
    // PNG: the IHDR chunk must come first, at a fixed place (the decoder would also want the next chunk).
    // Without it the photo job's decoder refuses the file at once: nothing to charge.
    if prefix.starts_with(b"\x89PNG\r\n\x1a\n") {
        if prefix.get(12..16) != Some(b"IHDR") {
            return Some(0);
        }
        let width = u32::from_be_bytes(prefix.get(16..20)?.try_into().ok()?);
        let height = u32::from_be_bytes(prefix.get(20..24)?.try_into().ok()?);
        return Some(u64::from(width) * u64::from(height));
    }
    let reader = image::ImageReader::new(Cursor::new(prefix)).with_guessed_format().ok()?;
    let (width, height) = reader.into_dimensions().ok()?;
    Some(u64::from(width) * u64::from(height))
}

/// Pixels charged per key in one-hour windows.
#[derive(Debug)]
pub struct PixelBudget {
    /// Pixels one key may be charged per window.
    per_hour: u64,
    /// The window.
    window: Duration,
    /// Most keys tracked at once.
    max_keys: usize,
    /// Open windows by key: (opened, pixels charged). A std `Mutex`: never held across an `.await`.
    windows: Mutex<HashMap<String, (Instant, u64)>>,
}

impl PixelBudget {
    /// A budget of `per_hour` pixels per key, tracking at most `max_keys` keys.
    #[must_use]
    pub fn new(per_hour: u64, max_keys: usize) -> Self {
        Self { per_hour, window: Duration::from_secs(3600), max_keys: max_keys.max(1), windows: Mutex::default() }
    }

    /// The pixels one key may be charged per hour.
    #[must_use]
    pub fn per_hour(&self) -> u64 {
        self.per_hour
    }

    /// Whether every key in `keys` still has pixels left at `now`.
    ///
    /// # Errors
    /// The time until the first exhausted key's window closes (for `Retry-After`).
    pub fn check(&self, keys: &[&str], now: Instant) -> Result<(), Duration> {
        let windows = self.lock();
        self.refusal(&windows, keys, 1, now).map_or(Ok(()), Err)
    }

    /// Charges `pixels` to every key in `keys` at `now`, all or none. A key with nothing charged in its window
    /// takes any amount (one photo larger than the whole budget still passes, once an hour).
    ///
    /// # Errors
    /// The time until the window of a key without room for them closes (nothing is charged).
    pub fn charge(&self, keys: &[&str], pixels: u64, now: Instant) -> Result<(), Duration> {
        let mut windows = self.lock();
        if let Some(wait) = self.refusal(&windows, keys, pixels, now) {
            return Err(wait);
        }
        for key in keys {
            match windows.get_mut(*key) {
                Some((opened, spent)) if now.saturating_duration_since(*opened) < self.window => {
                    *spent = spent.saturating_add(pixels);
                }
                Some(window) => *window = (now, pixels),
                None => {
                    if windows.len() >= self.max_keys {
                        windows.retain(|_, (opened, _)| now.saturating_duration_since(*opened) < self.window);
                    }
                    if windows.len() >= self.max_keys
                        && let Some(oldest) =
                            windows.iter().min_by_key(|(_, (opened, _))| *opened).map(|(k, _)| k.clone())
                    {
                        windows.remove(&oldest);
                    }
                    windows.insert((*key).to_owned(), (now, pixels));
                }
            }
        }
        Ok(())
    }

    /// How long until a key of `keys` without room for `pixels` more has room again, if one has none.
    fn refusal(
        &self,
        windows: &HashMap<String, (Instant, u64)>,
        keys: &[&str],
        pixels: u64,
        now: Instant,
    ) -> Option<Duration> {
        keys.iter().find_map(|key| {
            let (opened, spent) = windows.get(*key)?;
            let age = now.saturating_duration_since(*opened);
            // A window with nothing charged yet takes any one photo, however large (up to `photos.max_pixels`):
            // a guest can always have one photo an hour.
            (age < self.window && *spent > 0 && spent.saturating_add(pixels) > self.per_hour).then(|| self.window - age)
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, u64)>> {
        // Plain counters, valid after any partial update: a poisoned lock is safe to keep using.
        self.windows.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A guest's and its address's charges add up to the hourly budget; past it both keys are refused with the
    /// time until the window closes, and a new window opens an hour after the first charge.
    #[test]
    fn charges_add_up_per_key_until_the_window_closes() {
        let budget = PixelBudget::new(100, 10);
        let t0 = Instant::now();
        budget.charge(&["guest:a", "addr:1"], 60, t0).expect("within budget");
        assert_eq!(budget.check(&["guest:b", "addr:1"], t0), Ok(()));
        let wait = budget.charge(&["guest:b", "addr:1"], 50, t0 + Duration::from_secs(600)).expect_err("address over");
        assert_eq!(wait, Duration::from_secs(3000));
        budget.charge(&["guest:b", "addr:2"], 50, t0).expect("another address, another guest");
        budget.charge(&["guest:a", "addr:1"], 40, t0).expect("exactly the budget");
        assert!(budget.check(&["guest:a", "addr:3"], t0).is_err(), "the guest's own budget is spent");
        budget.charge(&["guest:a", "addr:1"], 100, t0 + Duration::from_secs(3600)).expect("a new window");
        budget.charge(&["guest:c", "addr:9"], 500, t0).expect("one photo over the whole budget, in an empty window");
        assert!(budget.charge(&["guest:c", "addr:8"], 1, t0).is_err(), "and nothing after it");
    }

    /// Memory stays bounded: past `max_keys` the oldest window goes.
    #[test]
    fn keys_are_bounded() {
        let budget = PixelBudget::new(10, 3);
        let t0 = Instant::now();
        for (i, key) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            budget.charge(&[key], 10, t0 + Duration::from_secs(i as u64)).expect("charge");
        }
        assert_eq!(budget.lock().len(), 3);
    }

    /// The pixels of a PNG are read from its first bytes; bytes that are no image give nothing.
    #[test]
    fn header_pixels_of_a_png() {
        let mut png = Vec::new();
        image::RgbImage::new(70, 30).write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png).expect("encode");
        assert_eq!(header_pixels(&png[..24]), Some(2100));
        assert_eq!(header_pixels(&png), Some(2100));
        let mut jpeg = Vec::new();
        image::RgbImage::new(40, 20).write_to(&mut Cursor::new(&mut jpeg), image::ImageFormat::Jpeg).expect("encode");
        assert_eq!(header_pixels(&jpeg), Some(800));
        assert_eq!(header_pixels(b"%PDF-1.7"), None);
        assert_eq!(header_pixels(b"\x89PNG\r\n\x1a\n\x04\x05\x06\x07\x08\x09\x0a\x0b"), Some(0));
    }
}
