//! Server-Sent Events, read incrementally from an agent's `/api/v1/events` body. Only
//! what the agent sends is needed (`event:`, `data:`, comments as heartbeats), but the
//! parser follows the format's rules (CRLF or LF, several `data:` lines joined by `\n`,
//! one optional space after the colon) and bounds what it holds.

/// Bytes one event may take; an agent's tick is a few KiB.
pub const MAX_EVENT: usize = 4 * 1024 * 1024;

#[derive(Debug, Default)]
pub struct SseParser {
    buf: Vec<u8>,
    event: Option<String>,
    data: Vec<String>,
    held: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SseItem {
    Event {
        kind: String,
        data: String,
    },
    /// A comment line: the agent's heartbeat.
    Comment,
}

impl SseParser {
    /// Feeds bytes; returns the complete events and comments they finish. An event
    /// over [`MAX_EVENT`] bytes is an error (the connection is dropped and retried).
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<SseItem>, String> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        let mut start = 0;
        while let Some(nl) = self.buf[start..].iter().position(|b| *b == b'\n') {
            let end = start + nl;
            let mut line = &self.buf[start..end];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            let line = String::from_utf8_lossy(line).into_owned();
            start = end + 1;
            if let Some(item) = self.line(&line)? {
                out.push(item);
            }
        }
        self.buf.drain(..start);
        if self.buf.len() + self.held > MAX_EVENT {
            return Err(format!("an event longer than {MAX_EVENT} bytes"));
        }
        Ok(out)
    }

    fn line(&mut self, line: &str) -> Result<Option<SseItem>, String> {
        if line.is_empty() {
            let data = std::mem::take(&mut self.data);
            let kind = self.event.take().unwrap_or_else(|| "message".into());
            self.held = 0;
            if data.is_empty() {
                return Ok(None);
            }
            return Ok(Some(SseItem::Event {
                kind,
                data: data.join("\n"),
            }));
        }
        if line.starts_with(':') {
            return Ok(Some(SseItem::Comment));
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        self.held += line.len();
        if self.held > MAX_EVENT {
            return Err(format!("an event longer than {MAX_EVENT} bytes"));
        }
        match field {
            "event" => self.event = Some(value.to_string()),
            "data" => self.data.push(value.to_string()),
            _ => {} // id, retry and unknown fields: not used
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_reads_and_crlf_are_read_whole() {
        let mut p = SseParser::default();
        assert!(p.feed(b"event: tick\r\nda").expect("accepted").is_empty());
        let got = p
            .feed(b"ta: {\"a\":1}\r\n\r\n: heartbeat\n")
            .expect("accepted");
        assert_eq!(
            got,
            vec![
                SseItem::Event {
                    kind: "tick".into(),
                    data: "{\"a\":1}".into()
                },
                SseItem::Comment
            ]
        );
        let got = p.feed(b"data: a\ndata: b\n\n").expect("accepted");
        assert_eq!(
            got,
            vec![SseItem::Event {
                kind: "message".into(),
                data: "a\nb".into()
            }]
        );
    }

    #[test]
    fn an_endless_line_is_refused_not_held() {
        let mut p = SseParser::default();
        let chunk = vec![b'x'; 1024 * 1024];
        let mut failed = false;
        for _ in 0..8 {
            if p.feed(&chunk).is_err() {
                failed = true;
                break;
            }
        }
        assert!(failed);
    }

    #[test]
    fn many_data_lines_count_towards_the_bound() {
        let mut p = SseParser::default();
        let line = format!("data: {}\n", "y".repeat(1000));
        let mut failed = false;
        for _ in 0..5000 {
            if p.feed(line.as_bytes()).is_err() {
                failed = true;
                break;
            }
        }
        assert!(failed);
    }
}
