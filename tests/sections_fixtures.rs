//! Every fixture article, parsed into sections, must match the manifest:
//! preamble prefix, and each section's label, raw label, level, path and
//! opening text, in order.

use crate::common::{article_document as document, manifest};
use bulletin_watch::text::{comparable, prefix_chars};

#[test]
fn every_article_matches_manifest_sections() {
    let manifest = manifest();
    assert!(!manifest.articles.is_empty());
    let mut failures = Vec::new();
    let mut checked = 0;
    for article in &manifest.articles {
        let doc = document(article);
        let file = &article.file;
        let preamble = comparable(&doc.preamble);
        if !preamble.starts_with(&article.preamble_prefix) {
            failures.push(format!(
                "{file}: preamble {:?} does not start with {:?}",
                prefix_chars(&preamble, 20),
                article.preamble_prefix
            ));
        }
        let got: Vec<String> = doc.sections.iter().map(|s| s.path_str()).collect();
        let want: Vec<&str> = article.sections.iter().map(|s| s.path.as_str()).collect();
        if got != want {
            failures.push(format!("{file}: paths {got:?}, expected {want:?}"));
            continue;
        }
        for (s, e) in doc.sections.iter().zip(&article.sections) {
            checked += 1;
            let at = format!("{file} {}", e.path);
            if s.label != e.label {
                failures.push(format!("{at}: label {:?} != {:?}", s.label, e.label));
            }
            if s.raw_label != e.raw_label {
                failures.push(format!(
                    "{at}: raw_label {:?} != {:?}",
                    s.raw_label, e.raw_label
                ));
            }
            if s.level != e.level {
                failures.push(format!("{at}: level {} != {}", s.level, e.level));
            }
            let body = comparable(&s.body());
            if !body.starts_with(&e.text_prefix) {
                failures.push(format!(
                    "{at}: text starts {:?}, expected {:?}",
                    prefix_chars(&body, 12),
                    e.text_prefix
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        checked >= manifest.articles.len(),
        "only {checked} sections checked"
    );
}
