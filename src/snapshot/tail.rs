//! The last 64 KiB of a program's stderr (or stdout): enough to explain a failure, bounded
//! however much the program writes.

use std::io::Read;
use std::thread::JoinHandle;

/// How much is kept (DESIGN: the last 64 KiB of stderr).
pub const TAIL_BYTES: usize = 64 * 1024;

/// The last [`TAIL_BYTES`] of a stream.
#[derive(Debug, Default, Clone)]
pub struct Tail {
    buf: Vec<u8>,
    cut: bool,
}

impl Tail {
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
        // Trim in batches so a chatty program costs amortised O(1) per byte.
        if self.buf.len() > 2 * TAIL_BYTES {
            self.buf.drain(..self.buf.len() - TAIL_BYTES);
            self.cut = true;
        }
    }

    /// Reads `r` to its end on a thread of its own.
    pub fn collect<R: Read + Send + 'static>(mut r: R) -> JoinHandle<Tail> {
        std::thread::spawn(move || {
            let mut tail = Tail::default();
            let mut buf = [0u8; 8192];
            while let Ok(n) = r.read(&mut buf) {
                if n == 0 {
                    break;
                }
                tail.push(&buf[..n]);
            }
            tail
        })
    }

    /// Everything kept (at most [`TAIL_BYTES`]), starting at a line boundary when cut.
    pub fn text(&self) -> String {
        let start = self.buf.len().saturating_sub(TAIL_BYTES);
        let mut kept = &self.buf[start..];
        if (self.cut || start > 0)
            && let Some(nl) = kept.iter().position(|&b| b == b'\n')
        {
            kept = &kept[nl + 1..];
        }
        String::from_utf8_lossy(kept).trim_end().to_string()
    }

    /// The last `lines` lines (at most 4 KiB), indented, for an error message.
    pub fn last_lines(&self, lines: usize) -> String {
        let text = self.text();
        let mut picked: Vec<&str> = text.lines().rev().take(lines).collect();
        picked.reverse();
        let mut out = picked.join("\n");
        if out.len() > 4096 {
            let mut at = out.len() - 4096;
            while !out.is_char_boundary(at) {
                at += 1;
            }
            out = out[at..].to_string();
        }
        out.lines()
            .map(|l| format!("  {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_end_at_a_line_boundary() {
        let mut t = Tail::default();
        for i in 0..20_000 {
            t.push(format!("line {i}\n").as_bytes());
        }
        let text = t.text();
        assert!(text.len() <= TAIL_BYTES);
        assert!(text.starts_with("line "), "{}", &text[..20]);
        assert!(text.ends_with("line 19999"));
        assert_eq!(t.last_lines(2), "  line 19998\n  line 19999");
    }
}
