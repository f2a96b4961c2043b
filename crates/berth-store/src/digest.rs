//! `sha256:<hex>` digests and a reader that hashes what passes through it.

use std::io::{self, Read, Write};

use sha2::{Digest as _, Sha256};

use crate::error::{Result, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    pub fn parse(s: &str) -> Result<Digest> {
        if berth_api::reference::valid_digest(s) {
            Ok(Digest(s.to_string()))
        } else {
            Err(StoreError::Invalid(format!("invalid digest: {s:?}")))
        }
    }
    pub fn of(bytes: &[u8]) -> Digest {
        Digest::from_hasher(Sha256::new_with_prefix(bytes))
    }
    fn from_hasher(h: Sha256) -> Digest {
        Digest(format!("sha256:{}", hex::encode(h.finalize())))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The hex part, used as a file name.
    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Hashes and counts every byte read through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }
    /// Reads what is left (a tar has padding after its end marker) and returns the digest.
    pub fn finish(mut self) -> io::Result<(Digest, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((Digest::from_hasher(self.hasher), self.count))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// Hashes and writes to a file on a thread of its own, so that hashing and
/// storing a layer's tar overlap with unpacking it.
pub struct BackgroundBlob {
    tx: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    handle: std::thread::JoinHandle<io::Result<(Digest, u64)>>,
}

impl BackgroundBlob {
    pub fn start(mut file: std::fs::File) -> BackgroundBlob {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(64);
        let handle = std::thread::spawn(move || {
            let mut hasher = Sha256::new();
            let mut count = 0u64;
            for chunk in rx {
                hasher.update(&chunk);
                count += chunk.len() as u64;
                file.write_all(&chunk)?;
            }
            Ok((Digest::from_hasher(hasher), count))
        });
        BackgroundBlob {
            tx: Some(tx),
            handle,
        }
    }

    /// Waits for the thread: the digest and size of everything written.
    pub fn finish(mut self) -> io::Result<(Digest, u64)> {
        drop(self.tx.take());
        self.handle
            .join()
            .map_err(|_| io::Error::other("blob writer thread failed"))?
    }
}

impl Write for BackgroundBlob {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let tx = self
            .tx
            .as_ref()
            .ok_or_else(|| io::Error::other("blob writer finished"))?;
        tx.send(buf.to_vec())
            .map_err(|_| io::Error::other("blob writer failed"))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Copies what is read into a writer as well (the blob file).
pub struct TeeReader<R, W> {
    pub inner: R,
    pub copy: W,
}

impl<R: Read, W: Write> Read for TeeReader<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.copy.write_all(&buf[..n])?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests() {
        let d = Digest::of(b"");
        assert_eq!(
            d.as_str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let (h, n) = HashingReader::new(&b"abc"[..]).finish().unwrap();
        assert_eq!(n, 3);
        assert_eq!(h, Digest::of(b"abc"));
        let dir = tempfile::tempdir().unwrap();
        let mut b = BackgroundBlob::start(std::fs::File::create(dir.path().join("b")).unwrap());
        b.write_all(b"ab").unwrap();
        b.write_all(b"c").unwrap();
        assert_eq!(b.finish().unwrap(), (Digest::of(b"abc"), 3));
        assert_eq!(std::fs::read(dir.path().join("b")).unwrap(), b"abc");
        assert!(Digest::parse("sha256:xyz").is_err());
        assert!(Digest::parse("md5:00").is_err());
    }
}
