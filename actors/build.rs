//! Build script: unpacks the bundled breached-password list (`src/accounts/breached_passwords.txt.gz`, gzipped
//! in the repository) into `OUT_DIR`, where `accounts::password` includes it as it is searched: from the
//! executable's pages, not a copy on the heap.

use std::io::Read;

fn main() {
    let source = "src/accounts/breached_passwords.txt.gz";
    println!("cargo:rerun-if-changed={source}");
    let packed = std::fs::read(source).expect("the bundled breached-password list is in the repository");
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(packed.as_slice())
        .read_to_end(&mut text)
        .expect("the bundled breached-password list is a valid gzip file");
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("breached_passwords.txt"), text).expect("OUT_DIR is writable");
}
