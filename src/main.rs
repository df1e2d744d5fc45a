//! The `bulletin-watch` command line: a thin shell over the library. It
//! parses arguments, loads the configuration, opens the store, calls one
//! library function and turns its error into a message and an exit code.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

use bulletin_watch::alert::AlertConfig;
use bulletin_watch::audit::Query;
use bulletin_watch::catalog::Catalog;
use bulletin_watch::check::{Checker, Outcome, Report};
use bulletin_watch::config::{self, Config, Region, SourceKind};
use bulletin_watch::extract::{self, ExtractOptions};
use bulletin_watch::notify::Mailer;
use bulletin_watch::report::{CompileFormat, CompileRequest, ExportFormat};
use bulletin_watch::store::{BackupError, Store, StoreError};
use bulletin_watch::{audit, control, fetch, outbox, web};

#[derive(Parser)]
#[command(
    name = "bulletin-watch",
    version,
    about = "Watches provincial work-conference deployments for changes and alerts on them"
)]
struct Cli {
    /// The sources file.
    #[arg(
        long,
        global = true,
        default_value = "sources.toml",
        env = "BULLETIN_WATCH_CONFIG"
    )]
    config: PathBuf,
    /// The store folder (default: `[settings] store` of the sources file).
    #[arg(long, global = true, env = "BULLETIN_WATCH_STORE")]
    store: Option<PathBuf>,
    /// Log as JSON lines instead of human-readable text.
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
        #[arg(long)]
        json: bool,
    },
    /// The versions of one source, oldest first (all sources without SOURCE).
    History {
        source: Option<String>,
        #[arg(long)]
        json: bool,
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
    /// Alerts: pending, failing and delivered.
    Outbox {
        #[arg(long)]
        json: bool,
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
}

#[derive(Subcommand)]
enum StoreCommand {
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
}

fn parse_region(s: &str) -> std::result::Result<Region, String> {
    Region::parse(s)
        .ok_or_else(|| format!("unknown region {s:?} (华东 华北 华中 华南 西南 西北 东北)"))
}

#[derive(Subcommand)]
enum SourcesCommand {
    /// Check the file; exit non-zero on any error.
    Validate {
        /// Also fetch every source once and report whether an article (or
        /// matching listing links) can still be found.
        #[arg(long)]
        fetch: bool,
    },
    /// Show what is configured.
    List,
}

fn main() -> ExitCode {
    limit_malloc_arenas();
    let cli = Cli::parse();
    if prints_to_a_pipe(&cli.command) {
        restore_default_sigpipe();
    }
    init_logging(cli.log_json, &cli.command);
    fetch::install_crypto();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(if e.downcast_ref::<config::ConfigError>().is_some() {
                2
            } else {
                1
            })
        }
    }
}

/// glibc gives every thread that allocates its own malloc arena; with
/// tokio's workers and blocking threads that inflates resident memory for
/// no gain here. Two arenas keep the peak well under the 100 MB budget.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only adjusts allocator tuning; it is called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Commands whose output is read by another program (`… | head`): they
/// should end quietly when the reader goes away, as Unix tools do, instead
/// of failing on a broken pipe. The long-running ones keep Rust's default
/// (SIGPIPE ignored) so that a vanished peer never kills them.
fn prints_to_a_pipe(command: &Command) -> bool {
    !matches!(
        command,
        Command::Run { .. } | Command::Serve { .. } | Command::Demo { .. } | Command::Check { .. }
    )
}

fn restore_default_sigpipe() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: resetting a signal disposition before any thread is spawned.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn init_logging(json: bool, command: &Command) {
    use tracing_subscriber::EnvFilter;
    let default = match command {
        Command::Check { .. } | Command::Run { .. } => "bulletin_watch=info",
        _ => "bulletin_watch=warn",
    };
    let filter =
        EnvFilter::try_from_env("BULLETIN_WATCH_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn load_config(cli: &Cli) -> Result<Config> {
    let mut config = config::load(&cli.config)?;
    if let Some(store) = &cli.store {
        config.settings.store = store.clone();
    }
    Ok(config)
}

/// The store path without requiring a valid sources file: read-only
/// commands must work for an auditor who only has the store.
fn store_path(cli: &Cli) -> Result<PathBuf> {
    if let Some(s) = &cli.store {
        return Ok(s.clone());
    }
    Ok(load_config(cli)?.settings.store)
}

/// What alerts are rendered with: the configuration or, for an auditor who
/// has only the store (`--store`), nothing — alerts then name their sources
/// from what the store remembers.
fn alert_config(cli: &Cli) -> Result<AlertConfig> {
    match load_config(cli) {
        Ok(config) => Ok(AlertConfig::from_config(&config)),
        Err(e) if cli.store.is_some() => {
            eprintln!("warning: {e:#}\n  alerts are shown as the store alone describes them");
            Ok(AlertConfig::default())
        }
        Err(e) => Err(e),
    }
}

fn open_store(path: &Path) -> Result<Store> {
    Store::open(path).with_context(|| format!("opening store {}", path.display()))
}

fn run(cli: Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Check { sources } => {
            let config = load_config(&cli)?;
            for id in sources {
                if config.source(id).is_none() {
                    bail!("{}: no source with id {id:?}", cli.config.display());
                }
            }
            let store = Arc::new(open_store(&config.settings.store)?);
            let rt = runtime()?;
            rt.block_on(check(Arc::new(config), store, sources))
        }
        Command::Run {
            metrics,
            serve,
            token_file,
        } => {
            let web = match serve {
                Some(addr) => Some((
                    *addr,
                    web::load_token(
                        std::env::var("BULLETIN_WATCH_TOKEN").ok(),
                        token_file.as_deref(),
                    )?,
                )),
                None => None,
            };
            let opts = bulletin_watch::daemon::Options {
                config_path: cli.config.clone(),
                store: cli.store.clone(),
                metrics: *metrics,
                web,
            };
            runtime()?.block_on(bulletin_watch::daemon::run(opts))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { dir } => {
            let dir = dir.clone().unwrap_or_else(|| {
                std::env::temp_dir().join(format!("bulletin-watch-demo-{}", std::process::id()))
            });
            let mut stdout = std::io::stdout();
            runtime()?.block_on(bulletin_watch::demo::run(&dir, &mut stdout))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Parse {
            file,
            url,
            content_type,
            json,
        } => {
            let bytes =
                std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            let (doc, _) =
                extract::document(&bytes, content_type.as_deref(), &ExtractOptions::default())
                    .with_context(|| {
                        format!(
                            "{}{}",
                            file.display(),
                            url.as_deref()
                                .map(|u| format!(" ({u})"))
                                .unwrap_or_default()
                        )
                    })?;
            if *json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&audit::document_json(&doc))?
                );
            } else {
                print!("{}", audit::document_text(&doc));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::History { source, json } => print_query(
            &cli,
            &Query::History {
                source: source.clone(),
                json: *json,
            },
        ),
        Command::Show {
            source,
            version,
            json,
            raw,
        } => print_query(
            &cli,
            &Query::Show {
                source: source.clone(),
                version: *version,
                json: *json,
                raw: *raw,
            },
        ),
        Command::Diff {
            source,
            from,
            to,
            json,
        } => print_query(
            &cli,
            &Query::Diff {
                source: source.clone(),
                from: *from,
                to: *to,
                json: *json,
            },
        ),
        Command::Outbox { json } => print_query(
            &cli,
            &Query::Outbox {
                json: *json,
                config: alert_config(&cli)?,
            },
        ),
        Command::Sources { command } => match command {
            SourcesCommand::List => {
                let config = load_config(&cli)?;
                for s in &config.sources {
                    let kind = match s.kind {
                        SourceKind::Article => "article",
                        SourceKind::Listing => "listing",
                    };
                    println!(
                        "{:<16} {:<8} {} {:<6} every {:<8} {}",
                        s.id,
                        kind,
                        s.region,
                        s.province,
                        humantime::format_duration(s.interval).to_string(),
                        s.url
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
            SourcesCommand::Validate { fetch } => {
                let config = load_config(&cli)?;
                println!(
                    "{}: OK, {} sources",
                    cli.config.display(),
                    config.sources.len()
                );
                if *fetch {
                    let rt = runtime()?;
                    return rt.block_on(validate_fetch(config));
                }
                Ok(ExitCode::SUCCESS)
            }
        },
        Command::Verify { .. }
        | Command::Export { .. }
        | Command::Compile { .. }
        | Command::Store { .. } => run_audit(&cli),
        Command::Serve { listen, token_file } => serve(&cli, *listen, token_file.as_deref()),
    }
}

/// Answers a read-only query from the store, or — when a running daemon
/// holds the store — from the daemon over its control socket. Both paths
/// produce the same bytes.
fn query(cli: &Cli, q: &Query) -> Result<Vec<u8>> {
    let path = store_path(cli)?;
    // Reading must not create an empty store where there was none.
    if !path.exists() {
        bail!(
            "no store at {} (nothing checked yet? run `bulletin-watch check`, or pass --store)",
            path.display()
        );
    }
    // The lock holder is either a daemon (ask it) or another short command
    // (or a daemon still starting): try both for a few seconds.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match Store::open(&path) {
            Ok(store) => return Ok(audit::answer(&store, q)?),
            Err(StoreError::Locked { .. }) => match control::ask(&path, q) {
                Ok(out) => return Ok(out),
                Err(control::ControlError::Connect { .. })
                    if std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Err(e) => {
                    return Err(anyhow::Error::new(StoreError::Locked {
                        path: path.clone(),
                    }))
                    .with_context(|| format!("no running daemon answered ({e})"));
                }
            },
            Err(e) => return Err(e).with_context(|| format!("opening store {}", path.display())),
        }
    }
}

fn print_query(cli: &Cli, q: &Query) -> Result<ExitCode> {
    std::io::stdout().write_all(&query(cli, q)?)?;
    Ok(ExitCode::SUCCESS)
}

/// Writes to `out`, or to standard output without one.
fn emit(bytes: &[u8], out: Option<&Path>) -> Result<()> {
    match out {
        None => std::io::stdout().write_all(bytes)?,
        Some(p) => {
            std::fs::write(p, bytes).with_context(|| format!("writing {}", p.display()))?;
            eprintln!("wrote {} ({} bytes)", p.display(), bytes.len());
        }
    }
    Ok(())
}

fn locked(path: &Path, what: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "store {} is held by a running daemon: stop it before `store {what}` \
         (maintenance needs the store to itself)",
        path.display()
    )
}

/// A store opened for maintenance, which needs the store to itself.
fn open_exclusive(path: &Path, what: &str) -> Result<Store> {
    match Store::open(path) {
        Err(StoreError::Locked { .. }) => Err(locked(path, what)),
        r => r.with_context(|| format!("opening store {}", path.display())),
    }
}

/// The auditors' and editors' commands: verify, export, compile, store.
fn run_audit(cli: &Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Verify { source } => print_query(
            cli,
            &Query::Verify {
                source: source.clone(),
            },
        ),
        Command::Export {
            source,
            format,
            out,
        } => {
            let q = Query::Export {
                source: source.clone(),
                format: *format,
            };
            emit(&query(cli, &q)?, out.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Compile {
            region,
            year,
            format,
            out,
        } => {
            let config = load_config(cli)?;
            let sources = Catalog::from_config(&config);
            let q = Query::Compile {
                request: CompileRequest {
                    sources,
                    region: *region,
                    year: *year,
                    format: *format,
                },
            };
            emit(&query(cli, &q)?, out.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Store { command } => {
            let path = store_path(cli)?;
            match command {
                StoreCommand::Backup { path: to } => {
                    let store = open_exclusive(&path, "backup")?;
                    let r = store.backup_to(to).with_context(|| {
                        format!("backing up {} to {}", path.display(), to.display())
                    })?;
                    println!(
                        "backup {}: {} records in {} trees, {} bytes, sha256 {}",
                        to.display(),
                        r.records,
                        r.trees,
                        r.bytes,
                        r.sha256
                    );
                }
                StoreCommand::Restore { backup, into } => {
                    let into = into.clone().unwrap_or(path);
                    let r = Store::restore_from(backup, &into).with_context(|| {
                        format!("restoring {} into {}", backup.display(), into.display())
                    })?;
                    println!(
                        "restored {} records in {} trees into {} (backup sha256 {} checked); \
                         run `bulletin-watch verify` to check the history",
                        r.records,
                        r.trees,
                        into.display(),
                        r.sha256
                    );
                }
                StoreCommand::Compact => {
                    let r = match Store::compact(&path) {
                        Err(BackupError::Store(StoreError::Locked { .. })) => {
                            return Err(locked(&path, "compact"))
                        }
                        r => r.with_context(|| format!("compacting {}", path.display()))?,
                    };
                    println!(
                        "compacted {}: {} records; {} bytes before, {} bytes after",
                        path.display(),
                        r.records,
                        r.bytes_before,
                        r.bytes_after
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        _ => bail!("not an audit command"),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

async fn check(config: Arc<Config>, store: Arc<Store>, only: &[String]) -> Result<ExitCode> {
    let checker = Arc::new(Checker::new(config.clone(), store.clone())?);
    let sources: Vec<_> = config
        .sources
        .iter()
        .filter(|s| only.is_empty() || only.contains(&s.id))
        .cloned()
        .collect();
    let mut articles = Vec::new();
    if only.is_empty() {
        // Articles discovered on listings earlier are checked too, like the daemon does.
        articles = checker
            .article_targets()?
            .into_iter()
            .filter(|t| t.listing.is_some())
            .collect();
    }
    let bar = progress(sources.len() + articles.len());
    // At most `concurrency` checks are spawned at a time: a check's future
    // is large, and 10,000 of them spawned up front cost more memory than
    // the checks themselves.
    let concurrency = config.settings.concurrency.max(1);
    let jobs = sources
        .into_iter()
        .map(Ok)
        .chain(articles.into_iter().map(Err));
    let mut set = tokio::task::JoinSet::new();
    let mut summary = Summary::default();
    let mut settle = |r: Result<Report, tokio::task::JoinError>| -> Result<()> {
        let r = r.context("check task panicked")?;
        bar.suspend(|| r.log());
        summary.add(&r);
        Ok(())
    };
    for job in jobs {
        if set.len() >= concurrency {
            if let Some(r) = set.join_next().await {
                settle(r)?;
            }
        }
        let (checker, bar) = (checker.clone(), bar.clone());
        set.spawn(async move {
            let r = match job {
                Ok(s) => checker.check_source(&s).await,
                Err(t) => checker.check_article(&t, None).await,
            };
            bar.inc(1);
            r
        });
    }
    while let Some(r) = set.join_next().await {
        settle(r)?;
    }
    bar.finish_and_clear();
    // A manual or cron run tries every pending alert once, whatever its
    // backoff; a mail failure is reported, not fatal: the alert stays queued.
    let mailer = Mailer::from_config(&config.mail, &config.settings.store)?;
    let drained = outbox::drain(&store, &config, &mailer, true).await?;
    store.flush()?;
    println!(
        "{}, alerts sent {}, alerts failed {}",
        summary.line(),
        drained.sent,
        drained.failed
    );
    Ok(ExitCode::SUCCESS)
}

fn progress(n: usize) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(n as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} {pos}/{len} sources {wide_bar} {elapsed}",
    ) {
        bar.set_style(style);
    }
    bar
}

#[derive(Default)]
struct Summary {
    checked: usize,
    new_versions: usize,
    unchanged: usize,
    failed: usize,
    discovered: usize,
}

impl Summary {
    fn add(&mut self, r: &Report) {
        self.checked += 1;
        match &r.outcome {
            Outcome::NotModified | Outcome::Unchanged { .. } => self.unchanged += 1,
            Outcome::Stored { .. } => self.new_versions += 1,
            Outcome::Listing { discovered, .. } => self.discovered += discovered,
            Outcome::Failed { .. } => self.failed += 1,
        }
        for d in &r.discovered {
            if let Outcome::Stored { .. } = d.outcome {
                self.new_versions += 1;
            }
        }
    }

    fn line(&self) -> String {
        format!(
            "checked {}, new versions {}, unchanged {}, failed {}, discovered {}",
            self.checked, self.new_versions, self.unchanged, self.failed, self.discovered
        )
    }
}

/// `sources validate --fetch`: like a health check, fetch each source once
/// and say whether its selectors still find what they should.
async fn validate_fetch(config: Config) -> Result<ExitCode> {
    let fetcher = fetch::Fetcher::new(&config.settings)?;
    let mut bad = 0;
    for s in &config.sources {
        let result = fetcher.fetch(&s.url, None, &|u| s.host_allowed(u)).await;
        let line = match result {
            Err(e) => Err(e.to_string()),
            Ok(f) => match s.kind {
                SourceKind::Article => {
                    match extract::document(&f.body, f.content_type.as_deref(), &s.extract) {
                        Ok((doc, _)) if doc.sections.is_empty() => {
                            Err(format!("found \"{}\" but no numbered sections", doc.title))
                        }
                        Ok((doc, _)) => Ok(format!(
                            "\"{}\", {} sections",
                            doc.title,
                            doc.sections.len()
                        )),
                        Err(e) => Err(e.to_string()),
                    }
                }
                SourceKind::Listing => {
                    match bulletin_watch::decode::decode(
                        &f.body,
                        f.content_type.as_deref(),
                        s.extract.encoding.as_deref(),
                    ) {
                        Err(e) => Err(e.to_string()),
                        Ok(d) => {
                            let items = bulletin_watch::listing::items(&d.text, &f.final_url);
                            let matching = items
                                .iter()
                                .filter(|i| {
                                    s.link_pattern
                                        .as_ref()
                                        .is_some_and(|p| p.is_match(i.title()))
                                })
                                .count();
                            if items.is_empty() {
                                Err("no listing items found".to_string())
                            } else {
                                Ok(format!(
                                    "{} items, {} matching link_pattern",
                                    items.len(),
                                    matching
                                ))
                            }
                        }
                    }
                }
            },
        };
        match line {
            Ok(m) => println!("ok    {:<16} {m}", s.id),
            Err(m) => {
                bad += 1;
                println!("FAIL  {:<16} {m}", s.id);
            }
        }
    }
    Ok(if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `serve`: the web view over a store this process opens itself. The token
/// is checked before anything is opened or bound, so a misconfigured
/// exposure fails at once and touches nothing.
fn serve(cli: &Cli, listen: SocketAddr, token_file: Option<&Path>) -> Result<ExitCode> {
    let token = web::load_token(std::env::var("BULLETIN_WATCH_TOKEN").ok(), token_file)?;
    web::check_exposure(listen, token.as_deref())?;
    // An auditor may have only the store: without a sources file every
    // stored source is still listed, just not grouped by province.
    let config = match load_config(cli) {
        Ok(c) => c,
        Err(e) if cli.store.is_some() && !cli.config.exists() => {
            eprintln!("note: {e:#}; showing the store without a sources file");
            Config {
                path: cli.config.clone(),
                settings: config::Settings {
                    store: cli.store.clone().unwrap_or_default(),
                    ..Default::default()
                },
                mail: Default::default(),
                hosts: Default::default(),
                sources: Vec::new(),
            }
        }
        Err(e) => return Err(e),
    };
    let store = Arc::new(open_store(&config.settings.store)?);
    let state = web::WebState::new(store, Arc::new(config)).with_token(token);
    let rt = runtime()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        let addr = listener.local_addr()?;
        eprintln!("serving the web view on http://{addr}/ (Ctrl-C to stop)");
        web::serve(listener, state, shutdown_signal()).await?;
        Ok(ExitCode::SUCCESS)
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
