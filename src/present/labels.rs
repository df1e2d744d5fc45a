//! The words every output uses for the parts of a diff: the kind of a
//! change, the preamble's pseudo-path, where a change is, and a missing
//! date. Bilingual, Chinese first, in the same form everywhere.

use crate::model::{AlertKind, ChangeKind, SectionChange, PREAMBLE};

/// How the text before the first numbered section is called.
pub const PREAMBLE_LABEL: &str = "导语 Preamble";

/// The label of a kind of change, e.g. `新增 added` (the form the CLI has always printed).
pub fn change_label(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Added => "新增 added",
        ChangeKind::Removed => "删除 removed",
        ChangeKind::Modified => "修改 modified",
        ChangeKind::Renumbered => "重新编号 renumbered",
    }
}

/// An alert kind as feeds, listings and JSON name it: `published`,
/// `changed`, `failing`, `recovered`.
pub fn alert_kind_name(kind: AlertKind) -> &'static str {
    kind.name()
}

/// The colour family of a kind of change; each output maps it to its own
/// colours or classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Good,
    Bad,
    Warn,
    Info,
}

impl Tone {
    pub fn of(kind: ChangeKind) -> Tone {
        match kind {
            ChangeKind::Added => Tone::Good,
            ChangeKind::Removed => Tone::Bad,
            ChangeKind::Modified => Tone::Warn,
            ChangeKind::Renumbered => Tone::Info,
        }
    }
}

/// A section path as shown: the preamble by its label, others as they are.
pub fn path_label(path: &str) -> String {
    if path == PREAMBLE {
        PREAMBLE_LABEL.to_string()
    } else {
        path.to_string()
    }
}

/// Where a change is: its path, or `old → new` when it moved.
pub fn change_location(change: &SectionChange) -> String {
    change_location_by(change, |p| p)
}

/// [`change_location`] with each path passed through `show` (an output's
/// own cleaning or escaping) before the arrow joins them.
pub fn change_location_by(change: &SectionChange, show: impl Fn(String) -> String) -> String {
    match &change.old_path {
        Some(old) if *old != change.path => {
            format!(
                "{} → {}",
                show(path_label(old)),
                show(path_label(&change.path))
            )
        }
        _ => show(path_label(&change.path)),
    }
}

/// A publish date, or `—` when there is none.
pub fn date_or_dash(d: &Option<jiff::civil::Date>) -> String {
    d.map_or_else(|| "—".to_string(), |d| d.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_locations() {
        assert_eq!(change_label(ChangeKind::Added), "新增 added");
        assert_eq!(path_label(PREAMBLE), PREAMBLE_LABEL);
        let c = SectionChange {
            kind: ChangeKind::Renumbered,
            path: "二、".into(),
            old_path: Some("三、".into()),
            heading: String::new(),
            inline: vec![],
        };
        assert_eq!(change_location(&c), "三、 → 二、");
        assert_eq!(date_or_dash(&None), "—");
    }
}
