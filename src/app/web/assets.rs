//! The app's files, embedded in the binary from `web/shopper/` (so `walkout
//! serve` needs nothing beside it), with their content types and one
//! version: a hash over all of them, used as the ETag and as the service
//! worker's cache name, so any change reaches installed apps.

use sha2::Digest;
use std::sync::LazyLock;

/// One embedded file, served at `/app/<path>`.
pub struct Asset {
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $type:expr) => {
        Asset {
            path: $path,
            content_type: $type,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/shopper/", $path)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const PNG: &str = "image/png";

/// Every file of the app except the service worker (a template, see [`service_worker`]).
pub static ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("manifest.webmanifest", "application/manifest+json"),
    asset!("js/app.js", JS),
    asset!("js/api.js", JS),
    asset!("js/account.js", JS),
    asset!("js/device.js", JS),
    asset!("js/entry.js", JS),
    asset!("js/qr.js", JS),
    asset!("js/receipts.js", JS),
    asset!("js/router.js", JS),
    asset!("js/ui.js", JS),
    asset!("icons/icon-192.png", PNG),
    asset!("icons/icon-512.png", PNG),
    asset!("icons/maskable-512.png", PNG),
    asset!("icons/apple-touch-icon.png", PNG),
];

const SERVICE_WORKER: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/shopper/sw.js"));

/// The embedded file at `path` (relative to `/app/`).
pub fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

/// The shell page every app route answers with.
pub fn shell() -> &'static Asset {
    find("index.html").expect("index.html is embedded")
}

/// 16 hex digits of SHA-256 over every embedded file, paths included.
pub static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut hash = sha2::Sha256::new();
    for a in ASSETS {
        hash.update(a.path.as_bytes());
        hash.update((a.body.len() as u64).to_le_bytes());
        hash.update(a.body);
    }
    hash.update(SERVICE_WORKER.as_bytes());
    hash.finalize()[..8].iter().map(|b| format!("{b:02x}")).collect()
});

/// The URLs the service worker keeps for offline use: the shell at `/app/`
/// and every asset (the shell's own file name is only ever served as `/app/`).
pub fn precache_urls() -> Vec<String> {
    let files = ASSETS.iter().filter(|a| a.path != "index.html").map(|a| format!("/app/{}", a.path));
    std::iter::once("/app/".to_owned()).chain(files).collect()
}

/// The service worker with this build's version and precache list filled in.
pub static SERVICE_WORKER_JS: LazyLock<String> = LazyLock::new(|| {
    let urls = serde_json::to_string(&precache_urls()).expect("strings serialise");
    SERVICE_WORKER.replacen("__VERSION__", &VERSION, 1).replacen("__PRECACHE__", &urls, 1)
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_embedded_once_and_not_empty() {
        for (i, a) in ASSETS.iter().enumerate() {
            assert!(!a.body.is_empty(), "{} is empty", a.path);
            assert!(ASSETS[i + 1..].iter().all(|b| b.path != a.path), "{} twice", a.path);
        }
        assert_eq!(shell().content_type, "text/html; charset=utf-8");
        assert!(find("nope.js").is_none());
    }

    #[test]
    fn the_service_worker_gets_the_version_and_every_url() {
        let sw = &*SERVICE_WORKER_JS;
        assert!(!sw.contains("__VERSION__") && !sw.contains("__PRECACHE__"));
        assert!(sw.contains(&format!("const VERSION = \"{}\";", *VERSION)));
        for url in precache_urls() {
            assert!(sw.contains(&format!("\"{url}\"")), "{url} not precached");
        }
        assert_eq!(VERSION.len(), 16);
    }

    #[test]
    fn every_module_the_app_imports_is_embedded() {
        for a in ASSETS.iter().filter(|a| a.path.ends_with(".js")) {
            let text = std::str::from_utf8(a.body).unwrap();
            for import in text.lines().filter_map(|l| l.split(" from \"./").nth(1)) {
                let file = import.split('"').next().unwrap();
                assert!(find(&format!("js/{file}")).is_some(), "{} imports {file}, which is not embedded", a.path);
            }
        }
    }
}
