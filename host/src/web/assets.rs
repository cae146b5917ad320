//! The configure page, built by `make ui` from host/ui/ (Preact, bundled
//! by esbuild) and compiled into the binary, so that the page works with no
//! network and loads nothing from elsewhere. A binary built without `make
//! ui` serves a page saying how to build it (see host/build.rs).

pub const INDEX_HTML: &[u8] = include_bytes!(concat!(env!("CAIRN_UI_DIR"), "/index.html"));
pub const APP_JS: &[u8] = include_bytes!(concat!(env!("CAIRN_UI_DIR"), "/app.js"));
pub const APP_CSS: &[u8] = include_bytes!(concat!(env!("CAIRN_UI_DIR"), "/app.css"));
