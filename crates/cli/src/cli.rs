//! The command line, as clap parses it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Back up and recover the client key share of an MPC wallet.
///
/// There is deliberately no option that takes a password (or an access
/// token) as a plain argument: arguments are visible to every user of the
/// machine (`ps`, /proc) and end up in shell histories. Use the hidden
/// prompt, `--password-stdin` or `--password-env VAR`.
#[derive(Debug, Parser)]
#[command(name = "share-backup", version, about, long_about = None, max_term_width = 110)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,

    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Where cipher texts are stored: file:///dir, s3://bucket/prefix, az://container/prefix,
    /// gs://bucket/prefix or memory:// [default: file:// under the user's data directory]
    #[arg(long, global = true, env = "SHARE_BACKUP_STORE", value_name = "URL")]
    pub store: Option<String>,

    /// The TOML config file [default: config.toml in the user's config directory, if it exists]
    #[arg(long, global = true, env = "SHARE_BACKUP_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Who is told that a backup is stored: `log` appends JSON lines to a file, `portal` calls
    /// Portal's client API [default: log]
    #[arg(long, global = true, env = "SHARE_BACKUP_NOTIFIER", value_name = "KIND")]
    pub notifier: Option<NotifierKind>,

    /// The notification log of `--notifier log` [default: notifications.jsonl in the user's data directory]
    #[arg(long, global = true, env = "SHARE_BACKUP_NOTIFY_LOG", value_name = "FILE")]
    pub notify_log: Option<PathBuf>,

    /// Machine-readable output: one JSON object per line on stdout (progress events, then the result)
    #[arg(long, global = true)]
    pub json: bool,

    /// No progress output
    #[arg(long, short, global = true)]
    pub quiet: bool,

    /// Never prompt; fail instead when a secret is needed and not given otherwise
    #[arg(long, global = true, env = "SHARE_BACKUP_NO_PROMPT", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_prompt: bool,

    /// Log what happens (ids, methods, timings; never a secret) to stderr; twice for more
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// The notifier told `stored_client_backup_share`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifierKind {
    /// A JSON-lines log file (the default).
    Log,
    /// Portal's client API (`PORTAL_API_URL`, `PORTAL_CLIENT_API_KEY`).
    Portal,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the linked providers, their settings, the default chain and the default method
    Providers,
    /// Back up a share: encrypt it, store the cipher text, acknowledge it
    Backup(BackupArgs),
    /// Recover a share from its current backup
    Recover(RecoverArgs),
    /// Check a user's backups without any secret: present, well-formed, provider key still there
    Verify(VerifyArgs),
    /// List the methods a user has an acknowledged backup with
    Methods(UserArgs),
    /// Re-wrap a user's current backup under a new password (or a new provider key)
    Rotate(RotateArgs),
    /// Pick password KDF costs for a target time on this machine
    Calibrate(CalibrateArgs),
    /// Check that a backup could be written and read now (credentials, password policy, store)
    Probe(ProbeArgs),
}

#[derive(Debug, Args)]
pub struct UserArgs {
    /// The user whose share it is (the integrator's user id)
    #[arg(long, short)]
    pub user: String,
}

/// Ids bound into the envelope (they must be given again to recover).
#[derive(Debug, Args, Clone, Default)]
pub struct Binding {
    /// The custodian id to bind the backup to
    #[arg(long, value_name = "ID")]
    pub custodian: Option<String>,
    /// The client id to bind the backup to
    #[arg(long, value_name = "ID")]
    pub client: Option<String>,
}

/// Where the password comes from when it is not typed at the prompt.
#[derive(Debug, Args, Clone, Default)]
pub struct PasswordArgs {
    /// Read the password (or PIN) from the first line of stdin (for scripts; the line break is not part of it)
    #[arg(long, visible_alias = "pin-stdin", conflicts_with = "password_env")]
    pub password_stdin: bool,
    /// Read the password (or PIN) from this environment variable (for scripts)
    #[arg(long, visible_alias = "pin-env", value_name = "VAR")]
    pub password_env: Option<String>,
}

/// Where a Google access token comes from (method gdrive).
#[derive(Debug, Args, Clone)]
pub struct TokenArgs {
    /// Read the user's Google OAuth access token from this environment variable
    #[arg(long, value_name = "VAR", default_value = "GOOGLE_OAUTH_ACCESS_TOKEN")]
    pub access_token_env: String,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub user: UserArgs,
    /// The backup method (a provider's id); omitted, the default chain picks one
    #[arg(long, short)]
    pub method: Option<String>,
    /// Read the share from this file
    #[arg(long, value_name = "FILE", required_unless_present = "share_stdin", conflicts_with = "share_stdin")]
    pub share_file: Option<PathBuf>,
    /// Read the share from stdin (all of it)
    #[arg(long, conflicts_with = "password_stdin")]
    pub share_stdin: bool,
    #[command(flatten)]
    pub password: PasswordArgs,
    #[command(flatten)]
    pub token: TokenArgs,
    #[command(flatten)]
    pub binding: Binding,
}

#[derive(Debug, Args)]
pub struct RecoverArgs {
    #[command(flatten)]
    pub user: UserArgs,
    /// The backup method; omitted, the user's only method (or the first of the default chain)
    #[arg(long, short)]
    pub method: Option<String>,
    /// Write the share to this file (created with mode 0600), or `-` for stdout
    #[arg(long, short, value_name = "FILE")]
    pub out: PathBuf,
    /// Replace the output file if it exists
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub password: PasswordArgs,
    #[command(flatten)]
    pub token: TokenArgs,
    #[command(flatten)]
    pub binding: Binding,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub user: UserArgs,
    /// The method to check; omitted, every method the user has
    #[arg(long, short)]
    pub method: Option<String>,
    #[command(flatten)]
    pub token: TokenArgs,
    #[command(flatten)]
    pub binding: Binding,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    #[command(flatten)]
    pub user: UserArgs,
    /// The method of the backup to rotate
    #[arg(long, short, default_value = "password")]
    pub method: String,
    #[command(flatten)]
    pub password: PasswordArgs,
    /// Read the new password (or PIN) from stdin (after the current one, when both come from stdin)
    #[arg(long, visible_alias = "new-pin-stdin", conflicts_with = "new_password_env")]
    pub new_password_stdin: bool,
    /// Read the new password (or PIN) from this environment variable
    #[arg(long, visible_alias = "new-pin-env", value_name = "VAR")]
    pub new_password_env: Option<String>,
    #[command(flatten)]
    pub token: TokenArgs,
    #[command(flatten)]
    pub binding: Binding,
}

#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// How long one key derivation should take, in milliseconds
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub target_ms: u64,
    /// KDF mixing rounds
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub time_cost: u32,
    /// KDF threads
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=64))]
    pub parallelism: u8,
}

#[derive(Debug, Args)]
pub struct ProbeArgs {
    #[command(flatten)]
    pub user: UserArgs,
    /// The method to probe; omitted, the default chain picks one
    #[arg(long, short)]
    pub method: Option<String>,
    #[command(flatten)]
    pub password: PasswordArgs,
    #[command(flatten)]
    pub token: TokenArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn there_is_no_option_that_takes_a_password_or_token_as_an_argument() {
        let cmd = Cli::command();
        for sub in cmd.get_subcommands() {
            for arg in sub.get_arguments() {
                let long = arg.get_long().unwrap_or_default();
                let takes_value = arg.get_action().takes_values();
                let names_a_source = long.ends_with("-env") || long.ends_with("-stdin");
                if long.contains("password") || long.contains("token") {
                    assert!(
                        names_a_source,
                        "{} --{long} would take a secret as an argument (takes value: {takes_value})",
                        sub.get_name()
                    );
                }
            }
        }
    }

    #[test]
    fn share_stdin_and_password_stdin_cannot_be_combined() {
        let r = Cli::try_parse_from([
            "share-backup",
            "backup",
            "--user",
            "alice",
            "--method",
            "password",
            "--share-stdin",
            "--password-stdin",
        ]);
        assert!(r.is_err());
    }

    #[test]
    fn backup_needs_a_share_source() {
        let r = Cli::try_parse_from(["share-backup", "backup", "--user", "alice"]);
        assert!(r.is_err());
        let r = Cli::try_parse_from(["share-backup", "backup", "--user", "alice", "--share-file", "s"]);
        assert!(r.is_ok());
    }
}
