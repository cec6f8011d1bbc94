//! `backup keygen`: an age identity for encrypted snapshots (the format of `age-keygen`), and
//! `keygen -y` to show the recipient of an identity. Also where the restore commands pick
//! their identity: `--identity` over the job's `encryption.identity_file`.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::CliError;
use super::out::{eprint_line, outln};
use crate::cli::IdentityArgs;
use crate::config::JobConfig;
use crate::encryption::{IdentitySource, generate};

/// The identity for reading `job`'s encrypted snapshots, if one is given anywhere.
pub fn identity(job: &JobConfig, args: &IdentityArgs) -> Option<IdentitySource> {
    match &args.identity {
        Some(path) => Some(IdentitySource {
            path: path.clone(),
            passphrase_file: args.identity_passphrase_file.clone(),
        }),
        None => job.encryption.identity.clone().map(|mut id| {
            if let Some(p) = &args.identity_passphrase_file {
                id.passphrase_file = Some(p.clone());
            }
            id
        }),
    }
}

pub fn keygen(output: Option<&Path>) -> Result<i32, CliError> {
    let (text, recipient) = generate(chrono::Utc::now());
    match output {
        None => {
            // As age-keygen: the identity on stdout, its recipient on stderr.
            super::out::print_line(text.trim_end())?;
            eprint_line(&format!("Public key: {}", recipient.to_text()));
        }
        Some(path) => {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| {
                    CliError::failed(
                        format!("cannot create {}: {e}", path.display()),
                        Some(
                            "give a new file name: an existing identity is never overwritten"
                                .into(),
                        ),
                    )
                })?;
            f.write_all(text.as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(|e| CliError::Failed(format!("writing {}: {e}", path.display())))?;
            outln!("{}", recipient.to_text())?;
            eprint_line(&format!(
                "wrote the identity to {} (mode 0600); its recipient, above, goes in `recipients` ({}).\nkeep the identity off the machines that are backed up, with an offline copy: without it no encrypted snapshot can be restored.",
                path.display(),
                recipient.info()
            ));
        }
    }
    Ok(0)
}

/// `keygen -y`: the recipient line and fingerprint of each identity in a file.
pub fn show(source: IdentitySource) -> Result<i32, CliError> {
    let ids = source
        .load()
        .map_err(|r| CliError::failed(r.message, Some(r.hint)))?;
    for r in ids.recipients() {
        outln!("{}  # {}", r.to_text(), r.info())?;
    }
    Ok(0)
}
