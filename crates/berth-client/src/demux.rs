//! Splitting Docker's multiplexed stream (`[stream,0,0,0,len32] payload`)
//! back into stdout and stderr.

/// Accumulates bytes and yields complete frames.
#[derive(Default)]
pub struct Demuxer {
    buf: Vec<u8>,
}

impl Demuxer {
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete frame: (stream, payload), stream 1 = stdout, 2 = stderr.
    pub fn next_frame(&mut self) -> Option<(u8, Vec<u8>)> {
        if self.buf.len() < 8 {
            return None;
        }
        let len = u32::from_be_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]]) as usize;
        if self.buf.len() < 8 + len {
            return None;
        }
        let stream = self.buf[0];
        let payload = self.buf[8..8 + len].to_vec();
        self.buf.drain(..8 + len);
        Some((stream, payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_across_pushes() {
        let mut d = Demuxer::default();
        d.push(&[1, 0, 0, 0, 0, 0, 0, 2, b'h']);
        assert!(d.next_frame().is_none());
        d.push(&[b'i', 2, 0, 0, 0, 0, 0, 0, 1, b'!']);
        assert_eq!(d.next_frame(), Some((1, b"hi".to_vec())));
        assert_eq!(d.next_frame(), Some((2, b"!".to_vec())));
        assert_eq!(d.next_frame(), None);
    }
}
