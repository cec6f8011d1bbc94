//! Build helper for the packages: writes the man pages (`backup.1` and one `backup-CMD.1` per
//! subcommand, as git does) and the bash, zsh and fish completions of `backup`, all generated
//! from the real `backup_agent::cli::Cli`, so they can never drift from the binary.
//!
//! Usage: `backup-agent-gen-assets OUT_DIR` -> OUT_DIR/man/*.1, OUT_DIR/completions/{backup.bash,
//! _backup, backup.fish}. packaging/build.sh runs it; nothing ships this program.

use std::error::Error;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, italic, roman};

/// `.TP` and friends take no arguments here.
const NO_ARGS: [&str; 0] = [];

type Result<T> = std::result::Result<T, Box<dyn Error>>;

fn main() {
    let Some(out) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: backup-agent-gen-assets OUT_DIR");
        std::process::exit(2);
    };
    if let Err(e) = generate(&out) {
        eprintln!(
            "error: cannot generate man pages and completions in {}: {e}",
            out.display()
        );
        std::process::exit(1);
    }
}

fn generate(out: &Path) -> Result<()> {
    let man_dir = out.join("man");
    let comp_dir = out.join("completions");
    fs_create(&man_dir)?;
    fs_create(&comp_dir)?;

    let mut cmd = backup_agent::cli::Cli::command().disable_help_subcommand(true);
    // build() fills in display names ("backup-run") and the propagated global options.
    cmd.build();
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let man = Man::new(sub.clone());
        let path = man_dir.join(man.get_filename());
        let mut f = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        man.render(&mut f)?;
        write_see_also(&mut f, &[("backup", "1")])?;
    }

    let path = man_dir.join("backup.1");
    let mut f = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Man::new(cmd.clone()).render(&mut f)?;
    write_main_extra(&mut f, &cmd)?;
    f.flush()?;

    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut cmd, "backup", &comp_dir)?;
    }
    Ok(())
}

fn fs_create(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()).into())
}

/// What an operator looks for in `man backup` beyond the options: files, environment, exit
/// codes (DESIGN.md's contract), and the per-command pages.
fn write_main_extra(w: &mut dyn Write, cmd: &clap::Command) -> Result<()> {
    let mut r = Roff::default();
    r.control("SH", ["FILES"]);
    for (path, what) in [
        (
            "/etc/backup-agent/config.toml",
            "Main configuration: [agent], [remotes.NAME], [jobs.NAME].",
        ),
        (
            "/etc/backup-agent/jobs.d/*.toml",
            "Drop-ins merged into the main file, in name order; one file per job is the usual layout.",
        ),
        (
            "/var/lib/backup-agent/",
            "State directory: job locks, last results, metrics.",
        ),
        (
            "/usr/share/doc/backup-agent/examples/",
            "Example configurations.",
        ),
        (
            "/etc/backup-agent/vault.toml",
            "On a backup server: the vault's configuration (backup vault; example in /usr/share/doc/backup-agent/vault.toml.example).",
        ),
    ] {
        r.control("TP", NO_ARGS);
        r.text([italic(path)]);
        r.text([roman(what)]);
    }
    r.control("SH", ["ENVIRONMENT"]);
    r.control("TP", NO_ARGS);
    r.text([bold("BACKUP_CONFIG")]);
    r.text([roman("Path of the main configuration file, as --config.")]);
    r.control("TP", NO_ARGS);
    r.text([bold("BACKUP_VAULT_CONFIG")]);
    r.text([roman(
        "Path of vault.toml for backup vault (default /etc/backup-agent/vault.toml), as --config.",
    )]);
    r.control("SH", ["EXIT STATUS"]);
    for (code, what) in [
        ("0", "Success."),
        ("1", "The job failed; nothing was committed."),
        ("2", "Usage or configuration error."),
        (
            "3",
            "Committed, with warnings (files that vanished or could not be read).",
        ),
    ] {
        r.control("TP", NO_ARGS);
        r.text([bold(code)]);
        r.text([roman(what)]);
    }
    r.to_writer(w)?;
    let mut pages: Vec<(String, &str)> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| (format!("backup-{}", s.get_name()), "1"))
        .collect();
    pages.push(("systemd.exec".into(), "5"));
    let refs: Vec<(&str, &str)> = pages.iter().map(|(n, s)| (n.as_str(), *s)).collect();
    write_see_also(w, &refs)
}

fn write_see_also(w: &mut dyn Write, pages: &[(&str, &str)]) -> Result<()> {
    let mut r = Roff::default();
    r.control("SH", ["SEE ALSO"]);
    let mut line = Vec::new();
    for (i, (name, section)) in pages.iter().enumerate() {
        if i > 0 {
            line.push(roman(", "));
        }
        line.push(bold(*name));
        line.push(roman(format!("({section})")));
    }
    r.text(line);
    r.to_writer(w)?;
    Ok(())
}
