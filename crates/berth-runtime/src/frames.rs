//! The byte protocol between `berthd` and a supervisor's stdio socket:
//! `[kind u8][len u32 BE][payload]`. Small enough to read and write with
//! plain blocking calls on the supervisor side and tokio on the daemon side.

use std::io::{self, Read, Write};

/// Output of the process, supervisor to daemon.
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
/// The process ended; payload: exit code as i32 BE.
pub const EXIT: u8 = 3;
/// Daemon to supervisor: bytes for the process's stdin.
pub const STDIN: u8 = 10;
/// Daemon to supervisor: close the process's stdin.
pub const STDIN_EOF: u8 = 11;
/// Daemon to supervisor: terminal size, payload rows u16 BE, cols u16 BE.
pub const RESIZE: u8 = 12;

/// Frames larger than this are refused (a confused or hostile peer).
pub const MAX_FRAME: usize = 1 << 20;

pub fn encode(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + payload.len());
    out.push(kind);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

pub fn write_frame(w: &mut impl Write, kind: u8, payload: &[u8]) -> io::Result<()> {
    w.write_all(&encode(kind, payload))
}

pub fn resize_payload(rows: u16, cols: u16) -> [u8; 4] {
    let r = rows.to_be_bytes();
    let c = cols.to_be_bytes();
    [r[0], r[1], c[0], c[1]]
}

/// Accumulates bytes from a non-blocking socket and yields whole frames.
#[derive(Default)]
pub struct FrameReader {
    buf: Vec<u8>,
}

impl FrameReader {
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    pub fn next_frame(&mut self) -> io::Result<Option<(u8, Vec<u8>)>> {
        if self.buf.len() < 5 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if len > MAX_FRAME {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "frame too large",
            ));
        }
        if self.buf.len() < 5 + len {
            return Ok(None);
        }
        let kind = self.buf[0];
        let payload = self.buf[5..5 + len].to_vec();
        self.buf.drain(..5 + len);
        Ok(Some((kind, payload)))
    }

    /// Reads one frame from a blocking reader.
    pub fn read_blocking(r: &mut impl Read) -> io::Result<(u8, Vec<u8>)> {
        let mut head = [0u8; 5];
        r.read_exact(&mut head)?;
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        if len > MAX_FRAME {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "frame too large",
            ));
        }
        let mut payload = vec![0u8; len];
        r.read_exact(&mut payload)?;
        Ok((head[0], payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_limits() {
        let mut r = FrameReader::default();
        let f = encode(STDIN, b"hello");
        r.push(&f[..3]);
        assert!(r.next_frame().unwrap().is_none());
        r.push(&f[3..]);
        r.push(&encode(RESIZE, &resize_payload(24, 80)));
        assert_eq!(r.next_frame().unwrap(), Some((STDIN, b"hello".to_vec())));
        assert_eq!(r.next_frame().unwrap(), Some((RESIZE, vec![0, 24, 0, 80])));
        let mut bad = FrameReader::default();
        bad.push(&[STDIN, 0xff, 0xff, 0xff, 0xff]);
        assert!(bad.next_frame().is_err());
        let mut cur = std::io::Cursor::new(encode(EXIT, &7i32.to_be_bytes()));
        assert_eq!(
            FrameReader::read_blocking(&mut cur).unwrap(),
            (EXIT, 7i32.to_be_bytes().to_vec())
        );
    }
}
