//! The bearer token: made at random, kept in a file only its owner can read, and
//! compared in constant time so response timing says nothing about how much matched.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use subtle::ConstantTimeEq;

/// Longest token file we read: a token is a line, not a document.
const MAX_TOKEN_LEN: usize = 512;

#[derive(Clone)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

impl Token {
    /// 32 random bytes from the kernel's generator, as hex (fastrand is not meant for
    /// secrets).
    pub fn random() -> std::io::Result<Token> {
        use std::io::Read;
        let mut bytes = [0u8; 32];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
        Ok(Token(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether an `Authorization` header value carries this token. Constant time in
    /// the token's content (the length of a presented token may leak, not its bytes).
    pub fn accepts(&self, header: Option<&[u8]>) -> bool {
        let Some(presented) = header.and_then(|h| h.strip_prefix(b"Bearer ")) else {
            return false;
        };
        let expected = self.0.as_bytes();
        presented.len() == expected.len() && bool::from(presented.ct_eq(expected))
    }
}

/// Writes a new token to `path` (parent directories made, mode 0600, replacing any old one).
pub fn write_new(path: &Path) -> Result<Token, String> {
    let token = Token::random().map_err(|e| format!("cannot read random bytes: {e}"))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    // Written beside and renamed: a reader never sees half a token, and the old file's
    // looser mode (if any) does not carry over.
    let tmp = path.with_extension("new");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    writeln!(f, "{}", token.as_str())
        .and_then(|_| f.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(token)
}

/// Reads the token at `path`; `Ok(None)` when there is no such file.
pub fn read(path: &Path) -> Result<Option<Token>, String> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    if meta.len() > MAX_TOKEN_LEN as u64 {
        return Err(format!("{} is too long for a token", path.display()));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "{} can be read by others (mode {:o}); make it 0600",
            path.display(),
            meta.permissions().mode() & 0o777
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let t = text.trim();
    if t.len() < 16 || !t.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "{} does not hold a token (16 to {MAX_TOKEN_LEN} printable characters)",
            path.display()
        ));
    }
    Ok(Some(Token(t.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_the_exact_bearer_token() {
        let t = Token("0123456789abcdef0123".into());
        assert!(t.accepts(Some(b"Bearer 0123456789abcdef0123")));
        assert!(!t.accepts(Some(b"Bearer 0123456789abcdef012")));
        assert!(!t.accepts(Some(b"Bearer 0123456789abcdef01234")));
        assert!(!t.accepts(Some(b"bearer 0123456789abcdef0123")));
        assert!(!t.accepts(Some(b"0123456789abcdef0123")));
        assert!(!t.accepts(None));
    }

    #[test]
    fn a_new_token_file_is_private_and_reads_back() {
        let dir = std::env::temp_dir().join(format!("headroom-token-{}", std::process::id()));
        let path = dir.join("t");
        let t = write_new(&path).unwrap_or_else(|e| panic!("{e}"));
        let mode = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode.ok(), Some(0o600));
        let back = read(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.map(|b| b.0), Some(t.0));
        let _ = std::fs::remove_dir_all(dir);
    }
}
