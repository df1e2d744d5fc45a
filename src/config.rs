//! `sources.toml`: what to watch and how. Loading validates everything up
//! front — unknown keys, duplicate ids, URLs, CSS selectors, regexes, e-mail
//! addresses — and names file, line, column and field in every error, so that
//! `bulletin-watch sources validate` can be run before a deploy.

/// Resolved `[mail]` settings (the password already read from its
/// environment variable or file; never stored in the TOML itself).
#[derive(Debug, Clone, Default)]
pub struct MailConfig {
    pub from: String,
    pub to: Vec<String>,
    /// lettre connection URL; `None` = write `.eml` files into `<store>/mail/`.
    pub smtp_url: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
}
