//! Message-IDs: the one place they are made and checked. An id follows from
//! what the message covers and the store's instance id alone, so every
//! attempt and every rendering of an alert carries the same one and mail
//! systems can recognise a resend. The id doubles as a file name for `.eml`
//! delivery, so it is held to a strict subset of RFC 5322's
//! `id-left@id-right`.

use crate::model::sha256_hex;

const DOMAIN: &str = "bulletin-watch";

fn ok_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+' | '=')
}

/// `<key with / as .>.<instance>@bulletin-watch` for one outbox entry;
/// any character a Message-ID cannot carry becomes `-`.
pub fn for_alert(key: &str, instance: &str) -> String {
    let left: String = format!("{}.{instance}", key.replace('/', "."))
        .chars()
        .map(|c| if ok_char(c) { c } else { '-' })
        .collect();
    format!("{left}@{DOMAIN}")
}

/// The id of a digest of exactly these alerts (by outbox key), so that a
/// retry of the same digest carries the same id.
pub fn for_digest(keys: &[&str], instance: &str) -> String {
    format!(
        "digest.{}.{instance}@{DOMAIN}",
        &sha256_hex(keys.join("\n").as_bytes())[..16]
    )
}

/// Whether `id` is usable as a Message-ID and as a file name.
pub fn is_valid(id: &str) -> bool {
    match id.split_once('@') {
        Some((left, right)) => {
            !left.is_empty()
                && !right.is_empty()
                && id.len() <= 200
                && !id.starts_with('.')
                && left.chars().all(ok_char)
                && right.chars().all(ok_char)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids() {
        assert_eq!(
            for_alert("changed/jiangsu/v2", "abc"),
            "changed.jiangsu.v2.abc@bulletin-watch"
        );
        let odd = for_alert("recovered/../江苏/1", "abc");
        assert_eq!(odd, "recovered....--.1.abc@bulletin-watch");
        assert!(is_valid(&odd));
        let d = for_digest(&["a", "b"], "abc");
        assert!(d.starts_with("digest.") && is_valid(&d), "{d}");
        assert_eq!(d, for_digest(&["a", "b"], "abc"));
        assert_ne!(d, for_digest(&["a"], "abc"));
        for bad in ["", "no-at", "a/b@c", "a@b\r\nBcc: x", ".hidden@x", "a@"] {
            assert!(!is_valid(bad), "{bad:?}");
        }
    }
}
