//! Photo processing: the `uploads.photo` job that turns a stored image upload (JPEG, PNG, WebP) into
//! re-encoded variants — one per configured long side (`320`, `1280`, never upscaled) and `full` (the
//! original's size) — with no metadata at all (EXIF with its GPS position, XMP, comments) and colours in
//! sRGB (an embedded ICC profile is applied, then dropped). Re-encoding from pixels also drops whatever else
//! rode along in the file (a polyglot payload after the image data). The original object is never touched:
//! its owner keeps the exact bytes the digest was computed over.
//!
//! Decoding is bounded before a byte of pixels is allocated: the header's width × height against
//! `max_pixels`, and the decoded buffer against `max_decoder_bytes` (the `image` crate's `Limits`). A file
//! over either limit (a decompression bomb: a few KiB of PNG claiming 20,000 × 20,000 pixels) fails with
//! [`PhotoError`] and its job is discarded; nothing is retried, because the same bytes fail the same way.
//!
//! [`render`] is the pure part (bytes in, encoded variants out; run on a blocking thread);
//! [`super::photo_job::PhotoJob`] is the runner's handler around it (reads the original and writes the
//! variants through the ports).

use std::io::Cursor;

use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::codecs::png::{CompressionType, FilterType as PngFilter, PngEncoder};
use image::codecs::webp::WebPEncoder;
use image::{DynamicImage, ImageDecoder, ImageEncoder, ImageError, ImageFormat, ImageReader, Limits};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::media::MediaType;
use crate::ports::jobs::NewJob;
use crate::ports::objects::{ObjectKey, ObjectStoreError};

/// The kind's name.
pub const KIND: &str = "uploads.photo";
/// The queue photo jobs run on (its own concurrency: decoding is CPU-heavy and must not hold up user work).
pub const QUEUE: &str = "media";
/// Attempts of a photo job (only store failures are retried; a bad image is discarded at once).
pub const MAX_ATTEMPTS: u32 = 3;
/// The variant at the original's size.
pub const FULL: &str = "full";

/// The format variants are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputFormat {
    /// JPEG at the configured quality (transparency is flattened onto white).
    Jpeg,
    /// PNG (lossless; quality is ignored).
    Png,
    /// WebP, lossless (the pure-Rust encoder has no lossy mode; quality is ignored).
    Webp,
}

impl OutputFormat {
    /// Parses the setting's spelling (`jpeg`, `png`, `webp`).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "jpeg" => Some(Self::Jpeg),
            "png" => Some(Self::Png),
            "webp" => Some(Self::Webp),
            _ => None,
        }
    }

    /// The variants' `Content-Type`.
    #[must_use]
    pub fn mime(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
        }
    }
}

/// The `photos.*` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoSettings {
    /// Long sides of the scaled variants, in pixels (each is also the variant's name).
    pub sizes: Vec<u32>,
    /// Output format.
    pub format: OutputFormat,
    /// JPEG quality, 1–100.
    pub quality: u8,
    /// Image types that get variants (decided from the bytes at upload).
    pub accepted: Vec<MediaType>,
    /// Most pixels (width × height, from the header) a photo may have.
    pub max_pixels: u64,
    /// Most bytes the decoder may allocate for the decoded image.
    pub max_decoder_bytes: u64,
}

impl PhotoSettings {
    /// The variant names an accepted image gets: every size, then `full`.
    #[must_use]
    pub fn variant_names(&self) -> Vec<String> {
        self.sizes.iter().map(u32::to_string).chain([FULL.to_owned()]).collect()
    }

    /// Whether an upload of `media` gets variants.
    #[must_use]
    pub fn accepts(&self, media: MediaType) -> bool {
        self.accepted.contains(&media)
    }
}

/// The photo job of upload `upload_id` owned by `owner`.
#[must_use]
pub fn job(upload_id: Uuid, owner: &str) -> NewJob {
    NewJob {
        max_attempts: MAX_ATTEMPTS,
        owner: Some(owner.to_owned()),
        ..NewJob::new(KIND, QUEUE, serde_json::json!({ "upload_id": upload_id }))
    }
}

/// Where variant `name` of upload `upload_id` lives in the object store (beside, never over, the original:
/// `uploads/{id}` stays the owner's exact bytes).
///
/// # Errors
/// `name` is not a valid key segment (variant names are digits or `full`).
pub fn variant_key(upload_id: Uuid, name: &str) -> Result<ObjectKey, ObjectStoreError> {
    ObjectKey::parse(format!("variants/{upload_id}/{name}"))
}

/// The size of an image of `width` × `height` scaled so its long side is `long_side`, keeping the aspect
/// ratio (rounded, at least 1 px); never larger than the original.
#[must_use]
pub fn fit_long_side(width: u32, height: u32, long_side: u32) -> (u32, u32) {
    let long = width.max(height);
    if long <= long_side || long == 0 {
        return (width, height);
    }
    let scale = |side: u32| {
        let scaled = (u64::from(side) * u64::from(long_side) + u64::from(long) / 2) / u64::from(long);
        u32::try_from(scaled.max(1)).unwrap_or(u32::MAX)
    };
    if width >= height { (long_side, scale(height)) } else { (scale(width), long_side) }
}

/// Why an image gets no variants. Every case is final: the same bytes fail the same way again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhotoError {
    /// The header announces more pixels than `max_pixels` (a decompression bomb, or simply too large).
    #[error("the image is {width} x {height} px, more than the {max} pixels allowed")]
    TooManyPixels {
        /// Width from the header.
        width: u32,
        /// Height from the header.
        height: u32,
        /// The limit.
        max: u64,
    },
    /// Decoding would allocate more than `max_decoder_bytes`.
    #[error("decoding the image needs {needed} bytes, more than the decoder limit of {limit} bytes")]
    MemoryLimit {
        /// What the decoded image needs (0 when the decoder did not say).
        needed: u64,
        /// The limit.
        limit: u64,
    },
    /// Not an accepted image, or corrupt.
    #[error("the image could not be decoded: {0}")]
    Undecodable(String),
    /// A variant could not be encoded.
    #[error("a variant could not be encoded: {0}")]
    Encode(String),
}

impl PhotoError {
    /// The stable code kept on failed variants.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooManyPixels { .. } => "too_many_pixels",
            Self::MemoryLimit { .. } => "decoder_memory_limit",
            Self::Undecodable(_) => "undecodable",
            Self::Encode(_) => "encode_failed",
        }
    }
}

/// What happened to an embedded colour profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IccOutcome {
    /// The image had none (taken as sRGB).
    None,
    /// The pixels were converted from it to sRGB.
    Converted,
    /// It could not be applied (unparsable, or not an RGB profile) and was dropped; colours may be off.
    Dropped,
}

/// One encoded variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Its name (a long side, or `full`).
    pub name: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The encoded bytes.
    pub bytes: Vec<u8>,
}

/// Everything [`render`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendition {
    /// Original width and height (after EXIF orientation).
    pub original: (u32, u32),
    /// The colour profile's fate.
    pub icc: IccOutcome,
    /// The variants, in [`PhotoSettings::variant_names`] order.
    pub variants: Vec<Rendered>,
}

/// Decodes `original` within the limits, applies its EXIF orientation and colour profile, and encodes every
/// variant without metadata. CPU-bound: call it on a blocking thread.
///
/// # Errors
/// [`PhotoError`]: over a limit, undecodable, or not encodable.
pub fn render(original: &[u8], settings: &PhotoSettings) -> Result<Rendition, PhotoError> {
    let (image, icc) = decode(original, settings)?;
    let (width, height) = (image.width(), image.height());
    let image = for_output(image, settings.format);
    let mut variants = Vec::with_capacity(settings.sizes.len() + 1);
    // Largest first, each scaled from the smallest already made that is still at least as large: a 12 MP
    // photo is scaled once to 1280 and the 1280 to 320, instead of twice from 12 MP.
    let mut sizes = settings.sizes.clone();
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    let mut scaled: Vec<(u32, DynamicImage)> = Vec::new();
    let mut resizer = Resizer::new();
    for long_side in sizes {
        let (w, h) = fit_long_side(width, height, long_side);
        let source = scaled.last().map_or(&image, |(_, img)| img);
        let img = if (w, h) == (source.width(), source.height()) {
            source.clone()
        } else {
            scale(&mut resizer, source, w, h)?
        };
        scaled.push((long_side, img));
    }
    for long_side in &settings.sizes {
        let img = scaled.iter().find(|(s, _)| s == long_side).map(|(_, img)| img).unwrap_or(&image);
        variants.push(encode(long_side.to_string(), img, settings)?);
    }
    variants.push(encode(FULL.to_owned(), &image, settings)?);
    Ok(Rendition { original: (width, height), icc, variants })
}

/// The bounded decode: header checks, then pixels, orientation and colour profile.
fn decode(original: &[u8], settings: &PhotoSettings) -> Result<(DynamicImage, IccOutcome), PhotoError> {
    let undecodable = |e: &dyn std::fmt::Display| PhotoError::Undecodable(e.to_string());
    let mut reader = ImageReader::new(Cursor::new(original)).with_guessed_format().map_err(|e| undecodable(&e))?;
    let format = reader.format().ok_or_else(|| PhotoError::Undecodable("not a JPEG, PNG or WebP image".into()))?;
    let media = match format {
        ImageFormat::Jpeg => MediaType::Jpeg,
        ImageFormat::Png => MediaType::Png,
        ImageFormat::WebP => MediaType::Webp,
        _ => return Err(PhotoError::Undecodable("not a JPEG, PNG or WebP image".into())),
    };
    if !settings.accepts(media) {
        return Err(PhotoError::Undecodable(format!("{} is not an accepted photo type", media.mime())));
    }
    let limit = settings.max_decoder_bytes;
    let mut limits = Limits::default();
    limits.max_alloc = Some(limit);
    reader.limits(limits.clone());
    // Reads the header only; the decoders allocate nothing for pixels yet.
    let mut decoder = reader.into_decoder().map_err(|e| decode_error(&e, 0, limit))?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > settings.max_pixels {
        return Err(PhotoError::TooManyPixels { width, height, max: settings.max_pixels });
    }
    // The decoded buffer comes out of the same budget as the decoder's own allocations (what
    // `ImageReader::decode` does, which this cannot use because it hides the profile and orientation).
    let needed = decoder.total_bytes();
    limits.reserve(needed).map_err(|_| PhotoError::MemoryLimit { needed, limit })?;
    decoder.set_limits(limits).map_err(|e| decode_error(&e, needed, limit))?;
    let profile = decoder.icc_profile().ok().flatten();
    let orientation = decoder.orientation().ok();
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| decode_error(&e, needed, limit))?;
    if let Some(orientation) = orientation {
        image.apply_orientation(orientation);
    }
    let (image, icc) = match profile {
        None => (image, IccOutcome::None),
        Some(profile) => to_srgb(image, &profile),
    };
    Ok((image, icc))
}

fn decode_error(e: &ImageError, needed: u64, limit: u64) -> PhotoError {
    match e {
        ImageError::Limits(_) => PhotoError::MemoryLimit { needed, limit },
        other => PhotoError::Undecodable(other.to_string()),
    }
}

/// Applies an embedded ICC profile: the pixels are converted to sRGB (8 bits per channel). A profile that
/// cannot be used (unparsable, grey or CMYK) is dropped and the pixels kept as they are.
fn to_srgb(image: DynamicImage, profile: &[u8]) -> (DynamicImage, IccOutcome) {
    use moxcms::{ColorProfile, Layout, TransformOptions};
    let Ok(source) = ColorProfile::new_from_slice(profile) else {
        return (image, IccOutcome::Dropped);
    };
    let srgb = ColorProfile::new_srgb();
    let has_alpha = image.color().has_alpha();
    let layout = if has_alpha { Layout::Rgba } else { Layout::Rgb };
    let Ok(transform) = source.create_transform_8bit(layout, &srgb, layout, TransformOptions::default()) else {
        return (image, IccOutcome::Dropped);
    };
    if has_alpha {
        let src = image.into_rgba8();
        let mut dst = src.clone();
        match transform.transform(src.as_raw(), &mut dst) {
            Ok(()) => (DynamicImage::ImageRgba8(dst), IccOutcome::Converted),
            Err(_) => (DynamicImage::ImageRgba8(src), IccOutcome::Dropped),
        }
    } else {
        let src = image.into_rgb8();
        let mut dst = src.clone();
        match transform.transform(src.as_raw(), &mut dst) {
            Ok(()) => (DynamicImage::ImageRgb8(dst), IccOutcome::Converted),
            Err(_) => (DynamicImage::ImageRgb8(src), IccOutcome::Dropped),
        }
    }
}

/// The pixels in a layout the output encoder takes: 8-bit RGB for JPEG (transparency over white), 8-bit
/// RGB or RGBA otherwise.
fn for_output(image: DynamicImage, format: OutputFormat) -> DynamicImage {
    let has_alpha = image.color().has_alpha();
    match (format, has_alpha) {
        (OutputFormat::Jpeg, true) => {
            let rgba = image.into_rgba8();
            let (w, h) = rgba.dimensions();
            let mut rgb = image::RgbImage::new(w, h);
            for (out, px) in rgb.pixels_mut().zip(rgba.pixels()) {
                let [r, g, b, a] = px.0;
                let over_white = |c: u8| {
                    let c = u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a));
                    u8::try_from((c + 127) / 255).unwrap_or(u8::MAX)
                };
                out.0 = [over_white(r), over_white(g), over_white(b)];
            }
            DynamicImage::ImageRgb8(rgb)
        }
        (_, true) => DynamicImage::ImageRgba8(image.into_rgba8()),
        (_, false) => DynamicImage::ImageRgb8(image.into_rgb8()),
    }
}

/// Scales `source` to exactly `width` × `height` (a downscale: callers never ask for more pixels) with
/// Lanczos3, libvips's filter, on the SIMD convolution of `fast_image_resize` (AVX2 or SSE4.1 where the CPU
/// has them; transparency is premultiplied while filtering, so edges do not darken).
fn scale(resizer: &mut Resizer, source: &DynamicImage, width: u32, height: u32) -> Result<DynamicImage, PhotoError> {
    let mut scaled = DynamicImage::new(width, height, source.color());
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    resizer.resize(source, &mut scaled, &options).map_err(|e| PhotoError::Encode(e.to_string()))?;
    Ok(scaled)
}

/// Encodes 8-bit RGB `image` as JPEG variant `name` with `jpeg-encoder` (AVX2 colour conversion and DCT where
/// the CPU has them): baseline, 4:4:4 (no chroma subsampling, as the variants have always been), the standard
/// tables at `quality`, a JFIF header and nothing else — no EXIF, XMP, ICC or comment segment.
fn encode_jpeg(name: String, image: &DynamicImage, quality: u8) -> Result<Rendered, PhotoError> {
    let (w, h) = (image.width(), image.height());
    let too_large = || PhotoError::Encode(format!("{w} x {h} px is larger than JPEG allows (65,535 px a side)"));
    let (width, height) = (u16::try_from(w).map_err(|_| too_large())?, u16::try_from(h).map_err(|_| too_large())?);
    let DynamicImage::ImageRgb8(rgb) = image else {
        return Err(PhotoError::Encode("JPEG variants are written from 8-bit RGB".into()));
    };
    let mut bytes = Vec::with_capacity(rgb.as_raw().len() / 8);
    let mut encoder = jpeg_encoder::Encoder::new(&mut bytes, quality);
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::F_1_1);
    encoder
        .encode(rgb.as_raw(), width, height, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| PhotoError::Encode(e.to_string()))?;
    Ok(Rendered { name, width: w, height: h, bytes })
}

/// Encodes `image` as variant `name`: the encoders write pixels only (no EXIF, XMP or ICC chunk).
fn encode(name: String, image: &DynamicImage, settings: &PhotoSettings) -> Result<Rendered, PhotoError> {
    let mut bytes = Vec::new();
    let (w, h) = (image.width(), image.height());
    let color = image.color().into();
    let result = match settings.format {
        OutputFormat::Jpeg => return encode_jpeg(name, image, settings.quality),
        OutputFormat::Png => PngEncoder::new_with_quality(&mut bytes, CompressionType::Default, PngFilter::Adaptive)
            .write_image(image.as_bytes(), w, h, color),
        OutputFormat::Webp => WebPEncoder::new_lossless(&mut bytes).write_image(image.as_bytes(), w, h, color),
    };
    result.map_err(|e| PhotoError::Encode(e.to_string()))?;
    Ok(Rendered { name, width: w, height: h, bytes })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> PhotoSettings {
        PhotoSettings {
            sizes: vec![320, 1280],
            format: OutputFormat::Jpeg,
            quality: 85,
            accepted: vec![MediaType::Jpeg, MediaType::Png, MediaType::Webp],
            max_pixels: 40_000_000,
            max_decoder_bytes: 256 << 20,
        }
    }

    fn png_of(width: u32, height: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
        let mut bytes = Vec::new();
        PngEncoder::new(&mut bytes).write_image(img.as_raw(), width, height, image::ExtendedColorType::Rgb8).unwrap();
        bytes
    }

    /// Landscape, portrait and square images scale by their long side, keep their shape and are never
    /// upscaled.
    #[test]
    fn fit_long_side_scales_down_only() {
        assert_eq!(fit_long_side(4000, 3000, 1280), (1280, 960));
        assert_eq!(fit_long_side(3000, 4000, 320), (240, 320));
        assert_eq!(fit_long_side(500, 500, 320), (320, 320));
        assert_eq!(fit_long_side(200, 100, 320), (200, 100), "smaller than the variant: kept as is");
        assert_eq!(fit_long_side(1280, 1280, 1280), (1280, 1280));
        assert_eq!(fit_long_side(10_000, 1, 320), (320, 1), "a sliver stays at least 1 px");
    }

    /// The variant names follow the sizes setting, with `full` last.
    #[test]
    fn variant_names_are_sizes_then_full() {
        assert_eq!(settings().variant_names(), ["320", "1280", "full"]);
    }

    /// Each variant has its long side (or the original's size) and is a JPEG.
    #[test]
    fn render_writes_every_variant_at_its_size() {
        let rendition = render(&png_of(1600, 900), &settings()).expect("renders");
        let sizes: Vec<_> = rendition.variants.iter().map(|v| (v.name.as_str(), v.width, v.height)).collect();
        assert_eq!(sizes, [("320", 320, 180), ("1280", 1280, 720), ("full", 1600, 900)]);
        for v in &rendition.variants {
            assert_eq!(&v.bytes[..3], &[0xFF, 0xD8, 0xFF], "{} is a JPEG", v.name);
            let decoded = image::load_from_memory(&v.bytes).expect("decodes");
            assert_eq!((decoded.width(), decoded.height()), (v.width, v.height));
        }
    }

    /// A header announcing more pixels than allowed is refused before decoding.
    #[test]
    fn too_many_pixels_is_refused_from_the_header() {
        let limits = PhotoSettings { max_pixels: 100_000, ..settings() };
        let err = render(&png_of(400, 300), &limits).expect_err("over the pixel limit");
        assert_eq!(err, PhotoError::TooManyPixels { width: 400, height: 300, max: 100_000 });
        assert_eq!(err.code(), "too_many_pixels");
    }

    /// A decoded image larger than the decoder's memory limit is refused before it is allocated.
    #[test]
    fn decoder_memory_limit_is_enforced() {
        let limits = PhotoSettings { max_decoder_bytes: 100_000, ..settings() };
        let err = render(&png_of(400, 300), &limits).expect_err("400×300 RGB needs 360,000 bytes");
        assert_eq!(err, PhotoError::MemoryLimit { needed: 360_000, limit: 100_000 });
    }

    /// Bytes that are no image, or an image type not accepted, get no variants.
    #[test]
    fn non_images_and_unaccepted_types_are_undecodable() {
        let err = render(b"%PDF-1.7 not an image", &settings()).expect_err("a PDF");
        assert_eq!(err.code(), "undecodable");
        let png_only_jpeg = PhotoSettings { accepted: vec![MediaType::Jpeg], ..settings() };
        assert_eq!(render(&png_of(10, 10), &png_only_jpeg).expect_err("PNG not accepted").code(), "undecodable");
    }

    /// An embedded non-sRGB profile (Display P3) changes the pixels (converted to sRGB), and no variant
    /// carries a profile.
    #[test]
    fn icc_profile_is_converted_to_srgb_and_not_carried() {
        let p3 = moxcms::ColorProfile::new_display_p3().encode().expect("encodes a profile");
        let img = image::RgbImage::from_pixel(64, 64, image::Rgb([0, 200, 0]));
        let mut bytes = Vec::new();
        let mut encoder = PngEncoder::new(&mut bytes);
        encoder.set_icc_profile(p3).expect("PNG takes a profile");
        encoder.write_image(img.as_raw(), 64, 64, image::ExtendedColorType::Rgb8).unwrap();
        let png = PhotoSettings { format: OutputFormat::Png, ..settings() };
        let rendition = render(&bytes, &png).expect("renders");
        assert_eq!(rendition.icc, IccOutcome::Converted);
        let full = &rendition.variants[2];
        let mut decoder = image::codecs::png::PngDecoder::new(Cursor::new(&full.bytes)).expect("a PNG");
        assert_eq!(decoder.icc_profile().expect("reads"), None, "no profile carried");
        let px = image::load_from_memory(&full.bytes).expect("decodes").into_rgb8().get_pixel(0, 0).0;
        // P3's green is outside sRGB: the conversion saturates it and pulls red up noticeably.
        assert_ne!(px, [0, 200, 0], "pixels were converted");
    }

    /// A JPEG of `width` × `height` (`channels`: 1 grey, 3 RGB, 4 CMYK) whose left half is dark red and right
    /// half light blue (grey: dark and light), with `segments` (whole APPn / COM segments) after SOI.
    fn jpeg_of(width: u16, height: u16, channels: usize, segments: &[Vec<u8>]) -> Vec<u8> {
        let (w, h) = (usize::from(width), usize::from(height));
        let mut pixels = Vec::with_capacity(w * h * channels);
        for _ in 0..h {
            for x in 0..w {
                let left = x < w / 2;
                pixels.extend_from_slice(match (channels, left) {
                    (1, true) => &[40][..],
                    (1, false) => &[220],
                    (3, true) => &[180, 20, 20],
                    (3, false) => &[40, 90, 230],
                    (_, true) => &[0, 220, 220, 40],
                    (_, false) => &[200, 120, 0, 20],
                });
            }
        }
        let color = match channels {
            1 => jpeg_encoder::ColorType::Luma,
            3 => jpeg_encoder::ColorType::Rgb,
            _ => jpeg_encoder::ColorType::Cmyk,
        };
        let mut plain = Vec::new();
        jpeg_encoder::Encoder::new(&mut plain, 90).encode(&pixels, width, height, color).expect("encodes");
        [&plain[..2], &segments.concat(), &plain[2..]].concat()
    }

    /// A segment with marker `0xFF marker` holding `payload`.
    fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
        let len = u16::try_from(payload.len() + 2).expect("a short payload");
        [&[0xFF, marker][..], &len.to_be_bytes(), payload].concat()
    }

    /// An EXIF APP1 with only IFD0's Orientation tag set to `orientation` (big-endian TIFF).
    fn exif_orientation(orientation: u16) -> Vec<u8> {
        let mut tiff = b"Exif\0\0MM\0\x2A\0\0\0\x08\0\x01".to_vec();
        tiff.extend(0x0112u16.to_be_bytes()); // Orientation
        tiff.extend(3u16.to_be_bytes()); // SHORT
        tiff.extend(1u32.to_be_bytes());
        tiff.extend(orientation.to_be_bytes());
        tiff.extend([0, 0, 0, 0, 0, 0]); // value padding, no next IFD
        segment(0xE1, &tiff)
    }

    /// The markers of `jpeg`'s segments before its scan data, after SOI.
    fn markers_before_scan(jpeg: &[u8]) -> Vec<u8> {
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "starts with SOI");
        let mut markers = Vec::new();
        let mut at = 2;
        while at + 4 <= jpeg.len() && jpeg[at] == 0xFF {
            let marker = jpeg[at + 1];
            markers.push(marker);
            if marker == 0xDA {
                break;
            }
            at += 2 + usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
        }
        markers
    }

    fn sizes_of(rendition: &Rendition) -> Vec<(&str, u32, u32)> {
        rendition.variants.iter().map(|v| (v.name.as_str(), v.width, v.height)).collect()
    }

    /// Every variant decodes to the size its record claims.
    fn assert_decodes_at_its_size(rendition: &Rendition) {
        for v in &rendition.variants {
            let decoded = image::load_from_memory(&v.bytes).expect("decodes");
            assert_eq!((decoded.width(), decoded.height()), (v.width, v.height), "variant {}", v.name);
        }
    }

    /// Odd sizes, landscape and portrait, come out at exactly the rounded long-side fit, and `full` at the
    /// original's odd size.
    #[test]
    fn odd_sized_jpegs_get_exact_variant_sizes() {
        let landscape = render(&jpeg_of(1999, 1001, 3, &[]), &settings()).expect("renders");
        assert_eq!(sizes_of(&landscape), [("320", 320, 160), ("1280", 1280, 641), ("full", 1999, 1001)]);
        assert_decodes_at_its_size(&landscape);
        let portrait = render(&jpeg_of(1001, 1999, 3, &[]), &settings()).expect("renders");
        assert_eq!(sizes_of(&portrait), [("320", 160, 320), ("1280", 641, 1280), ("full", 1001, 1999)]);
        assert_decodes_at_its_size(&portrait);
        let sliver = render(&jpeg_of(2001, 3, 3, &[]), &settings()).expect("renders");
        assert_eq!(sizes_of(&sliver), [("320", 320, 1), ("1280", 1280, 2), ("full", 2001, 3)]);
        assert_decodes_at_its_size(&sliver);
    }

    /// A JPEG smaller than every size is never upscaled: each variant keeps its size.
    #[test]
    fn a_small_jpeg_is_never_upscaled() {
        let rendition = render(&jpeg_of(301, 199, 3, &[]), &settings()).expect("renders");
        assert_eq!(sizes_of(&rendition), [("320", 301, 199), ("1280", 301, 199), ("full", 301, 199)]);
        assert_decodes_at_its_size(&rendition);
    }

    /// EXIF orientation 6 (stored sideways, shown turned 90° clockwise) is applied before scaling: a 400 × 200
    /// stored image becomes 200 × 400 variants whose top is the stored left half (red).
    #[test]
    fn exif_orientation_is_applied_to_every_variant() {
        let rendition = render(&jpeg_of(400, 200, 3, &[exif_orientation(6)]), &settings()).expect("renders");
        assert_eq!(rendition.original, (200, 400));
        assert_eq!(sizes_of(&rendition), [("320", 160, 320), ("1280", 200, 400), ("full", 200, 400)]);
        assert_decodes_at_its_size(&rendition);
        for v in &rendition.variants {
            let img = image::load_from_memory(&v.bytes).expect("decodes").into_rgb8();
            let top = img.get_pixel(v.width / 2, v.height / 8).0;
            let bottom = img.get_pixel(v.width / 2, v.height * 7 / 8).0;
            assert!(top[0] > 140 && top[2] < 70, "variant {}: top {top:?} is the red left half", v.name);
            assert!(bottom[2] > 190 && bottom[0] < 80, "variant {}: bottom {bottom:?} is the blue right half", v.name);
        }
    }

    /// EXIF (with its orientation), XMP, an ICC profile and a comment in the original: no variant has any
    /// segment but JFIF's APP0 and the image's own tables, and nothing follows the image's end.
    #[test]
    fn jpeg_variants_carry_no_metadata_segment() {
        let icc = moxcms::ColorProfile::new_srgb().encode().expect("encodes a profile");
        let segments = [
            exif_orientation(3),
            segment(0xE1, b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"/>"),
            segment(0xE2, &[&b"ICC_PROFILE\0\x01\x01"[..], &icc].concat()),
            segment(0xFE, b"GantryCam comment"),
        ];
        let mut original = jpeg_of(640, 480, 3, &segments);
        original.extend_from_slice(b"PK\x03\x04 a payload after the image");
        let rendition = render(&original, &settings()).expect("renders");
        assert_eq!(rendition.icc, IccOutcome::Converted);
        assert_eq!(sizes_of(&rendition), [("320", 320, 240), ("1280", 640, 480), ("full", 640, 480)]);
        for v in &rendition.variants {
            let markers = markers_before_scan(&v.bytes);
            let allowed = [0xE0, 0xDB, 0xC0, 0xC4, 0xDD, 0xDA];
            assert!(markers.iter().all(|m| allowed.contains(m)), "variant {}: segments {markers:02X?}", v.name);
            assert_eq!(markers.iter().filter(|&&m| m == 0xE0).count(), 1, "variant {}: one JFIF APP0", v.name);
            assert_eq!(&v.bytes[v.bytes.len() - 2..], &[0xFF, 0xD9], "variant {}: ends at EOI", v.name);
            for needle in [&b"Exif"[..], b"ns.adobe.com", b"ICC_PROFILE", b"GantryCam", b"PK\x03\x04"] {
                assert!(!v.bytes.windows(needle.len()).any(|w| w == needle), "variant {} carries {needle:?}", v.name);
            }
        }
    }

    /// A greyscale JPEG gets RGB JPEG variants of the same grey; a CMYK JPEG (Adobe) gets RGB JPEG variants.
    #[test]
    fn greyscale_and_cmyk_jpegs_get_rgb_variants() {
        let grey = render(&jpeg_of(700, 500, 1, &[]), &settings()).expect("renders");
        assert_eq!(sizes_of(&grey), [("320", 320, 229), ("1280", 700, 500), ("full", 700, 500)]);
        for v in &grey.variants {
            let img = image::load_from_memory(&v.bytes).expect("decodes");
            assert_eq!(img.color(), image::ColorType::Rgb8, "variant {}", v.name);
            let [r, g, b] = img.into_rgb8().get_pixel(v.width / 4, v.height / 2).0;
            assert!(r.abs_diff(40) < 8 && g.abs_diff(40) < 8 && b.abs_diff(40) < 8, "variant {}: grey kept", v.name);
        }
        let cmyk = render(&jpeg_of(700, 500, 4, &[]), &settings()).expect("renders");
        assert_eq!(sizes_of(&cmyk), [("320", 320, 229), ("1280", 700, 500), ("full", 700, 500)]);
        for v in &cmyk.variants {
            let img = image::load_from_memory(&v.bytes).expect("decodes");
            assert_eq!(img.color(), image::ColorType::Rgb8, "variant {}", v.name);
        }
    }

    /// A transparent PNG's JPEG variants are flattened onto white; its PNG variants keep the transparency.
    #[test]
    fn transparency_is_flattened_for_jpeg_and_kept_for_png() {
        let img = image::RgbaImage::from_fn(900, 600, |x, _| image::Rgba([200, 0, 0, if x < 450 { 0 } else { 255 }]));
        let mut png = Vec::new();
        PngEncoder::new(&mut png).write_image(img.as_raw(), 900, 600, image::ExtendedColorType::Rgba8).unwrap();
        let jpeg = render(&png, &settings()).expect("renders");
        for v in &jpeg.variants {
            let rgb = image::load_from_memory(&v.bytes).expect("decodes").into_rgb8();
            let [r, g, b] = rgb.get_pixel(v.width / 8, v.height / 2).0;
            assert!(r > 245 && g > 245 && b > 245, "variant {}: transparent is white, got {:?}", v.name, [r, g, b]);
        }
        let as_png = render(&png, &PhotoSettings { format: OutputFormat::Png, ..settings() }).expect("renders");
        for v in &as_png.variants {
            let rgba = image::load_from_memory(&v.bytes).expect("decodes").into_rgba8();
            assert_eq!(rgba.get_pixel(v.width / 8, v.height / 2).0[3], 0, "variant {}: still transparent", v.name);
            let [r, g, b, a] = rgba.get_pixel(v.width * 7 / 8, v.height / 2).0;
            assert!(r.abs_diff(200) <= 2 && g <= 2 && b <= 2 && a == 255, "variant {}: {:?}", v.name, [r, g, b, a]);
        }
    }
}
