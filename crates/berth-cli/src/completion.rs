//! `completion bash|zsh|fish|powershell` (docker's command), from the CLI's
//! own definition with clap_complete; and the man pages, one per command,
//! from the same definition with clap_mangen (the quick start installs them).

use std::path::PathBuf;

use clap::{Args, CommandFactory};

use crate::messages::prog;
use crate::{CliError, Result};

#[derive(Args, Debug)]
pub struct CompletionArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
pub struct ManPagesArgs {
    /// The directory to write `berth.1`, `berth-run.1` … into
    dir: PathBuf,
}

pub fn completion(a: &CompletionArgs) -> Result {
    use std::io::Write as _;
    let mut cmd = crate::Cli::command();
    // Into memory first: clap_complete panics on a write error (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, prog(), &mut script);
    match std::io::stdout().write_all(&script) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

pub fn man_pages(a: &ManPagesArgs) -> Result {
    std::fs::create_dir_all(&a.dir)?;
    clap_mangen::generate_to(crate::Cli::command(), &a.dir)
        .map_err(|e| CliError::Failed(format!("writing man pages to {}: {e}", a.dir.display())))
}
