//! Response header bytes hyper will not send but a scenario needs (a NUL in a header
//! value, which browsers fail as a network error): the handler writes each such byte as a
//! marker hyper accepts (`<corsica-raw-byte-00>`), and [`RawBytes`], around the
//! connection, puts the byte itself on the wire in its place.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

const MARKER: &[u8] = b"<corsica-raw-byte-";

/// `value` with every byte a header value cannot carry in the `http` crate written as a
/// marker; `None` when it needs none.
pub(crate) fn mark(value: &str) -> Option<String> {
    if http::HeaderValue::from_bytes(value.as_bytes()).is_ok() {
        return None;
    }
    let mut out = String::new();
    for c in value.chars() {
        let b = u32::from(c);
        if b < 0x20 && c != '\t' || b == 0x7f {
            out.push_str(&format!("<corsica-raw-byte-{b:02x}>"));
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// `bytes` with the markers replaced by their bytes.
fn unmark(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(MARKER) {
            let hex = &bytes[i + MARKER.len()..];
            if hex.len() >= 3 && hex[2] == b'>' {
                if let Some(b) = std::str::from_utf8(&hex[..2])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    out.push(b);
                    i += MARKER.len() + 3;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// A connection whose writes put marked bytes on the wire.
pub(crate) struct RawBytes<T> {
    inner: T,
    /// Rewritten bytes not yet written.
    pending: Vec<u8>,
}

impl<T> RawBytes<T> {
    pub(crate) fn new(inner: T) -> RawBytes<T> {
        RawBytes {
            inner,
            pending: Vec::new(),
        }
    }
}

impl<T: AsyncWrite + Unpin> RawBytes<T> {
    /// Writes what is pending; `Ready(Ok)` once it is all out.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            match Pin::new(&mut self.inner).poll_write(cx, &self.pending) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.pending.drain(..n);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for RawBytes<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for RawBytes<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.drain(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
        if !buf.windows(MARKER.len()).any(|w| w == MARKER) {
            return Pin::new(&mut self.inner).poll_write(cx, buf);
        }
        // Take it all; what the connection does not take now goes out on the next call.
        self.pending = unmark(buf);
        if let Poll::Ready(Err(e)) = self.drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut self.inner).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut self.inner).poll_shutdown(cx),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_and_puts_back_the_bytes_hyper_refuses() {
        assert_eq!(mark("http://a"), None);
        let marked = mark("a\0b").unwrap();
        assert!(http::HeaderValue::from_str(&marked).is_ok());
        assert_eq!(
            unmark(format!("X: {marked}\r\n").as_bytes()),
            b"X: a\0b\r\n"
        );
        assert_eq!(unmark(b"<corsica-raw-byte-zz>"), b"<corsica-raw-byte-zz>");
    }
}
