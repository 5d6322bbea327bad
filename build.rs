//! Build script: records the git commit the binary is built from as `GANTRY_BUILD_COMMIT` (for
//! `gantry_build_info{commit}`). A `GANTRY_BUILD_COMMIT` set in the build environment wins (Docker builds
//! have no `.git`); without either it is `unknown`.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-env-changed=GANTRY_BUILD_COMMIT");
    let commit = std::env::var("GANTRY_BUILD_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=GANTRY_BUILD_COMMIT={commit}");
    // Rebuild when this checkout's HEAD moves (a commit or a checkout), not when other branches do.
    if let Some(git_dir) = git(&["rev-parse", "--git-dir"]) {
        println!("cargo:rerun-if-changed={git_dir}/HEAD");
    }
    if let (Some(common), Some(head_ref)) =
        (git(&["rev-parse", "--git-common-dir"]), git(&["symbolic-ref", "-q", "HEAD"]))
    {
        // A missing file would rerun this script on every build: name only the ones that exist.
        for path in [format!("{common}/{head_ref}"), format!("{common}/packed-refs")] {
            if std::path::Path::new(&path).exists() {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
}
