//! Test photos shared by the API and backend suites (included by both with `#[path]`): a photo-like JPEG with
//! GPS in its EXIF and an XMP packet, built byte by byte, and the real EXIF reader the tests check variants with.

use std::io::Cursor;

use image::ImageEncoder;

/// A photo-like JPEG of `width` × `height` (gradients plus deterministic noise, so it compresses like a
/// photo) with an EXIF block carrying a camera make and a GPS position, and an XMP packet naming the place.
pub fn jpeg_with_gps(width: u32, height: u32) -> Vec<u8> {
    let mut seed = 0x2545_f491_u32;
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let noise = (seed >> 24) as u8 / 8;
        let r = u8::try_from(x * 255 / width).unwrap().saturating_add(noise);
        let g = u8::try_from(y * 255 / height).unwrap().saturating_add(noise);
        image::Rgb([r, g, 120u8.saturating_add(noise)])
    });
    let mut plain = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut plain, 90)
        .write_image(img.as_raw(), width, height, image::ExtendedColorType::Rgb8)
        .unwrap();
    assert_eq!(&plain[..2], &[0xFF, 0xD8], "starts with SOI");
    let mut out = plain[..2].to_vec();
    out.extend(app1(&[b"Exif\0\0".as_slice(), &exif_tiff()].concat()));
    let xmp = "http://ns.adobe.com/xap/1.0/\0<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF \
               xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"><rdf:Description \
               xmlns:exif=\"http://ns.adobe.com/exif/1.0/\" exif:GPSLatitude=\"52,31.2N\"/></rdf:RDF></x:xmpmeta>";
    out.extend(app1(xmp.as_bytes()));
    out.extend_from_slice(&plain[2..]);
    out
}

/// An APP1 segment holding `payload`.
fn app1(payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(payload.len() + 2).unwrap();
    [&[0xFF, 0xE1][..], &len.to_be_bytes(), payload].concat()
}

/// A big-endian TIFF block: IFD0 with Make and a GPS IFD pointer; the GPS IFD with latitude and longitude
/// (52° 31' 12" N, 13° 24' 36" E).
fn exif_tiff() -> Vec<u8> {
    fn entry(out: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: [u8; 4]) {
        out.extend(tag.to_be_bytes());
        out.extend(kind.to_be_bytes());
        out.extend(count.to_be_bytes());
        out.extend(value);
    }
    const ASCII: u16 = 2;
    const LONG: u16 = 4;
    const RATIONAL: u16 = 5;
    // Offsets from the TIFF header: IFD0 at 8 (2 entries: 30 bytes), Make at 38 (10), GPS IFD at 48
    // (4 entries: 54 bytes), latitude at 102 (24), longitude at 126 (24).
    let mut t = b"MM\0\x2A".to_vec();
    t.extend(8u32.to_be_bytes());
    t.extend(2u16.to_be_bytes());
    entry(&mut t, 0x010F, ASCII, 10, 38u32.to_be_bytes());
    entry(&mut t, 0x8825, LONG, 1, 48u32.to_be_bytes());
    t.extend(0u32.to_be_bytes());
    t.extend(b"GantryCam\0");
    assert_eq!(t.len(), 48);
    t.extend(4u16.to_be_bytes());
    entry(&mut t, 0x0001, ASCII, 2, *b"N\0\0\0");
    entry(&mut t, 0x0002, RATIONAL, 3, 102u32.to_be_bytes());
    entry(&mut t, 0x0003, ASCII, 2, *b"E\0\0\0");
    entry(&mut t, 0x0004, RATIONAL, 3, 126u32.to_be_bytes());
    t.extend(0u32.to_be_bytes());
    assert_eq!(t.len(), 102);
    for (num, den) in [(52u32, 1u32), (31, 1), (12, 1), (13, 1), (24, 1), (36, 1)] {
        t.extend(num.to_be_bytes());
        t.extend(den.to_be_bytes());
    }
    t
}

/// The EXIF a real reader finds in `bytes`, if any.
pub fn exif_of(bytes: &[u8]) -> Option<exif::Exif> {
    exif::Reader::new().read_from_container(&mut Cursor::new(bytes)).ok()
}
