//! Splits a byte stream into lines with bounded memory: a line longer than
//! [`MAX_LINE`], one with a NUL byte, or one that is not UTF-8 is skipped and reported,
//! never kept. Lines that lie within one chunk are handed out without copying.

/// Longest line kept (bytes, without the newline). Syslog daemons cut records at 8 KiB
/// by default; Exim's multi-line replies stay well below this.
pub const MAX_LINE: usize = 32 * 1024;

/// Why a line was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    InvalidUtf8,
    Binary,
    TooLong,
}

/// One line of the stream. Skipped lines still count for line numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    Text(&'a str),
    Skipped(Skip),
}

#[derive(Debug, Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
    /// Inside a line already known to be too long: drop bytes up to the next newline.
    discarding: bool,
}

impl LineSplitter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next bytes of the stream; calls `f` for every complete line.
    pub fn feed(&mut self, mut data: &[u8], f: &mut dyn FnMut(Line<'_>)) {
        while !data.is_empty() {
            match memchr::memchr(b'\n', data) {
                Some(nl) => {
                    let piece = &data[..nl];
                    data = &data[nl + 1..];
                    if self.discarding {
                        self.discarding = false;
                        self.partial.clear();
                        f(Line::Skipped(Skip::TooLong));
                    } else if self.partial.is_empty() {
                        f(check(piece));
                    } else if self.partial.len() + piece.len() > MAX_LINE {
                        self.partial.clear();
                        f(Line::Skipped(Skip::TooLong));
                    } else {
                        let mut joined = std::mem::take(&mut self.partial);
                        joined.extend_from_slice(piece);
                        f(check(&joined));
                        joined.clear();
                        self.partial = joined;
                    }
                }
                None => {
                    if !self.discarding {
                        if self.partial.len() + data.len() > MAX_LINE {
                            self.partial.clear();
                            self.discarding = true;
                        } else {
                            self.partial.extend_from_slice(data);
                        }
                    }
                    data = &[];
                }
            }
        }
        // Memory stays bounded even after a huge line went through.
        if self.partial.capacity() > 2 * MAX_LINE && self.partial.is_empty() {
            self.partial = Vec::new();
        }
    }

    /// Ends the stream: a last line without a newline is handed out.
    pub fn finish(&mut self, f: &mut dyn FnMut(Line<'_>)) {
        if self.discarding {
            f(Line::Skipped(Skip::TooLong));
        } else if !self.partial.is_empty() {
            f(check(&self.partial));
        }
        self.reset();
    }

    /// Forgets a partial line (the file under it was truncated).
    pub fn reset(&mut self) {
        self.partial.clear();
        self.discarding = false;
    }

    /// Bytes of a line started but not finished.
    pub fn pending(&self) -> usize {
        self.partial.len()
    }
}

fn check(piece: &[u8]) -> Line<'_> {
    let piece = piece.strip_suffix(b"\r").unwrap_or(piece);
    if piece.len() > MAX_LINE {
        return Line::Skipped(Skip::TooLong);
    }
    if memchr::memchr(0, piece).is_some() {
        return Line::Skipped(Skip::Binary);
    }
    match std::str::from_utf8(piece) {
        Ok(s) => Line::Text(s),
        Err(_) => Line::Skipped(Skip::InvalidUtf8),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(chunks: &[&[u8]]) -> Vec<String> {
        let mut s = LineSplitter::new();
        let mut out = Vec::new();
        let mut f = |l: Line<'_>| {
            out.push(match l {
                Line::Text(t) => t.to_string(),
                Line::Skipped(k) => format!("{k:?}"),
            })
        };
        for c in chunks {
            s.feed(c, &mut f);
        }
        s.finish(&mut f);
        out
    }

    #[test]
    fn lines_across_chunks_are_joined() {
        assert_eq!(
            collect(&[b"ab", b"c\nde", b"f\r\n", b"g"]),
            ["abc", "def", "g"]
        );
    }

    #[test]
    fn bad_lines_are_skipped_and_named() {
        let out = collect(&[b"ok\n\xff\xfe\nbin\0ary\nfine\n"]);
        assert_eq!(out, ["ok", "InvalidUtf8", "Binary", "fine"]);
    }

    #[test]
    fn a_huge_line_is_dropped_without_growing_memory() {
        let mut s = LineSplitter::new();
        let mut out = Vec::new();
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..100 {
            s.feed(&chunk, &mut |l| out.push(format!("{l:?}")));
            assert!(s.pending() <= MAX_LINE);
        }
        s.feed(b"\nnext\n", &mut |l| out.push(format!("{l:?}")));
        assert_eq!(out, ["Skipped(TooLong)", "Text(\"next\")"]);
    }
}
