//! The `bulletin-watch` command line: a thin shell over the library. It
//! parses arguments, loads the configuration, opens the store, calls one
//! library function and turns its error into a message and an exit code.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::Parser;

use bulletin_watch::alert::AlertConfig;
use bulletin_watch::audit::Query;
use bulletin_watch::catalog::Catalog;
use bulletin_watch::config::{self, Config};
use bulletin_watch::daemon::shutdown::stop_requested;
use bulletin_watch::extract;
use bulletin_watch::model::{ExtractOptions, MatrixRequest, SearchRequest};
use bulletin_watch::report::CompileRequest;
use bulletin_watch::search::SearchIndex;
use bulletin_watch::store::{self, BackupError, Store, StoreError};
use bulletin_watch::{audit, control, evidence, fetch, runner, validate, web};

mod cli;
use cli::{Cli, Command, NotifyCommand, OutboxCommand, SourcesCommand, StoreCommand};

fn main() -> ExitCode {
    tune_malloc();
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

/// glibc's malloc, tuned to give memory back:
/// - Every thread that allocates gets its own arena; with tokio's workers,
///   blocking threads and the search index's threads that inflates
///   resident memory for no gain here. One arena (each thread still has
///   its cache of small blocks): the daemon at 100,000 sources building its
///   index held 18 MB less than with two, and a first pass over 1,000 pages
///   took the same CPU (median 2.03 s of 7 runs each).
/// - By default the size from which an allocation is its own mapping grows
///   to that of the largest one freed (up to 32 MB): after the first large
///   buffer (a 15 MB configuration read, a search index's commit) every
///   later one lands inside the heap, where what is freed stays resident.
///   A fixed threshold (glibc's starting 128 KB) and trim threshold keep
///   large buffers out of the heap and return its top: the daemon at
///   100,000 sources building its index peaked at 234 MB instead of 273.
fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only adjusts allocator tuning; it is called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 * 1024);
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

/// `notify test`: one line per channel; exit 1 if any did not deliver.
fn notify_test(cli: &Cli, channel: Option<&str>) -> Result<ExitCode> {
    let config = load_config(cli)?;
    let outcomes =
        runtime()?.block_on(bulletin_watch::delivery::notify_test::run(&config, channel))?;
    for o in &outcomes {
        println!("{}", o.line());
    }
    Ok(if outcomes.iter().all(|o| o.verdict.is_delivered()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn load_config(cli: &Cli) -> Result<Config> {
    Ok(config::load_with_store(&cli.config, cli.store.as_deref())?)
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
            let path = &config.settings.store;
            let store = Store::open_with_cache(path, store::cache_for(config.sources.len()))
                .with_context(|| format!("opening store {}", path.display()))?;
            let store = Arc::new(store);
            // A one-shot pass does not index: indexing a new page costs
            // about as much as storing it. The next `search`, the daemon
            // or `store reindex` catches the index up with the store.
            let run = runtime()?.block_on(runner::check_all_with(
                Arc::new(config),
                store,
                sources,
                &mut Bar::default(),
                None,
            ))?;
            println!("{}", run.line());
            Ok(ExitCode::SUCCESS)
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
            explain,
        } => {
            let bytes =
                std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            if *explain {
                let ex =
                    extract::explain(&bytes, content_type.as_deref(), &ExtractOptions::default())
                        .with_context(|| file.display().to_string())?;
                print!("{ex}");
                return Ok(if ex.error.is_none() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                });
            }
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
        Command::History {
            source: Some(source),
            json,
            section: Some(section),
        } => print_query(
            &cli,
            &Query::SectionHistory {
                source: source.clone(),
                section: section.clone(),
                json: *json,
            },
        ),
        Command::History { source, json, .. } => print_query(
            &cli,
            &Query::History {
                source: source.clone(),
                json: *json,
            },
        ),
        Command::Search { .. } | Command::Matrix { .. } => search(&cli),
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
        Command::Outbox {
            command: Some(OutboxCommand::Retry { id, channel }),
            ..
        } => {
            let path = store_path(&cli)?;
            let store = match Store::open(&path) {
                Err(StoreError::Locked { .. }) => anyhow::bail!(
                    "store {} is held by a running daemon: send it SIGHUP to retry every \
                     refused delivery, or stop it before `outbox retry`",
                    path.display()
                ),
                r => r.with_context(|| format!("opening store {}", path.display()))?,
            };
            let n = store.retry_refused(id.as_deref(), channel.as_deref())?;
            println!("{n} refused deliveries pending again");
            Ok(ExitCode::SUCCESS)
        }
        Command::Outbox { json, .. } => print_query(
            &cli,
            &Query::Outbox {
                json: *json,
                config: alert_config(&cli)?,
            },
        ),
        Command::Notify {
            command: NotifyCommand::Test { channel },
        } => notify_test(&cli, channel.as_deref()),
        Command::Sources { command } => match command {
            SourcesCommand::List => {
                let config = load_config(&cli)?;
                // What the store records of the schedule, where there is a store.
                let standings = query(&cli, &Query::Standings)
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok());
                print!(
                    "{}",
                    bulletin_watch::standing::sources_list(
                        &config,
                        standings.as_ref(),
                        jiff::Timestamp::now()
                    )
                );
                // A TSA is shown with its URL and CA file, never its credentials.
                for t in config.evidence.iter().flat_map(|e| &e.tsas) {
                    println!(
                        "tsa     {:<16} {} (CA {})",
                        t.id,
                        t.url,
                        t.ca_file.display()
                    );
                }
                // A robot URL is shown without its token; a secret never.
                for c in &config.channels {
                    println!(
                        "channel {:<16} {:<8} {}{}",
                        c.id,
                        c.kind,
                        c.url,
                        if c.secret.is_some() { " (signed)" } else { "" }
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
            SourcesCommand::Explain { id } => sources_explain(&cli, id),
            SourcesCommand::Validate { fetch } => {
                let config = load_config(&cli)?;
                for w in config::render_problems(&cli.config, &config.warnings).lines() {
                    eprintln!("warning: {w}");
                }
                println!(
                    "{}: OK, {} sources",
                    cli.config.display(),
                    config.sources.len()
                );
                if !*fetch {
                    return Ok(ExitCode::SUCCESS);
                }
                let config = Arc::new(config);
                let results = runtime()?.block_on(validate::fetch_all(config.clone()))?;
                for r in &results {
                    println!("{}", validate::line(r));
                }
                for l in validate::budget_lines(&config, &results) {
                    println!("{l}");
                }
                Ok(if results.iter().all(|r| r.problem().is_none()) {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                })
            }
        },
        Command::Verify { .. }
        | Command::Export { .. }
        | Command::Compile { .. }
        | Command::Store { .. } => run_audit(&cli),
        Command::Serve { listen, token_file } => serve(&cli, *listen, token_file.as_deref()),
        Command::Anchor => anchor(&cli),
        Command::Anchors { json, export } => anchors(&cli, *json, export.as_deref()),
    }
}

/// `anchor`: one anchoring round now, by this process or by the daemon
/// that holds the store; exit 1 unless every TSA gave a valid token.
fn anchor(cli: &Cli) -> Result<ExitCode> {
    let config = load_config(cli)?;
    let Some(ev) = &config.evidence else {
        bail!(
            "{}: no [evidence] section: configure at least one [[evidence.tsa]]",
            cli.config.display()
        );
    };
    let path = &config.settings.store;
    if !path.exists() {
        bail!("no store at {} (nothing checked yet?)", path.display());
    }
    let store = match Store::open(path) {
        Err(StoreError::Locked { .. }) => {
            return match control::ask(path, &Query::Anchor) {
                Ok(out) => {
                    std::io::stdout().write_all(&out)?;
                    Ok(ExitCode::SUCCESS)
                }
                Err(control::ControlError::Remote(text)) => {
                    print!("{text}");
                    Ok(ExitCode::from(1))
                }
                Err(e) => Err(e.into()),
            };
        }
        r => r.with_context(|| format!("opening store {}", path.display()))?,
    };
    let client = evidence::Client::new(&config.settings.user_agent, config.settings.timeout)?;
    let round = runtime()?.block_on(evidence::anchor_all(&store, &ev.tsas, &client))?;
    print!("{round}");
    Ok(if round.all_stored() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `anchors [--json | --export DIR]`.
fn anchors(cli: &Cli, json: bool, export: Option<&Path>) -> Result<ExitCode> {
    let Some(dir) = export else {
        return print_query(cli, &Query::Anchors { json });
    };
    let records: Vec<bulletin_watch::store::AnchorRecord> =
        serde_json::from_slice(&query(cli, &Query::AnchorRecords)?)?;
    let written = evidence::export_dir(&records, dir)?;
    for w in &written {
        println!("{}", w.display());
    }
    println!("{} anchors exported to {}", written.len(), dir.display());
    Ok(ExitCode::SUCCESS)
}

/// `verify`'s query: with the TSAs' configured CA files when the sources
/// file has an `[evidence]` section.
fn verify_query(cli: &Cli, source: Option<String>) -> Query {
    let trust: Vec<evidence::TrustedCa> = load_config(cli)
        .ok()
        .and_then(|c| c.evidence)
        .map(|e| {
            e.tsas
                .into_iter()
                .map(|t| evidence::TrustedCa {
                    tsa: t.id,
                    ca_pem: t.ca_pem,
                })
                .collect()
        })
        .unwrap_or_default();
    if trust.is_empty() {
        Query::Verify { source }
    } else {
        Query::VerifyWith { source, trust }
    }
}

/// `sources explain ID`: the latest stored version's bytes, read again with
/// the source's own extraction settings, and how.
fn sources_explain(cli: &Cli, id: &str) -> Result<ExitCode> {
    let config = load_config(cli)?;
    let opts = config
        .sources
        .iter()
        .find(|s| s.id == id)
        .map(|s| ExtractOptions::clone(&s.extract))
        .or_else(|| {
            // A discovered article is read with its listing's charset and
            // the generic extractor, as a check reads it.
            let listing = bulletin_watch::check::derived_listing(id)?;
            let l = config.sources.iter().find(|s| s.id == listing)?;
            Some(ExtractOptions {
                encoding: l.extract.encoding.clone(),
                ..ExtractOptions::default()
            })
        })
        .with_context(|| {
            format!(
                "{}: no source {id:?} is configured or discovered",
                cli.config.display()
            )
        })?;
    let shown = query(
        cli,
        &Query::Show {
            source: id.to_string(),
            version: None,
            json: true,
            raw: false,
        },
    )?;
    let shown: serde_json::Value = serde_json::from_slice(&shown)?;
    let raw = query(
        cli,
        &Query::Show {
            source: id.to_string(),
            version: None,
            json: false,
            raw: true,
        },
    )?;
    // The charset the check settled on, so the bytes read as they did then.
    let hint = shown
        .get("encoding")
        .and_then(|e| e.as_str())
        .map(|e| format!("text/html; charset={e}"));
    let ex =
        extract::explain(&raw, hint.as_deref(), &opts).with_context(|| format!("source {id}"))?;
    let volatile = query(
        cli,
        &Query::Volatile {
            source: id.to_string(),
        },
    )?;
    let volatile: Vec<String> = serde_json::from_slice(&volatile).unwrap_or_default();
    println!(
        "source     {id} (latest stored version, {} bytes)",
        raw.len()
    );
    print!("{ex}");
    if volatile.is_empty() {
        println!("volatile   none learned (two fetches never differed)");
    } else {
        println!("volatile   learned from two fetches that differed; never a change:");
        for p in &volatile {
            println!("           {p}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Who the configured sources are, or nobody for an auditor with only
/// the store.
fn catalog_or_empty(cli: &Cli) -> Catalog {
    load_config(cli)
        .map(|c| Catalog::from_config(&c))
        .unwrap_or_default()
}

/// `search` and `matrix`: a malformed query exits 2 before anything is
/// opened; otherwise the store's index answers (or the daemon's).
fn search(cli: &Cli) -> Result<ExitCode> {
    let check = |q: &str| match bulletin_watch::search::parse_query(q) {
        Ok(_) => None,
        Err(e) => {
            eprintln!("error: query {q:?}: {e}");
            Some(ExitCode::from(2))
        }
    };
    let q = match &cli.command {
        Command::Search {
            query,
            region,
            province,
            year,
            source,
            all_versions,
            limit,
            json,
        } => {
            if let Some(code) = check(query) {
                return Ok(code);
            }
            Query::Search {
                request: SearchRequest {
                    query: query.clone(),
                    region: region.map(|r| r.name().to_string()),
                    province: province.clone(),
                    year: *year,
                    source: source.clone(),
                    all_versions: *all_versions,
                    limit: *limit,
                    json: *json,
                },
                sources: catalog_or_empty(cli),
            }
        }
        Command::Matrix {
            terms,
            region,
            year,
            format,
        } => {
            if let Some(code) = terms.iter().find_map(|t| check(t)) {
                return Ok(code);
            }
            Query::Matrix {
                request: MatrixRequest {
                    terms: terms.clone(),
                    region: region.map(|r| r.name().to_string()),
                    year: *year,
                    format: *format,
                },
                sources: catalog_or_empty(cli),
            }
        }
        _ => bail!("not a search command"),
    };
    print_query(cli, &q)
}

/// A read-only query, answered by the store or the daemon holding it.
fn query(cli: &Cli, q: &Query) -> Result<Vec<u8>> {
    Ok(control::query(&store_path(cli)?, q)?)
}

fn print_query(cli: &Cli, q: &Query) -> Result<ExitCode> {
    stream_query(cli, q, None)?;
    Ok(ExitCode::SUCCESS)
}

/// Writes a query's answer to `out` (or standard output) as it comes; a
/// file is written beside its place and renamed there only when complete.
fn stream_query(cli: &Cli, q: &Query, out: Option<&Path>) -> Result<()> {
    let store = store_path(cli)?;
    let Some(p) = out else {
        let stdout = std::io::stdout();
        let mut w = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
        control::query_to(&store, q, &mut w)?;
        w.flush()?;
        return Ok(());
    };
    let mut name = p.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    let tmp = p.with_file_name(name);
    let file = std::fs::File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
    let mut w = Counted(std::io::BufWriter::with_capacity(64 * 1024, file), 0);
    let written = control::query_to(&store, q, &mut w)
        .map_err(anyhow::Error::from)
        .and_then(|()| Ok(w.0.flush()?));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, p).with_context(|| format!("writing {}", p.display()))?;
    eprintln!("wrote {} ({} bytes)", p.display(), w.1);
    Ok(())
}

/// A writer that counts the bytes written through it.
struct Counted<W>(W, u64);

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.0.write(buf)?;
        self.1 += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
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
        Command::Verify { source } => print_query(cli, &verify_query(cli, source.clone())),
        Command::Export {
            source,
            format,
            out,
        } => {
            let q = Query::Export {
                source: source.clone(),
                format: *format,
            };
            stream_query(cli, &q, out.as_deref())?;
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
                StoreCommand::Reindex => {
                    let store = open_exclusive(&path, "reindex")?;
                    let started = std::time::Instant::now();
                    let n = SearchIndex::reindex(&store, catalog_or_empty(cli))
                        .with_context(|| format!("reindexing {}", path.display()))?;
                    println!(
                        "reindexed {}: {} versions, {} entries in {:.1} s",
                        path.display(),
                        n.versions,
                        n.entries,
                        started.elapsed().as_secs_f64()
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

/// `check`'s progress bar on a terminal (hidden otherwise); log lines are
/// printed around it.
struct Bar(indicatif::ProgressBar);

impl Default for Bar {
    fn default() -> Self {
        Bar(indicatif::ProgressBar::hidden())
    }
}

impl runner::Progress for Bar {
    fn start(&mut self, jobs: usize) {
        if !std::io::stderr().is_terminal() {
            return;
        }
        self.0 = indicatif::ProgressBar::new(jobs as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} {pos}/{len} sources {wide_bar} {elapsed}",
        ) {
            self.0.set_style(style);
        }
    }

    fn report(&mut self, r: &bulletin_watch::check::Report) {
        self.0.suspend(|| r.log());
        self.0.inc(1);
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
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
            Config::store_only(&cli.config, &cli.store.clone().unwrap_or_default())
        }
        Err(e) => return Err(e),
    };
    let store = Arc::new(open_store(&config.settings.store)?);
    let index = SearchIndex::start(store.clone(), Catalog::from_config(&config));
    let state = web::WebState::new(store, Arc::new(config))
        .with_token(token)
        .with_search(index);
    let rt = runtime()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        let addr = listener.local_addr()?;
        eprintln!("serving the web view on http://{addr}/ (Ctrl-C to stop)");
        web::serve(listener, state, stop_requested()).await?;
        Ok(ExitCode::SUCCESS)
    })
}
