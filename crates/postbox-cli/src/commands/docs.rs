//! `postbox completions` and `postbox man`: shell completions and manual pages, generated from the
//! command line's own definition so that they cannot drift from it.

use std::io::{self, Write as _};
use std::path::Path;

use anyhow::Context as _;
use clap::CommandFactory as _;

use crate::args::{Cli, CompletionsArgs, ManArgs};

/// Prints the completion script for the shell asked for.
///
/// # Errors
///
/// Writing to stdout.
pub(crate) fn completions(args: &CompletionsArgs) -> anyhow::Result<()> {
    let mut command = Cli::command();
    // Generated into memory first: the generator panics on a failed write, and stdout may be a
    // closed pipe.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "postbox", &mut script);
    let mut out = io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(())
}

/// Writes `postbox.1` and `postbox-COMMAND.1` for every command into the directory asked for.
///
/// # Errors
///
/// Creating the directory or writing a page, naming the path.
pub(crate) fn man(args: &ManArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create directory {}", args.dir.display()))?;
    let command = Cli::command();
    write_page(&args.dir, "postbox", command.clone())?;
    for sub in command.get_subcommands() {
        // The page is postbox-COMMAND(1), as git's are; its synopsis shows `postbox COMMAND`.
        let name = format!("postbox-{}", sub.get_name());
        let page = sub
            .clone()
            .display_name(name.clone())
            .bin_name(format!("postbox {}", sub.get_name()));
        write_page(&args.dir, &name, page)?;
    }
    Ok(())
}

/// Renders `command`'s page and writes it to `DIR/NAME.1`.
fn write_page(dir: &Path, name: &str, command: clap::Command) -> anyhow::Result<()> {
    let path = dir.join(format!("{name}.1"));
    let mut page = Vec::new();
    clap_mangen::Man::new(command)
        .render(&mut page)
        .with_context(|| format!("cannot render the manual page {name}"))?;
    std::fs::write(&path, page).with_context(|| format!("cannot write {}", path.display()))
}
