//! Embeds the web pages' third-party bundles (`ui/dist/`, made by `ui/build.mjs` at set-up time)
//! so that the node serves `/ui` offline from any directory. When they are missing (a build
//! without `scripts/setup.sh`), a stub takes their place that makes the page say so: never a
//! silent half-working page.

use std::path::Path;

const BUNDLES: [&str; 2] = ["circomlib.js", "snarkjs.min.js"];

fn main() {
    // The manifest directory as cargo sets it for this run, not as it was when this script was
    // compiled (`env!`): cargo hashes path packages relative to the workspace, so a target
    // directory shared by two checkouts reuses one compiled build script for both.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dist = Path::new(&manifest).join("../ui/dist");
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    println!("cargo:rerun-if-changed={}", dist.display());
    for name in BUNDLES {
        let src = dist.join(name);
        println!("cargo:rerun-if-changed={}", src.display());
        let dst = Path::new(&out).join(name);
        if src.exists() {
            std::fs::copy(&src, &dst).expect("copy a ui bundle");
        } else {
            println!(
                "cargo:warning=ui/dist/{name} is missing: /ui will say so (run scripts/setup.sh)"
            );
            std::fs::write(
                &dst,
                format!(
                    "throw new Error(\"ui/dist/{name} was not built: run scripts/setup.sh (npm ci and node build.mjs in ui/) and rebuild\");"
                ),
            )
            .expect("write a ui stub");
        }
    }
}
