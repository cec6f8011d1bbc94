//! The command-line shape (clap). Parsed arguments go to `commands::dispatch`; nothing here
//! does any work.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "backup",
    version,
    about = "Scheduled, secure backups over SFTP: streamed, verified, committed atomically"
)]
pub struct Cli {
    /// Main config file; `jobs.d/*.toml` beside it are merged in [default:
    /// $BACKUP_CONFIG, else /etc/backup-agent/config.toml]. For `backup vault`: the vault's
    /// config [default: $BACKUP_VAULT_CONFIG, else /etc/backup-agent/vault.toml].
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// More log output (-v: debug, -vv: trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only warnings and errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// The identity that decrypts encrypted snapshots, for restore, cat and verify --read.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct IdentityArgs {
    /// An age identity file or an SSH private key (default: the job's
    /// `encryption.identity_file`).
    #[arg(short = 'i', long, value_name = "FILE")]
    pub identity: Option<PathBuf>,
    /// A file holding the identity's passphrase (default: the job's
    /// `encryption.identity_passphrase_file`).
    #[arg(long, value_name = "FILE")]
    pub identity_passphrase_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run jobs now, in the foreground.
    Run {
        /// Jobs to run.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        jobs: Vec<String>,
        /// Run every job in the config.
        #[arg(long)]
        all: bool,
        /// Show what would be read and where it would go; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Wait for a running instance of the job instead of refusing.
        #[arg(long)]
        wait: bool,
        /// Make this machine the owner of the job's history on the remote, in place of the
        /// machine recorded there (a replaced server taking over its predecessor's history).
        #[arg(long)]
        take_over: bool,
    },
    /// Run the scheduler until SIGTERM; SIGHUP reloads the config.
    Daemon,
    /// List committed snapshots on the remote.
    List {
        job: String,
        /// Which destination of the job to read (default: the first that answers).
        #[arg(long, value_name = "NAME")]
        remote: Option<String>,
        /// Machine-readable output (documented in the README).
        #[arg(long)]
        json: bool,
    },
    /// Re-read remote snapshots and compare them with their checksums.
    Verify {
        job: String,
        /// Which destination of the job to read (default: the first that answers).
        #[arg(long, value_name = "NAME")]
        remote: Option<String>,
        /// Snapshot id or `latest` (default: latest).
        snapshot: Option<String>,
        /// Verify every snapshot.
        #[arg(long, conflicts_with = "snapshot")]
        all: bool,
        /// Read the files back instead of hashing them on the server; an encrypted snapshot
        /// is also decrypted and decompressed when an identity is at hand.
        #[arg(long)]
        read: bool,
        #[command(flatten)]
        key: IdentityArgs,
    },
    /// Download, verify and unpack a snapshot.
    Restore {
        job: String,
        /// Which destination of the job to read (default: the first that answers).
        #[arg(long, value_name = "NAME")]
        remote: Option<String>,
        /// Snapshot id or `latest`.
        #[arg(default_value = "latest")]
        snapshot: String,
        /// Directory to restore into.
        #[arg(long)]
        target: PathBuf,
        /// Only these paths (as stored: absolute paths of the sources).
        paths: Vec<PathBuf>,
        /// Restore into a non-empty directory.
        #[arg(long)]
        force: bool,
        /// Do not restore file ownership (default when not root).
        #[arg(long)]
        no_owner: bool,
        /// Create the snapshot's device nodes (as root only; otherwise each is a warning).
        #[arg(long)]
        devices: bool,
        #[command(flatten)]
        key: IdentityArgs,
    },
    /// Stream one stored file, decompressed and verified, to stdout.
    Cat {
        job: String,
        /// Which destination of the job to read (default: the first that answers).
        #[arg(long, value_name = "NAME")]
        remote: Option<String>,
        /// Snapshot id or `latest`.
        snapshot: String,
        /// `app.sql` for app.sql.zst, `files.tar`, or `details.json` of an encrypted snapshot.
        name: String,
        #[command(flatten)]
        key: IdentityArgs,
    },
    /// Make an age identity for encrypted snapshots and print its recipient.
    Keygen {
        /// Write the identity to FILE (created with mode 0600; never overwritten) instead of
        /// stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Print the recipient and fingerprint of an existing identity instead.
        #[arg(short = 'y', value_name = "IDENTITY", conflicts_with = "output")]
        show: Option<PathBuf>,
        /// Passphrase of the identity given with -y.
        #[arg(long, value_name = "FILE", requires = "show")]
        identity_passphrase_file: Option<PathBuf>,
    },
    /// Apply the retention policy now.
    Prune {
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        jobs: Vec<String>,
        #[arg(long)]
        all: bool,
        /// Show what would be removed; remove nothing.
        #[arg(long)]
        dry_run: bool,
        /// Prune only this destination of each job (default: every destination, each with
        /// its own policy).
        #[arg(long, value_name = "NAME")]
        remote: Option<String>,
    },
    /// Validate the config and what a run needs on this machine (keys, known_hosts, sources,
    /// programs, state_dir); with --connect also test each remote.
    Check {
        #[arg(long)]
        connect: bool,
        /// Only validate the config, e.g. in CI on a machine that is not the target host.
        #[arg(long, conflicts_with = "connect")]
        config_only: bool,
    },
    /// Last result and next scheduled run of each job.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Print the server's host keys as known_hosts lines, for the operator to check and pin.
    HostKey {
        /// Remote name from the config.
        remote: String,
    },
    /// On the backup server: seal, check and rotate append-only histories (vault.toml).
    Vault {
        #[command(subcommand)]
        command: VaultCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum VaultCommand {
    /// One pass over every repository under the roots; exit 1 when any had an error.
    Run,
    /// Passes every half `seal_delay` until SIGTERM (the backup-vault service).
    Watch,
    /// What the last passes found, per repository.
    Status {
        #[arg(long)]
        json: bool,
    },
}

impl Cli {
    /// The agent's config file: `--config`, else `$BACKUP_CONFIG`, else the default.
    pub fn config_path(&self) -> PathBuf {
        self.config_or("BACKUP_CONFIG", crate::config::DEFAULT_CONFIG_PATH)
    }

    /// vault.toml: `--config`, else `$BACKUP_VAULT_CONFIG`, else the default.
    pub fn vault_config_path(&self) -> PathBuf {
        self.config_or(
            "BACKUP_VAULT_CONFIG",
            crate::vault::config::DEFAULT_VAULT_CONFIG,
        )
    }

    fn config_or(&self, var: &str, default: &str) -> PathBuf {
        self.config
            .clone()
            .or_else(|| {
                std::env::var_os(var)
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            })
            .unwrap_or_else(|| PathBuf::from(default))
    }
}
