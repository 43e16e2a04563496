//! `walkout vision track`: the offline pipeline with its JSON lines on
//! stdout (one per processed frame time) and its summary on stderr.

use std::io::Write;

use super::pipeline::{self, PipelineError, RunSummary, TrackOptions};

/// Runs the pipeline, writing one line per frame time to `out`.
pub fn track(opts: &TrackOptions, out: &mut impl Write) -> Result<RunSummary, PipelineError> {
    pipeline::run(opts, |step| {
        writeln!(out, "{}", pipeline::json_line(step)).map_err(|e| PipelineError::Output(format!("stdout: {e}")))
    })
}

/// `--appearance-model none` (or an empty value) turns appearance off.
pub fn appearance_model(arg: &str) -> Option<std::path::PathBuf> {
    (!arg.is_empty() && !arg.eq_ignore_ascii_case("none")).then(|| arg.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_turns_appearance_off() {
        assert_eq!(appearance_model("none"), None);
        assert_eq!(appearance_model(""), None);
        assert_eq!(appearance_model("models/x.toml"), Some("models/x.toml".into()));
    }
}
