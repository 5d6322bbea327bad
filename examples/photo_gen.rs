//! Writes a photo-like JPEG for `bench/photo.sh`: smooth gradients with deterministic noise (so it decodes
//! and compresses like a camera photo, not like a flat test card), quality 90.
//!
//! `photo_gen PATH WIDTH HEIGHT` — prints `bytes=…`.

use anyhow::Context;
use image::ImageEncoder;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args.next().context("usage: photo_gen PATH WIDTH HEIGHT")?;
    let width: u32 = args.next().context("WIDTH")?.parse()?;
    let height: u32 = args.next().context("HEIGHT")?.parse()?;
    let mut seed = 0x2545_f491_u32;
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let noise = u8::try_from(seed >> 27).unwrap_or(0);
        let ramp = |v: u32, of: u32| u8::try_from(v * 223 / of.max(1)).unwrap_or(u8::MAX);
        image::Rgb([ramp(x, width) + noise, ramp(y, height) + noise, ramp(x + y, width + height) + noise])
    });
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90).write_image(
        img.as_raw(),
        width,
        height,
        image::ExtendedColorType::Rgb8,
    )?;
    std::fs::write(&path, &bytes).with_context(|| format!("writing {path}"))?;
    println!("bytes={}", bytes.len());
    Ok(())
}
