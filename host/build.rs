//! Points the configure page's assets at host/ui/dist, which `make ui`
//! builds, or at a stand-in page saying to build it.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let ui = manifest.join("ui");
    let built = ui.join("dist");
    let dir = if ["index.html", "app.js", "app.css"]
        .iter()
        .all(|f| built.join(f).is_file())
    {
        built
    } else {
        ui.join("unbuilt")
    };
    // The whole directory: a path that does not exist (dist/, before the
    // first `make ui`) would make cargo run this on every build.
    println!("cargo:rerun-if-changed={}", ui.display());
    println!("cargo:rustc-env=CAIRN_UI_DIR={}", dir.display());
}
