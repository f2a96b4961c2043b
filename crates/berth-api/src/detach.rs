//! Detach keys: docker's `ctrl-p,ctrl-q` notation (its `term.ToBytes`) and
//! the escape proxy that watches a client's input for the sequence.

/// `ctrl-p,ctrl-q`: what docker uses when nothing else is configured.
pub const DEFAULT: &[u8] = &[0x10, 0x11];

/// `ctrl-@` … `ctrl-_` are the control codes 0 … 31, as docker names them.
const CONTROL: &str = "@abcdefghijklmnopqrstuvwxyz[\\]^_";

/// "ctrl-p,ctrl-q" → [0x10, 0x11]; single characters stand for themselves,
/// `DEL` for 127. The error is docker's ("Unknown character: 'x'").
pub fn parse(keys: &str) -> Result<Vec<u8>, String> {
    keys.split(',')
        .map(|key| {
            if key.len() == 1 {
                return Ok(key.as_bytes()[0]);
            }
            if key == "DEL" {
                return Ok(127);
            }
            key.strip_prefix("ctrl-")
                .filter(|c| c.len() == 1)
                .and_then(|c| CONTROL.find(c))
                .map(|code| code as u8)
                .ok_or_else(|| format!("Unknown character: '{key}'"))
        })
        .collect()
}

/// Watches input for the detach sequence (docker's `EscapeProxy`): bytes
/// that could begin the sequence are held back until it is clear whether
/// they do, then passed on; a completed sequence is never passed on.
#[derive(Debug, Clone)]
pub struct Escape {
    keys: Vec<u8>,
    matched: usize,
}

impl Escape {
    /// An empty sequence never matches.
    pub fn new(keys: Vec<u8>) -> Escape {
        Escape { keys, matched: 0 }
    }

    /// What of `data` (and of bytes held back before) goes on to the
    /// process, and whether the sequence completed (input after it is dropped).
    pub fn feed(&mut self, data: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(data.len());
        for &b in data {
            if self.keys.is_empty() {
                out.push(b);
                continue;
            }
            if self.keys[self.matched] == b {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return (out, true);
                }
                continue;
            }
            // Not the sequence after all: what was held back goes on, and
            // this byte may begin it again.
            out.extend_from_slice(&self.keys[..self.matched]);
            if self.keys[0] == b {
                self.matched = 1;
            } else {
                self.matched = 0;
                out.push(b);
            }
        }
        (out, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_as_docker_does() {
        assert_eq!(parse("ctrl-p,ctrl-q").unwrap(), DEFAULT);
        assert_eq!(
            parse("ctrl-@,ctrl-_,a,DEL").unwrap(),
            vec![0, 31, b'a', 127]
        );
        assert_eq!(parse("ctrl-x,ctrl-\\").unwrap(), vec![24, 28]);
        for bad in [
            "ctrl-P", "ctrl-", "ctrl-pq", "shift-a", "", "a,,b", "ctrl-1",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} is refused");
        }
        assert_eq!(parse("nope").unwrap_err(), "Unknown character: 'nope'");
    }

    #[test]
    fn escape_holds_back_a_prefix_and_drops_the_sequence() {
        let mut e = Escape::new(DEFAULT.to_vec());
        assert_eq!(e.feed(b"ab\x10"), (b"ab".to_vec(), false));
        assert_eq!(
            e.feed(b"c"),
            (b"\x10c".to_vec(), false),
            "a prefix not followed through goes on"
        );
        assert_eq!(e.feed(b"x\x10"), (b"x".to_vec(), false));
        assert_eq!(
            e.feed(b"\x11rest"),
            (vec![], true),
            "the sequence across two reads"
        );
        assert_eq!(
            e.feed(b"\x10\x10\x11"),
            (b"\x10".to_vec(), true),
            "a repeated first key"
        );
        let mut none = Escape::new(vec![]);
        assert_eq!(none.feed(b"\x10\x11"), (b"\x10\x11".to_vec(), false));
    }
}
