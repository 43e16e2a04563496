//! The shipped `walkout.example.toml` must load, and must describe the defaults.

use std::path::Path;
use walkout::config::Config;

#[test]
fn example_config_loads_and_matches_the_defaults() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("walkout.example.toml");
    let loaded = Config::load(Some(&path), std::iter::empty()).expect("example config loads");
    let defaults = Config::default();
    assert_eq!(toml::to_string(&loaded).unwrap(), toml::to_string(&defaults).unwrap());
    // Secrets serialise redacted, so compare the database URL itself.
    assert_eq!(loaded.database.url.expose(), defaults.database.url.expose());
}
