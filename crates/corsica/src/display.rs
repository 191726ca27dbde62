//! Showing untrusted input in error messages and logs: bounded in length, control and
//! non-ASCII bytes escaped, so a hostile header can neither flood a log nor forge a line.

/// The most bytes of an untrusted value kept for messages.
pub(crate) const MAX_SHOWN: usize = 120;

/// Renders `bytes` for a message: printable ASCII as is, anything else as `\xNN`, cut after
/// [`MAX_SHOWN`] bytes with a `…(N bytes)` marker.
pub(crate) fn shown(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().min(MAX_SHOWN) + 16);
    for &b in bytes.iter().take(MAX_SHOWN) {
        if (0x20..0x7f).contains(&b) && b != b'\\' {
            out.push(b as char);
        } else if b == b'\\' {
            out.push_str("\\\\");
        } else {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    if bytes.len() > MAX_SHOWN {
        out.push_str(&format!("…({} bytes)", bytes.len()));
    }
    out
}

/// [`shown`] for text that may contain non-ASCII characters (configuration input): keeps
/// printable Unicode, escapes controls, bounds the length.
pub(crate) fn shown_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_SHOWN) + 16);
    for (n, c) in s.chars().enumerate() {
        if n == MAX_SHOWN {
            out.push_str(&format!("…({} bytes)", s.len()));
            break;
        }
        if c.is_control() || c == '\\' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_bounds() {
        assert_eq!(shown(b"abc"), "abc");
        assert_eq!(shown(b"a\r\nb"), "a\\x0d\\x0ab");
        assert_eq!(shown(&[0xff]), "\\xff");
        let long = vec![b'a'; 500];
        let s = shown(&long);
        assert!(s.ends_with("…(500 bytes)"));
        assert!(s.len() < 140);
        assert_eq!(shown_str("bü\n"), "bü\\n");
    }
}
