//! Bridges between HTTP bodies and the engine's blocking readers/writers,
//! and Docker's stream framing.

use std::io::{self, Read, Write};

use axum::body::Body;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;

/// A blocking `Read` over a request body (for load and import).
pub struct BodyReader {
    rx: mpsc::Receiver<Result<Bytes, io::Error>>,
    current: Bytes,
}

impl BodyReader {
    pub fn new(body: Body) -> BodyReader {
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(async move {
            let mut stream = body.into_data_stream();
            while let Some(chunk) = stream.next().await {
                let item =
                    chunk.map_err(|e| io::Error::new(io::ErrorKind::UnexpectedEof, e.to_string()));
                let stop = item.is_err();
                if tx.send(item).await.is_err() || stop {
                    return;
                }
            }
        });
        BodyReader {
            rx,
            current: Bytes::new(),
        }
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.current = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// A blocking `Write` that becomes a streamed response body (for save).
pub struct BodyWriter {
    tx: mpsc::Sender<Result<Bytes, io::Error>>,
    buf: Vec<u8>,
}

const CHUNK: usize = 256 * 1024;

impl BodyWriter {
    pub fn new() -> (BodyWriter, Body) {
        let (tx, rx) = mpsc::channel(8);
        let stream = tokio_stream_from(rx);
        (
            BodyWriter {
                tx,
                buf: Vec::with_capacity(CHUNK),
            },
            Body::from_stream(stream),
        )
    }
}

fn tokio_stream_from(
    mut rx: mpsc::Receiver<Result<Bytes, io::Error>>,
) -> impl futures_util::Stream<Item = Result<Bytes, io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

impl Write for BodyWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "client went away"))
    }
}

impl Drop for BodyWriter {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// Docker's multiplexed stream frame: `[stream, 0, 0, 0, len_be32] payload`
/// with stream 1 = stdout, 2 = stderr.
pub fn frame(stream: u8, payload: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(8 + payload.len());
    out.extend_from_slice(&[stream, 0, 0, 0]);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    Bytes::from(out)
}

/// One log record as it goes on the wire.
pub fn log_bytes(rec: &berth_runtime::logs::LogRecord, tty: bool, timestamps: bool) -> Bytes {
    let mut payload = Vec::new();
    if timestamps {
        payload.extend_from_slice(rec.time.as_bytes());
        payload.push(b' ');
    }
    payload.extend_from_slice(rec.log.as_bytes());
    if tty {
        Bytes::from(payload)
    } else {
        frame(if rec.stream == "stderr" { 2 } else { 1 }, &payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames() {
        assert_eq!(&frame(2, b"hi")[..], &[2, 0, 0, 0, 0, 0, 0, 2, b'h', b'i']);
    }
}
