//! Finding and loading the ONNX Runtime shared library. `ort` is built with
//! `load-dynamic`, so nothing is downloaded at build time; the library comes
//! from the PyPI `onnxruntime` wheel that `make` unpacks into the project's
//! own `.local/onnxruntime/`. Lookup order: the `onnxruntime.library_path`
//! config key, then `ORT_DYLIB_PATH`, then that install location.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Where `make` installs the library, relative to the project root.
pub const PROJECT_INSTALL_DIR: &str = ".local/onnxruntime";

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(
        "ONNX Runtime library not found (looked at: {tried}); run `make setup` to install it, \
         or set onnxruntime.library_path / ORT_DYLIB_PATH"
    )]
    NotFound { tried: String },
    #[error("cannot load ONNX Runtime from {path}: {reason}")]
    Load { path: PathBuf, reason: String },
}

/// The loaded runtime: where it came from and its version.
#[derive(Debug, Clone)]
pub struct LoadedRuntime {
    pub path: PathBuf,
    pub version: String,
}

static ENVIRONMENT: OnceLock<(ort::environment::Environment, LoadedRuntime)> = OnceLock::new();

/// Candidate library paths in lookup order.
pub fn candidates(configured: &str, env_var: Option<&str>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if !configured.is_empty() {
        out.push(PathBuf::from(configured));
    }
    if let Some(p) = env_var.filter(|p| !p.is_empty()) {
        out.push(PathBuf::from(p));
    }
    for root in [PathBuf::from("."), PathBuf::from(env!("CARGO_MANIFEST_DIR"))] {
        out.push(root.join(PROJECT_INSTALL_DIR).join("libonnxruntime.so"));
    }
    out
}

/// The first candidate that exists.
pub fn locate(configured: &str) -> Result<PathBuf, RuntimeError> {
    let env_var = std::env::var("ORT_DYLIB_PATH").ok();
    let all = candidates(configured, env_var.as_deref());
    all.iter().find(|p| p.is_file()).cloned().ok_or_else(|| RuntimeError::NotFound {
        tried: all.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
    })
}

/// Loads the library once per process and creates the global environment.
/// Later calls return the first load, whatever path they pass.
pub fn init(configured: &str) -> Result<LoadedRuntime, RuntimeError> {
    if let Some((_, loaded)) = ENVIRONMENT.get() {
        return Ok(loaded.clone());
    }
    let path = locate(configured)?;
    let load_err = |reason: String| RuntimeError::Load { path: path.clone(), reason };
    let environment = ort::init_from(&path)
        .map_err(|e| load_err(e.to_string()))?
        .with_name("walkout")
        .build()
        .map_err(|e| load_err(e.to_string()))?;
    let path = canonical(&path);
    let version = version_from_file_name(&path).unwrap_or_else(|| ort::info().to_owned());
    let loaded = LoadedRuntime { path, version };
    let (_, loaded) = ENVIRONMENT.get_or_init(|| (environment, loaded));
    Ok(loaded.clone())
}

/// The process-wide environment created by [`init`] (model sessions are
/// built on it; `ort` allows one per process).
pub fn environment(configured: &str) -> Result<&'static ort::environment::Environment, RuntimeError> {
    init(configured)?;
    Ok(&ENVIRONMENT.get().expect("init stored the environment").0)
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_owned())
}

/// `libonnxruntime.so.1.32.0` -> `1.32.0` (the wheel's build info names no
/// release, and `ort` keeps the library's own version string private).
fn version_from_file_name(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let version = name.strip_prefix("libonnxruntime.so.")?;
    version.split('.').all(|p| p.parse::<u32>().is_ok()).then(|| version.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_key_comes_before_environment_before_project_install() {
        let c = candidates("/cfg/libonnxruntime.so", Some("/env/libonnxruntime.so"));
        assert_eq!(c[0], PathBuf::from("/cfg/libonnxruntime.so"));
        assert_eq!(c[1], PathBuf::from("/env/libonnxruntime.so"));
        assert!(c[2].ends_with(".local/onnxruntime/libonnxruntime.so"));
        assert_eq!(candidates("", None).len(), 2);
    }

    #[test]
    fn version_is_read_from_the_library_file_name() {
        assert_eq!(version_from_file_name(Path::new("/x/libonnxruntime.so.1.32.0")).as_deref(), Some("1.32.0"));
        assert_eq!(version_from_file_name(Path::new("/x/libonnxruntime.so")), None);
    }

    #[test]
    fn missing_library_says_how_to_install_it() {
        let e = RuntimeError::NotFound { tried: "/a, /b".into() };
        assert!(e.to_string().contains("make setup") && e.to_string().contains("/a, /b"), "{e}");
    }
}
