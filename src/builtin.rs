//! The default contract (`schemas/`) and cases (`cases/*.json`), built into the binary so that an
//! installed `batchconf` works from any directory with no checkout present. `--schemas` and
//! `--cases` read a directory instead (`batchconf init` writes an editable copy of these).
//!
//! The lists are written out by hand (no build script, no extra crate); a test keeps them equal to
//! the directories, so a file added to `schemas/` or `cases/` cannot be left out of the binary.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where a contract or a set of cases came from, for the first line of every run and for error
/// messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The copy built into the binary.
    BuiltIn,
    /// A directory given with `--schemas` or `--cases`.
    Dir(PathBuf),
}

impl Origin {
    /// `Dir` for a directory the user gave, `BuiltIn` without one.
    pub fn of(dir: Option<&Path>) -> Origin {
        dir.map_or(Origin::BuiltIn, |d| Origin::Dir(d.to_path_buf()))
    }

    /// How to name one file of this origin in a message: its path, or `built-in <folder>/<name>`.
    pub fn file(&self, folder: &str, name: &str) -> String {
        match self {
            Origin::BuiltIn => format!("built-in {folder}/{name}"),
            Origin::Dir(dir) => dir.join(name).display().to_string(),
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::BuiltIn => f.write_str("built-in"),
            Origin::Dir(dir) => write!(f, "{}", dir.display()),
        }
    }
}

/// The folder names, as in the repository and as `batchconf init` writes them.
pub const SCHEMAS_DIR: &str = "schemas";
pub const CASES_DIR: &str = "cases";

macro_rules! files {
    ($folder:literal: $($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../", $folder, "/", $name)))),*]
    };
}

/// `schemas/`: file name and text.
pub const SCHEMAS: &[(&str, &str)] = files!("schemas":
    "error.schema.json",
    "manifest.json",
    "request-headers.schema.json",
    "request.schema.json",
    "response-200.schema.json",
);

/// `cases/*.json` (not `cases/recorded/`, which holds recorded exchanges for `validate`): file
/// name and text.
pub const CASES: &[(&str, &str)] = files!("cases":
    "activate-deactivate.json",
    "bad-credentials.json",
    "concurrent-batches.json",
    "edge-batches.json",
    "every-action-unknown-ids.json",
    "force-delete-is-final.json",
    "invalid-requests.json",
    "near-misses.json",
    "ordinary-batches.json",
    "project-isolation.json",
    "published-example-corrected.json",
    "published-example-typo.json",
    "random-batches.json",
    "repeated-ids.json",
    "restore-undoes-delete.json",
    "unknown-fields.json",
);

/// `cases/recorded/`: recorded exchanges for `batchconf validate` (the README's examples), which
/// `batchconf init` writes too, so that they work with no checkout.
pub const RECORDED_DIR: &str = "cases/recorded";

/// `cases/recorded/`: file name and text.
pub const RECORDED: &[(&str, &str)] = files!("cases/recorded":
    "chrome-console-session.har",
    "published-example-corrected.json",
    "published-example.har",
    "published-example.json",
    "schemathesis-reference-server.har",
);

#[cfg(test)]
mod tests {
    use super::*;

    /// The files of a repository folder the binary must carry: every regular file (`*.json` for
    /// cases, which is what `--cases` reads), sorted.
    fn on_disk(folder: &str) -> Vec<String> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file() && (folder != CASES_DIR || p.extension().is_some_and(|x| x == "json")))
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// The texts are equal by construction (`include_str!`); only the lists of names can drift.
    #[test]
    fn the_built_in_lists_are_the_folders() {
        for (folder, list) in [(SCHEMAS_DIR, SCHEMAS), (CASES_DIR, CASES), (RECORDED_DIR, RECORDED)] {
            let mut ours: Vec<String> = list.iter().map(|(n, _)| n.to_string()).collect();
            ours.sort();
            assert_eq!(ours, on_disk(folder), "the list in src/builtin.rs must name every file of {folder}/");
        }
    }

    #[test]
    fn origins_read_as_the_run_prints_them() {
        assert_eq!(Origin::of(None).to_string(), "built-in");
        assert_eq!(Origin::of(Some(Path::new("x/cases"))).to_string(), "x/cases");
        assert_eq!(Origin::BuiltIn.file("cases", "a.json"), "built-in cases/a.json");
        assert_eq!(Origin::Dir("x/cases".into()).file("cases", "a.json"), "x/cases/a.json");
    }
}
