//! Container logs in Docker's json-file format: one JSON object per line,
//! `{"log":"…\n","stream":"stdout","time":"…"}`, rotated by `max-size` and
//! `max-file` like dockerd's driver.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// Lines longer than this are split, as dockerd does.
const MAX_LINE: usize = 16 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LogRecord {
    pub log: String,
    pub stream: String,
    pub time: String,
}

impl LogRecord {
    pub fn timestamp(&self) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(&self.time)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

/// Parses `max-size` values: `10m`, `1g`, `500k`, `2048`.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim().to_ascii_lowercase();
    let (num, mult) = match s.chars().last()? {
        'k' => (&s[..s.len() - 1], 1024),
        'm' => (&s[..s.len() - 1], 1024 * 1024),
        'g' => (&s[..s.len() - 1], 1024 * 1024 * 1024),
        'b' => (&s[..s.len() - 1], 1),
        _ => (s.as_str(), 1),
    };
    let n: u64 = num.parse().ok()?;
    (n > 0).then_some(n * mult)
}

pub struct LogWriter {
    path: PathBuf,
    file: File,
    written: u64,
    max_size: Option<u64>,
    max_files: u32,
    partial: [Vec<u8>; 2],
}

impl LogWriter {
    pub fn open(path: &Path, max_size: Option<u64>, max_files: u32) -> io::Result<LogWriter> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let written = file.metadata()?.len();
        Ok(LogWriter {
            path: path.into(),
            file,
            written,
            max_size,
            max_files: max_files.max(1),
            partial: [Vec::new(), Vec::new()],
        })
    }

    fn rotate(&mut self) -> io::Result<()> {
        if self.max_files <= 1 {
            self.file.set_len(0)?;
            self.written = 0;
            return Ok(());
        }
        for i in (1..self.max_files).rev() {
            let from = if i == 1 {
                self.path.clone()
            } else {
                rotated(&self.path, i - 1)
            };
            if from.exists() {
                fs::rename(&from, rotated(&self.path, i))?;
            }
        }
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .truncate(false)
            .open(&self.path)?;
        self.written = 0;
        Ok(())
    }

    fn emit(&mut self, stream: usize, line: &[u8]) -> io::Result<()> {
        let rec = LogRecord {
            log: String::from_utf8_lossy(line).into_owned(),
            stream: if stream == 0 { "stdout" } else { "stderr" }.into(),
            time: Utc::now().to_rfc3339_opts(SecondsFormat::Nanos, true),
        };
        let mut buf = serde_json::to_vec(&rec).map_err(io::Error::other)?;
        buf.push(b'\n');
        if let Some(max) = self.max_size {
            if self.written > 0 && self.written + buf.len() as u64 > max {
                self.rotate()?;
            }
        }
        self.file.write_all(&buf)?;
        self.written += buf.len() as u64;
        Ok(())
    }

    /// Takes bytes read from stream 0 (stdout) or 1 (stderr); writes every
    /// complete line and keeps the rest for the next call.
    pub fn write(&mut self, stream: usize, data: &[u8]) -> io::Result<()> {
        let mut pending = std::mem::take(&mut self.partial[stream]);
        pending.extend_from_slice(data);
        let mut start = 0;
        while let Some(i) = pending[start..].iter().position(|&b| b == b'\n') {
            let end = start + i + 1;
            let mut s = start;
            while end - s > MAX_LINE {
                self.emit(stream, &pending[s..s + MAX_LINE])?;
                s += MAX_LINE;
            }
            self.emit(stream, &pending[s..end])?;
            start = end;
        }
        while pending.len() - start >= MAX_LINE {
            self.emit(stream, &pending[start..start + MAX_LINE])?;
            start += MAX_LINE;
        }
        self.partial[stream] = pending[start..].to_vec();
        Ok(())
    }

    /// Writes a chunk as one record, as it came (a terminal's output has no lines).
    pub fn write_raw(&mut self, stream: usize, data: &[u8]) -> io::Result<()> {
        self.flush_partial(stream)?;
        self.emit(stream, data)
    }

    /// Writes what is left without a newline (the stream has ended).
    pub fn flush_partial(&mut self, stream: usize) -> io::Result<()> {
        let rest = std::mem::take(&mut self.partial[stream]);
        if !rest.is_empty() {
            self.emit(stream, &rest)?;
        }
        Ok(())
    }
}

fn rotated(path: &Path, i: u32) -> PathBuf {
    PathBuf::from(format!("{}.{i}", path.display()))
}

/// All log files of a container, oldest first.
pub fn log_files(path: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = (1..100)
        .map(|i| rotated(path, i))
        .take_while(|p| p.exists())
        .collect();
    out.reverse();
    if path.exists() {
        out.push(path.into());
    }
    out
}

/// Reads every record of the log files, oldest first. Lines that do not
/// parse (a crash mid-write) are skipped rather than failing the read.
pub fn read_all(path: &Path) -> Vec<LogRecord> {
    let mut out = Vec::new();
    for f in log_files(path) {
        let Ok(file) = File::open(&f) else { continue };
        for line in BufReader::new(file).lines().map_while(Result::ok) {
            if let Ok(r) = serde_json::from_str::<LogRecord>(&line) {
                out.push(r);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_partials_and_rotation() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("c-json.log");
        let mut w = LogWriter::open(&p, Some(200), 3).unwrap();
        w.write(0, b"hel").unwrap();
        w.write(0, b"lo\nwor").unwrap();
        w.write(1, b"err\n").unwrap();
        w.flush_partial(0).unwrap();
        let recs = read_all(&p);
        assert_eq!(
            recs.iter().map(|r| r.log.as_str()).collect::<Vec<_>>(),
            ["hello\n", "err\n", "wor"]
        );
        assert_eq!(recs[1].stream, "stderr");
        for i in 0..50 {
            w.write(0, format!("line {i}\n").as_bytes()).unwrap();
        }
        let files = log_files(&p);
        assert_eq!(files.len(), 3);
        let recs = read_all(&p);
        assert_eq!(recs.last().unwrap().log, "line 49\n");
        assert!(recs.len() < 53, "old files were dropped");
        assert!(fs::metadata(&p).unwrap().len() <= 200);
    }

    #[test]
    fn long_lines_are_split() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("l");
        let mut w = LogWriter::open(&p, None, 1).unwrap();
        w.write(0, &vec![b'a'; MAX_LINE * 2 + 10]).unwrap();
        w.write(0, b"\n").unwrap();
        let recs = read_all(&p);
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[2].log.len(), 11);
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10m"), Some(10 << 20));
        assert_eq!(parse_size("5k"), Some(5 << 10));
        assert_eq!(parse_size("12"), Some(12));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size("0"), None);
    }
}
