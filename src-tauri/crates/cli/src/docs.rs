//! Shell completions and man pages, generated from the same clap definitions that parse
//! the command line, so the packages' pages and completions never drift from it.

use std::path::Path;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::{Cli, EXIT_UNKNOWN};

/// The shells the packages ship completions for.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

impl From<CompletionShell> for Shell {
    fn from(s: CompletionShell) -> Shell {
        match s {
            CompletionShell::Bash => Shell::Bash,
            CompletionShell::Zsh => Shell::Zsh,
            CompletionShell::Fish => Shell::Fish,
        }
    }
}

/// Writes the completion script for `shell` to standard output.
pub fn completions(shell: CompletionShell) -> u8 {
    let mut cmd = Cli::command();
    let name = cmd.get_name().to_string();
    clap_complete::generate(Shell::from(shell), &mut cmd, name, &mut std::io::stdout());
    0
}

/// Writes `headroom-cli.1` and one `headroom-cli-<sub>.1` page per subcommand into `dir`.
pub fn man_pages(dir: &Path) -> u8 {
    let result =
        std::fs::create_dir_all(dir).and_then(|()| clap_mangen::generate_to(Cli::command(), dir));
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!(
                "headroom-cli: cannot write the man pages to {}: {e}",
                dir.display()
            );
            EXIT_UNKNOWN
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subcommand_gets_a_man_page() {
        let dir = tempfile_dir();
        assert_eq!(man_pages(&dir), 0);
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .expect("the pages' directory")
            .map(|e| {
                e.expect("an entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        for sub in Cli::command().get_subcommands() {
            if sub.is_hide_set() {
                continue;
            }
            let page = format!("headroom-cli-{}.1", sub.get_name());
            assert!(names.contains(&page), "no {page} in {names:?}");
        }
        let main = std::fs::read_to_string(dir.join("headroom-cli.1")).expect("the main page");
        assert!(main.contains(".TH headroom-cli 1"), "{main}");
        assert!(
            main.contains("Nagios"),
            "the subcommands' help is in the page"
        );
        std::fs::remove_dir_all(&dir).expect("remove the pages");
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("headroom-man-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }
}
