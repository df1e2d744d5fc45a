//! A [`Message`] as an RFC 5322 e-mail: the bytes every e-mail channel
//! (SMTP, `.eml` files) sends. Mailboxes may carry a display name
//! (`应急监测 <monitor@example.org>`), which lettre encodes per RFC 2047;
//! the subject is cleaned of anything that could break a header.

use lettre::message::{Mailbox, MultiPart};

use super::message_id;
use super::render::is_hostile;
use super::Message;

/// Why a message cannot be made into an e-mail. Retrying will not help.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("invalid mail address {0:?}: {1}")]
    Address(String, #[source] lettre::address::AddressError),
    #[error("unusable Message-ID {0:?}: expected left@right of [A-Za-z0-9._+=-]")]
    MessageId(String),
    #[error("no recipients")]
    NoRecipients,
    #[error("could not build message: {0}")]
    Build(#[source] lettre::error::Error),
}

/// Parses an address as configured: a bare `addr@host` or a name-addr
/// mailbox `Name <addr@host>` (RFC 5322).
pub fn parse_mailbox(addr: &str) -> Result<Mailbox, MessageError> {
    let addr = addr.trim();
    addr.parse::<Mailbox>()
        .map_err(|e| MessageError::Address(addr.to_string(), e))
}

/// The address part of a mailbox, lower-cased, for telling two spellings
/// of one recipient apart; the trimmed text when it does not parse.
pub fn address_key(addr: &str) -> String {
    parse_mailbox(addr).map_or_else(
        |_| addr.trim().to_string(),
        |m| m.email.to_string().to_ascii_lowercase(),
    )
}

impl Message {
    /// The message exactly as it goes on the wire (RFC 5322, CRLF line ends).
    pub fn formatted(&self) -> Result<Vec<u8>, MessageError> {
        Ok(self.email()?.formatted())
    }

    /// The message as lettre sends it.
    pub fn email(&self) -> Result<lettre::Message, MessageError> {
        if !message_id::is_valid(&self.message_id) {
            return Err(MessageError::MessageId(self.message_id.clone()));
        }
        if self.to.is_empty() {
            return Err(MessageError::NoRecipients);
        }
        // The subject is sanitised again here: a Message is plain data, and
        // not every one is built by the renderers.
        let mut builder = lettre::Message::builder()
            .from(parse_mailbox(&self.from)?)
            .subject(
                self.subject
                    .chars()
                    .map(|c| if is_hostile(c) { ' ' } else { c })
                    .collect::<String>(),
            )
            .date_now()
            .message_id(Some(format!("<{}>", self.message_id)))
            .user_agent("bulletin-watch".to_string());
        for to in &self.to {
            builder = builder.to(parse_mailbox(to)?);
        }
        builder
            .multipart(MultiPart::alternative_plain_html(
                self.text.clone(),
                self.html.clone(),
            ))
            .map_err(MessageError::Build)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::render::{render_changed, render_recovered, AlertContext};
    use crate::model::{ChangeKind, DocDiff, SectionChange, Span};

    fn ctx() -> AlertContext {
        AlertContext {
            source_id: "jiangsu".into(),
            source_name: "江苏省应急管理厅".into(),
            province: "江苏省".into(),
            title: "全省应急管理工作会议召开".into(),
            url: "https://yjt.jiangsu.gov.cn/art/2025/1/15/art_1.html".into(),
            from_version: Some(1),
            to_version: 2,
            fetched_at: "2025-01-15T01:30:00Z".parse().expect("timestamp literal"),
        }
    }

    fn modified(path: &str, inline: Vec<Span>) -> SectionChange {
        SectionChange {
            kind: ChangeKind::Modified,
            path: path.into(),
            old_path: None,
            heading: "加强隐患排查".into(),
            inline,
        }
    }

    fn two_changes() -> DocDiff {
        DocDiff {
            title_changed: None,
            date_changed: None,
            changes: vec![
                modified(
                    "一、/(一)",
                    vec![
                        Span::Gap,
                        Span::Equal("排查".into()),
                        Span::Delete("三".into()),
                        Span::Insert("五".into()),
                        Span::Equal("类".into()),
                        Span::Gap,
                    ],
                ),
                SectionChange {
                    kind: ChangeKind::Renumbered,
                    path: "一、/(三)".into(),
                    old_path: Some("一、/(四)".into()),
                    heading: "强化值班值守".into(),
                    inline: vec![],
                },
            ],
        }
    }

    #[test]
    fn formatted_message_has_stable_id_and_no_injected_header() {
        let mut c = ctx();
        c.title = "标题\r\nBcc: evil@example.org".into();
        let msg = Message::new(
            "alert-1.jiangsu@bulletin-watch",
            "bulletin-watch <bw@example.org>",
            vec!["ops@example.org".into()],
            render_changed(&c, &two_changes()),
        );
        let raw = String::from_utf8(msg.formatted().expect("valid message")).expect("ascii");
        assert!(raw.contains("Message-ID: <alert-1.jiangsu@bulletin-watch>\r\n"));
        assert!(!raw.to_ascii_lowercase().contains("\nbcc:"), "{raw}");

        // A subject that did not come from the renderer.
        let mut raw_subject = msg.clone();
        raw_subject.subject = "plain\r\nBcc: evil@example.org".into();
        let raw = String::from_utf8(raw_subject.formatted().expect("valid")).expect("ascii");
        assert!(!raw.to_ascii_lowercase().contains("\nbcc:"), "{raw}");
    }

    #[test]
    fn bad_address_is_named() {
        let msg = Message::new(
            "a@b",
            "bw@example.org",
            vec!["ops@example.org".into(), "not an address".into()],
            render_recovered(&ctx()),
        );
        match msg.formatted() {
            Err(MessageError::Address(a, _)) => assert_eq!(a, "not an address"),
            other => panic!("expected Address error, got {other:?}"),
        }
    }
}
