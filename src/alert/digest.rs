//! Digest mode: several queued alerts for the same recipients combined into
//! one message — an index of their subjects, then each alert's body in turn.

use std::fmt::Write as _;

use super::Message;
use crate::text::escape_html;

/// digest keeps its id.
pub fn digest(message_id: String, messages: &[Message]) -> Message {
    let n = messages.len();
    let subject = format!("[bulletin-watch] 摘要 Digest · {n} 条提醒 alerts");
    let mut text = format!("{subject}\n\n");
    let mut html = String::from(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"></head>\n\
         <body style=\"margin:0;padding:0;background:#f3f4f6;\">\n\
         <div style=\"max-width:640px;margin:0 auto;padding:16px;background:#ffffff;color:#1f2937;\
         font-family:-apple-system,BlinkMacSystemFont,'PingFang SC','Hiragino Sans GB','Microsoft YaHei',sans-serif;\">\n",
    );
    let _ = write!(
        html,
        "<h1 style=\"font-size:20px;margin:0 0 12px;\">{}</h1>\n<ol style=\"padding-left:20px;\">",
        escape_html(&subject)
    );
    for (i, m) in messages.iter().enumerate() {
        // Subjects were cleaned when rendered; only keep them on one line.
        let line: String = m
            .subject
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let _ = writeln!(text, "{}. {line}", i + 1);
        let _ = write!(html, "<li>{}</li>", escape_html(&line));
    }
    html.push_str("</ol>\n</div>\n");
    for m in messages {
        let _ = write!(text, "\n{}\n\n{}", "=".repeat(40), m.text);
        // Each alert's own (already escaped) body, without its document shell.
        let inner = m
            .html
            .split_once("<body")
            .and_then(|(_, rest)| rest.split_once('>'))
            .map(|(_, body)| body.rsplit_once("</body>").map_or(body, |(b, _)| b))
            .unwrap_or("");
        html.push_str("<hr style=\"border:0;border-top:4px solid #e5e7eb;margin:0;\">\n");
        html.push_str(inner);
    }
    html.push_str("</body></html>\n");
    let mut to: Vec<String> = messages.iter().flat_map(|m| m.to.iter().cloned()).collect();
    to.sort();
    to.dedup();
    Message {
        message_id,
        from: messages.first().map(|m| m.from.clone()).unwrap_or_default(),
        to,
        subject,
        text,
        html,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn digest_indexes_and_carries_every_alert_body() {
        let mk = |id: &str, subject: &str, body: &str, to: &str| Message {
            message_id: id.into(),
            from: "bw@example.org".into(),
            to: vec![to.into()],
            subject: subject.into(),
            text: format!("text {body}"),
            html: format!(
                "<!DOCTYPE html><html><head></head><body style=\"x\"><p>{body}</p></body></html>"
            ),
        };
        let d = digest(
            "digest.1@bulletin-watch".into(),
            &[
                mk("a", "上海市 · 1 节变更", "甲<b>", "x@example.org"),
                mk("b", "浙江省 · 2 节变更", "乙", "x@example.org"),
            ],
        );
        assert_eq!(d.message_id, "digest.1@bulletin-watch");
        assert!(d.subject.contains("2 条提醒"));
        assert_eq!(d.to, vec!["x@example.org".to_string()]);
        for part in [
            "上海市 · 1 节变更",
            "浙江省 · 2 节变更",
            "text 甲<b>",
            "text 乙",
        ] {
            assert!(d.text.contains(part), "{part}");
        }
        assert!(d.html.contains("<p>甲<b></p>") && d.html.contains("<p>乙</p>"));
        assert_eq!(d.html.matches("<body").count(), 1, "one document shell");
    }
}
