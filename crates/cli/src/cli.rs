//! The command line: global options choosing the store, and one subcommand.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Operate a chatstore store: create, migrate, check, back up, restore, clean up.
#[derive(Debug, Parser)]
#[command(name = "chatstore", version, about, long_about = None)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Which store to work on, and how to print.
///
/// Without `--store` or `--url`, the store is the one `DATABASE_URL` names (a SQLite
/// file, with `files.db` beside it or at `BLOB_STORAGE_PATH`, or a PostgreSQL server,
/// in the schema `CHATSTORE_PG_SCHEMA`), as a host configured from the environment uses.
#[derive(Debug, Args)]
pub struct Global {
    /// The directory of an embedded SQLite store (`chatstore.db` and `files.db`).
    #[arg(long, global = true, value_name = "DIR", conflicts_with = "url")]
    pub store: Option<PathBuf>,
    /// A PostgreSQL server (`postgresql://user@host:port/database`).
    #[arg(long, global = true, value_name = "URL")]
    pub url: Option<String>,
    /// The PostgreSQL schema of the store (default: `CHATSTORE_PG_SCHEMA`, else `public`).
    #[arg(long, global = true, value_name = "NAME")]
    pub schema: Option<String>,
    /// Print machine-readable JSON on stdout instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the store (both files, or the schema) at the current schema version.
    Init,
    /// Show, apply or roll back schema migrations.
    Migrate(MigrateArgs),
    /// Check the store's integrity; exit code 0 when healthy, 2 when not.
    Check(CheckArgs),
    /// Sizes, row counts, largest conversations and users, active sessions.
    Stats,
    /// Back the store up (both files as one consistent pair), or list backups.
    Backup(BackupArgs),
    /// Replace the store with a backup, after verifying it.
    Restore(RestoreArgs),
    /// Reclaim space and refresh the query planner's statistics.
    Vacuum,
    /// Delete expired sessions, purge old soft-deleted conversations, sweep orphan blobs.
    Cleanup(CleanupArgs),
    /// Manage user accounts.
    Users(UsersArgs),
    /// Token usage and its cost.
    Usage(UsageArgs),
    /// Search a user's messages.
    Search(SearchArgs),
    /// Copy the whole store into another (SQLite or PostgreSQL), resumably, and verify.
    Copy(CopyArgs),
    /// Export a user's data (or one conversation) as JSON, Markdown and CSV with files.
    Export(ExportArgs),
    /// Import the Python app's database into the store (created if missing), resumably.
    Import(ImportArgs),
}

/// `migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: MigrateAction,
}

/// `migrate status|up|down`.
#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// The current and latest version and every migration.
    Status,
    /// Apply migrations up to the latest version (or `--to`).
    Up {
        /// The version to stop at.
        #[arg(long, value_name = "N")]
        to: Option<u32>,
        /// Do not back up a SQLite store before upgrading it.
        #[arg(long)]
        no_backup: bool,
    },
    /// Roll back to version `--to` (drops the data of removed tables: back up first).
    Down {
        /// The version to go back to.
        #[arg(long, value_name = "N", required = true)]
        to: u32,
        /// Do not back up a SQLite store before rolling it back.
        #[arg(long)]
        no_backup: bool,
    },
}

/// `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Also re-read every attachment and compare it with its hash (reads all of them).
    #[arg(long)]
    pub contents: bool,
}

/// `backup`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BackupArgs {
    /// `list`, or nothing to take a backup.
    #[command(subcommand)]
    pub action: Option<BackupAction>,
    /// The backup directory (default: `backups` inside a SQLite store's directory).
    #[arg(long, value_name = "D")]
    pub dir: Option<PathBuf>,
    /// Keep only the newest N backups in the directory, deleting older ones.
    #[arg(long, value_name = "N")]
    pub keep: Option<usize>,
}

/// `backup list`.
#[derive(Debug, Subcommand)]
pub enum BackupAction {
    /// List the backups in the directory, newest first.
    List {
        /// The backup directory.
        #[arg(long, value_name = "D")]
        dir: Option<PathBuf>,
    },
}

/// `restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A backup directory entry (its name from `backup list`, or its path).
    #[arg(value_name = "FILE_OR_BACKUP")]
    pub backup: PathBuf,
    /// The backup directory to find a backup named by its name in.
    #[arg(long, value_name = "D")]
    pub dir: Option<PathBuf>,
    /// Replace the existing store (without it, restore only creates a store that is not there).
    #[arg(long)]
    pub force: bool,
}

/// `cleanup`.
#[derive(Debug, Args)]
pub struct CleanupArgs {
    /// Say what would be removed, removing nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Purge conversations soft-deleted more than this many days ago.
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub purge_after_days: u32,
    /// Purge archived conversations archived more than this many days ago (seed 000's
    /// "delete archived after 90 days"); kept when not given.
    #[arg(long, value_name = "DAYS")]
    pub delete_archived_after_days: Option<u32>,
    /// Purge conversations with no message for more than this many days, whatever
    /// their status; kept when not given.
    #[arg(long, value_name = "DAYS")]
    pub delete_idle_after_days: Option<u32>,
    /// Drop embedding cache entries cached more than this many days ago.
    #[arg(long, value_name = "DAYS")]
    pub embedding_cache_max_age_days: Option<u32>,
    /// Keep at most this many embedding cache entries (the newest).
    #[arg(long, value_name = "N")]
    pub embedding_cache_max_entries: Option<u64>,
    /// Do not hide idle conversations.
    #[arg(long)]
    pub no_hide_idle: bool,
}

/// `users`.
#[derive(Debug, Args)]
pub struct UsersArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: UsersAction,
}

/// `users create|deactivate|activate|reset-password|list`.
#[derive(Debug, Subcommand)]
pub enum UsersAction {
    /// Create a user; the password is prompted for, or read from stdin.
    Create {
        /// The login name.
        username: String,
        /// The email address.
        email: String,
        /// The display name.
        #[arg(long)]
        full_name: Option<String>,
        /// Read the password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Deactivate a user (they can no longer log in; their sessions end).
    Deactivate {
        /// Username or email.
        user: String,
    },
    /// Activate a deactivated user again.
    Activate {
        /// Username or email.
        user: String,
    },
    /// Set a new password (prompted for, or read from stdin).
    ResetPassword {
        /// Username or email.
        user: String,
        /// Read the password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List {
        /// Only active (`true`) or deactivated (`false`) users.
        #[arg(long)]
        active: Option<bool>,
    },
}

/// `usage`.
#[derive(Debug, Args)]
pub struct UsageArgs {
    /// One user (username or email); all users without it.
    #[arg(long, value_name = "U")]
    pub user: Option<String>,
    /// How to break the usage down.
    #[arg(long, value_enum, default_value_t = UsageBy::Provider)]
    pub by: UsageBy,
}

/// How `usage` groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UsageBy {
    /// Per provider and kind of operation.
    Provider,
    /// Per provider and model.
    Model,
    /// Per UTC day (needs `--user`).
    Day,
}

/// `search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Whose messages (username or email).
    #[arg(long, value_name = "U", required = true)]
    pub user: String,
    /// Most hits shown.
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
    /// The words to look for.
    #[arg(required = true, num_args = 1.., value_name = "QUERY")]
    pub query: Vec<String>,
}

/// `copy`: the store the global options name is copied into the one named here.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("to").required(true).args(["to_store", "to_url"]))]
pub struct CopyArgs {
    /// The target: the directory of a SQLite store (created if missing).
    #[arg(long, value_name = "DIR")]
    pub to_store: Option<PathBuf>,
    /// The target: a PostgreSQL server.
    #[arg(long, value_name = "URL")]
    pub to_url: Option<String>,
    /// The target's PostgreSQL schema (created if missing).
    #[arg(long, value_name = "NAME", requires = "to_url")]
    pub to_schema: Option<String>,
    /// Rows per transaction on the target.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch: u32,
    /// Skip the comparison of both stores after copying.
    #[arg(long)]
    pub no_verify: bool,
}

/// `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Whose data (username or email).
    #[arg(long, value_name = "U")]
    pub user: String,
    /// A new or empty directory to write the export to.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Only this conversation (its id).
    #[arg(long, value_name = "ID")]
    pub conversation: Option<String>,
}

/// Which of the Python app's databases, or which conversation export, `import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImportSource {
    /// Seed 000's `organic-fishstick.db`: users, conversations, messages.
    Seed000,
    /// Seed 001's `chatbot.db` with its `files.db` (`--files`, else the one beside it):
    /// users, conversations, messages with attachments, message costs.
    Seed001,
    /// Seed 002's RAG database: users and roles, documents and chunks, conversations,
    /// messages with RAG metadata, agent logs, token usage.
    Seed002,
    /// ChatGPT's `conversations.json` ("Export data") into the account `--user` names.
    #[value(name = "chatgpt")]
    ChatGpt,
    /// Claude's `conversations.json` (its data export) into the account `--user` names.
    Claude,
    /// chatstore's own export: the directory `chatstore export` wrote (its user,
    /// conversations, attachments, documents and usage, with their ids).
    Chatstore,
}

/// `import`: the Python app's database into the store the global options name.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The schema of the database.
    #[arg(value_enum)]
    pub source: ImportSource,
    /// The database file or export (only read: it is never changed); for `chatstore`,
    /// the export's directory.
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
    /// The attachment database (`files.db`), for seed001 (default: the one beside PATH).
    #[arg(long, value_name = "FILES_DB")]
    pub files: Option<PathBuf>,
    /// The account an export's conversations go to (username, or email with an `@`);
    /// required for `chatgpt` and `claude`, refused for the databases.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Stop at the first bad record, before anything is written, instead of skipping it.
    #[arg(long)]
    pub strict: bool,
}
