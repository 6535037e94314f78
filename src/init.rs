//! `batchconf init [DIR]`: an editable copy of the built-in contract and cases, written to
//! `DIR/schemas/` and `DIR/cases/` (DIR defaults to the current directory, like `cargo init`), for
//! `batchconf run --schemas DIR/schemas --cases DIR/cases`, and the recorded exchanges of
//! `DIR/cases/recorded/` for `batchconf validate`.
//!
//! Existing files are never overwritten without `--force`, and a refusal writes nothing at all, so
//! an edited copy is not half-replaced.

use std::path::{Path, PathBuf};

use crate::builtin::{CASES, CASES_DIR, RECORDED, RECORDED_DIR, SCHEMAS, SCHEMAS_DIR};
use crate::error::{Error, SetupError, Verdict};

/// Writes the copy; returns the files written, in order.
pub fn init(dir: &Path, force: bool) -> Result<Vec<PathBuf>, SetupError> {
    let files: Vec<(PathBuf, &str)> = [(SCHEMAS_DIR, SCHEMAS), (CASES_DIR, CASES), (RECORDED_DIR, RECORDED)]
        .iter()
        .flat_map(|(folder, list)| list.iter().map(move |(name, text)| (dir.join(folder).join(name), *text)))
        .collect();
    if !force {
        let existing: Vec<&PathBuf> = files.iter().map(|(p, _)| p).filter(|p| p.exists()).collect();
        if let Some(first) = existing.first() {
            let others = match existing.len() - 1 {
                0 => String::new(),
                1 => " and 1 other file".to_string(),
                n => format!(" and {n} other files"),
            };
            return Err(SetupError::Argument(format!(
                "not overwriting `{}`{others} (give `--force` to replace them with the built-in copy)",
                first.display()
            )));
        }
    }
    let mut written = Vec::new();
    for (path, text) in files {
        let fail = |e: std::io::Error| SetupError::Input { file: path.display().to_string(), reason: e.to_string() };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(fail)?;
        }
        std::fs::write(&path, text).map_err(fail)?;
        written.push(path);
    }
    Ok(written)
}

/// `batchconf init`: writes the copy and says how to use it.
pub fn command(dir: &Path, force: bool) -> Result<Verdict, Error> {
    let written = init(dir, force)?;
    println!("wrote {} files:", written.len());
    for path in &written {
        println!("  {}", path.display());
    }
    let (schemas, cases) = (dir.join(SCHEMAS_DIR), dir.join(CASES_DIR));
    println!(
        "edit them, then: batchconf run --schemas {} --cases {}",
        shell_word(&schemas.display().to_string()),
        shell_word(&cases.display().to_string())
    );
    Ok(Verdict::Conforms)
}

/// A path as one word a POSIX shell reads back unchanged.
fn shell_word(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+:@,".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_copy_that_loads_and_refuses_to_overwrite() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("x");
        let written = init(&dir, false).unwrap();
        assert_eq!(written.len(), SCHEMAS.len() + CASES.len() + RECORDED.len());
        assert!(dir.join("cases/recorded/published-example.json").is_file());
        let contract = crate::contract::Contract::load(&dir.join("schemas")).unwrap();
        let cases = crate::cases::load_dir(&dir.join("cases"), &contract).unwrap();
        assert_eq!(cases.len(), CASES.len());

        // An edit survives a second `init`, which names the file and writes nothing.
        let edited = dir.join("cases/bad-credentials.json");
        std::fs::write(&edited, "{}").unwrap();
        std::fs::remove_file(dir.join("schemas/manifest.json")).unwrap();
        let e = init(&dir, false).unwrap_err().to_string();
        // All but the deleted manifest and the file named are the "others".
        let others = format!("error.schema.json` and {} other files", SCHEMAS.len() + CASES.len() + RECORDED.len() - 2);
        assert!(e.contains(&others) && e.contains("--force"), "{e}");
        assert!(!dir.join("schemas/manifest.json").exists(), "a refusal writes nothing");
        assert_eq!(std::fs::read_to_string(&edited).unwrap(), "{}");

        init(&dir, true).unwrap();
        assert_ne!(std::fs::read_to_string(&edited).unwrap(), "{}");
        assert!(dir.join("schemas/manifest.json").exists());
    }

    #[test]
    fn paths_are_quoted_for_the_shell() {
        assert_eq!(shell_word("x/schemas"), "x/schemas");
        assert_eq!(shell_word("my dir/it's"), r"'my dir/it'\''s'");
    }
}
