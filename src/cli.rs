//! The `bulletin-watch` command-line grammar: every command, option and
//! help text, kept apart from `main.rs`, which only acts on them.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use bulletin_watch::config::Region;
use bulletin_watch::model::MatrixFormat;
use bulletin_watch::report::{CompileFormat, ExportFormat};

#[derive(Parser)]
#[command(
    name = "bulletin-watch",
    version,
    about = "Watches provincial work-conference deployments for changes and alerts on them"
)]
pub struct Cli {
    /// The sources file.
    #[arg(
        long,
        global = true,
        default_value = "sources.toml",
        env = "BULLETIN_WATCH_CONFIG"
    )]
    pub config: PathBuf,
    /// The store folder (default: `[settings] store` of the sources file).
    #[arg(long, global = true, env = "BULLETIN_WATCH_STORE")]
    pub store: Option<PathBuf>,
    /// Log as JSON lines instead of human-readable text.
    #[arg(long, global = true)]
    pub log_json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// One pass over all (or the named) sources, then deliver pending alerts.
    Check {
        /// Check only these source ids (repeatable).
        #[arg(long = "source")]
        sources: Vec<String>,
    },
    /// The daemon: watch every source on its interval until stopped.
    Run {
        /// Serve `/healthz` and Prometheus `/metrics` on this address (e.g. 127.0.0.1:9187).
        #[arg(long)]
        metrics: Option<std::net::SocketAddr>,
        /// Also serve the read-only web view on this address (a non-loopback
        /// address needs BULLETIN_WATCH_TOKEN or --token-file).
        #[arg(long)]
        serve: Option<SocketAddr>,
        /// File holding the web view's access token.
        #[arg(long, requires = "serve")]
        token_file: Option<PathBuf>,
    },
    /// A self-contained tour on bundled sample pages: no mail server, no internet.
    Demo {
        /// Folder for the demo's sources.toml and store (must not exist or be empty).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Extract a saved page offline, exactly as `check` would.
    Parse {
        file: PathBuf,
        /// The URL the page came from (for messages and relative links).
        #[arg(long)]
        url: Option<String>,
        /// The HTTP Content-Type it was served with (charset hint).
        #[arg(long)]
        content_type: Option<String>,
        #[arg(long, conflicts_with = "explain")]
        json: bool,
        /// Say how the page was read: the element taken as the article and
        /// its scores, where the title and date came from, what was left
        /// out, and each section boundary with its rule.
        #[arg(long)]
        explain: bool,
    },
    /// The versions of one source, oldest first (all sources without SOURCE).
    History {
        source: Option<String>,
        #[arg(long)]
        json: bool,
        /// The timeline of one section (a path as in `diff --json`, or
        /// `_preamble`): every version in which it changed, with its diff.
        #[arg(long, requires = "source")]
        section: Option<String>,
    },
    /// Search every section of the latest versions (or of all versions):
    /// words joined by spaces must all match, "phrases" match as written,
    /// `a OR b` matches either, `-word` excludes.
    Search {
        #[arg(allow_hyphen_values = true)]
        query: String,
        /// Only this region (华东 华北 华中 华南 西南 西北 东北).
        #[arg(long, value_parser = parse_region)]
        region: Option<Region>,
        /// Only this province (as configured, e.g. 江苏省).
        #[arg(long)]
        province: Option<String>,
        /// Only articles published (or, undated, fetched) in this year.
        #[arg(long)]
        year: Option<i16>,
        /// Only this source.
        #[arg(long)]
        source: Option<String>,
        /// Search every stored version, not only the latest of each source.
        #[arg(long)]
        all_versions: bool,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Provinces × terms: which provinces' latest deployments mention each
    /// term, with hit counts and the sections.
    Matrix {
        #[arg(required = true)]
        terms: Vec<String>,
        /// Only this region (华东 华北 华中 华南 西南 西北 东北).
        #[arg(long, value_parser = parse_region)]
        region: Option<Region>,
        /// Only articles published (or, undated, fetched) in this year.
        #[arg(long)]
        year: Option<i16>,
        /// markdown, html or json.
        #[arg(long, default_value = "markdown")]
        format: MatrixFormat,
    },
    /// A version's sections (default the latest), or its raw bytes.
    Show {
        source: String,
        #[arg(long)]
        version: Option<u32>,
        #[arg(long, conflicts_with = "raw")]
        json: bool,
        /// Write the bytes exactly as fetched to standard output.
        #[arg(long)]
        raw: bool,
    },
    /// Section-by-section changes between two versions (default the last two).
    Diff {
        source: String,
        from: Option<u32>,
        to: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// Alerts: pending, failing and delivered, per channel.
    Outbox {
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        command: Option<OutboxCommand>,
    },
    /// Inspect the sources file.
    Sources {
        #[command(subcommand)]
        command: SourcesCommand,
    },
    /// Recompute every hash and walk every chain; exit 1 at the first break.
    Verify {
        #[arg(long)]
        source: Option<String>,
    },
    /// Every version with its metadata and sections, for scripts or review.
    Export {
        #[arg(long)]
        source: Option<String>,
        /// jsonl, csv or html.
        #[arg(long)]
        format: ExportFormat,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The regional compilation of the latest deployments, for editors.
    Compile {
        /// Only this region (华东 华北 华中 华南 西南 西北 东北).
        #[arg(long, value_parser = parse_region)]
        region: Option<Region>,
        /// Only articles published (or, undated, fetched) in this year.
        #[arg(long)]
        year: Option<i16>,
        /// markdown or html.
        #[arg(long, default_value = "markdown")]
        format: CompileFormat,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Backup, restore and compaction (the daemon must be stopped).
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// A read-only web view of sources, versions, diffs, raw evidence and alerts.
    Serve {
        /// Address to listen on. Any non-loopback address needs an access
        /// token (BULLETIN_WATCH_TOKEN or --token-file).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// File holding the access token; takes precedence over BULLETIN_WATCH_TOKEN.
        #[arg(long)]
        token_file: Option<PathBuf>,
    },
    /// Get a trusted timestamp (RFC 3161) over the whole history from every
    /// configured TSA now (the running daemon does it, if one holds the store).
    Anchor,
    /// The stored trusted timestamps: time, TSA, Merkle root, sources covered.
    Anchors {
        #[arg(long, conflicts_with = "export")]
        json: bool,
        /// Write each anchor's token, data and an OpenSSL recipe into DIR.
        #[arg(long, value_name = "DIR")]
        export: Option<PathBuf>,
    },
    /// Alert channels: try them before an alert depends on them.
    Notify {
        #[command(subcommand)]
        command: NotifyCommand,
    },
}

#[derive(Subcommand)]
pub enum OutboxCommand {
    /// Make permanently refused deliveries pending again: all of them, the
    /// one with key ID, or those of one channel (`e-mail` for e-mail).
    Retry {
        id: Option<String>,
        #[arg(long, conflicts_with = "id")]
        channel: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum NotifyCommand {
    /// Send one test message through each chat channel and e-mail, and
    /// print each verdict with the platform's code and message; exit 1 if
    /// any failed.
    Test {
        /// Only this channel id (`email` for the e-mail recipients).
        #[arg(long)]
        channel: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum StoreCommand {
    /// Write a consistent, checksummed copy of the whole store to PATH.
    Backup { path: PathBuf },
    /// Rebuild a store from a backup (into the configured store folder
    /// unless --into is given); never overwrites a non-empty folder.
    Restore {
        backup: PathBuf,
        #[arg(long)]
        into: Option<PathBuf>,
    },
    /// Rewrite the store into a fresh folder to reclaim space.
    Compact,
    /// Rebuild the search index (`<store>/index/`) from the store.
    Reindex,
}

fn parse_region(s: &str) -> std::result::Result<Region, String> {
    Region::parse(s)
        .ok_or_else(|| format!("unknown region {s:?} (华东 华北 华中 华南 西南 西北 东北)"))
}

#[derive(Subcommand)]
pub enum SourcesCommand {
    /// Check the file; exit non-zero on any error.
    Validate {
        /// Also fetch every source once and report whether an article (or
        /// matching listing links) can still be found.
        #[arg(long)]
        fetch: bool,
    },
    /// Show what is configured.
    List,
    /// How the latest stored version of a source was read (as `parse
    /// --explain` does it), with the source's own selectors.
    Explain {
        /// A configured source or an article discovered on a listing.
        id: String,
    },
}
