//! Renders one photo's variants the way the `uploads.photo` job does (`photos.*` defaults: 320, 1280 and full,
//! JPEG at quality 85), without the instance around it: for timing the decode + scale + encode as a whole
//! process, e.g. beside libvips's command-line tools on the same file.
//!
//! `photo_render PATH [ROUNDS=1]` — prints each variant's name, size and bytes; writes nothing.

use gantry_actors::uploads::media::MediaType;
use gantry_actors::uploads::photo::{OutputFormat, PhotoSettings, render};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: photo_render PATH [ROUNDS]")?;
    let rounds: u32 = args.next().map_or(Ok(1), |r| r.parse())?;
    let original = std::fs::read(&path).map_err(|e| format!("reading {path}: {e}"))?;
    let settings = PhotoSettings {
        sizes: vec![320, 1280],
        format: OutputFormat::Jpeg,
        quality: 85,
        accepted: vec![MediaType::Jpeg, MediaType::Png, MediaType::Webp],
        max_pixels: 50_000_000,
        max_decoder_bytes: 268_435_456,
    };
    for _ in 0..rounds {
        let rendition = render(&original, &settings)?;
        for v in &rendition.variants {
            println!("{} {}x{} {} bytes", v.name, v.width, v.height, v.bytes.len());
        }
    }
    Ok(())
}
