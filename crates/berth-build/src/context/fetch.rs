//! ADD's remote and archive sources: `http://` downloads and the local
//! tars ADD unpacks.

use super::*;

/// Whether `path` is a tar archive ADD unpacks (plain or gzip).
pub fn archive_kind(path: &Path) -> Option<bool> {
    let mut f = File::open(path).ok()?;
    let mut head = [0u8; 262];
    let n = f.read(&mut head).ok()?;
    if n >= 2 && head[..2] == [0x1f, 0x8b] {
        return Some(true);
    }
    (n >= 262 && &head[257..262] == b"ustar").then_some(false)
}

/// ADD's unpacking of a local archive into `dest`: entries may not leave it.
pub fn unpack_archive(path: &Path, gzip: bool, dest: &Path) -> Result<()> {
    let f = File::open(path).map_err(io_err("open archive"))?;
    let reader: Box<dyn Read> = if gzip {
        Box::new(flate2::read::GzDecoder::new(f))
    } else {
        Box::new(f)
    };
    let mut ar = tar::Archive::new(reader);
    ar.set_preserve_permissions(true);
    ar.set_preserve_mtime(true);
    ar.set_unpack_xattrs(false);
    for entry in ar.entries().map_err(io_err("read archive"))? {
        let mut entry = entry.map_err(io_err("read archive"))?;
        // unpack_in refuses `..` and paths through links that leave `dest`.
        if !entry.unpack_in(dest).map_err(io_err("unpack archive"))? {
            return Err(BuildError::step(format!(
                "archive {} has an entry outside the destination: {}",
                path.display(),
                entry
                    .path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            )));
        }
    }
    Ok(())
}

/// ADD's download of an `http://` URL into `dest` (HTTP/1.0, a few redirects
/// followed). Returns the file name the URL names, for a directory destination.
pub fn fetch_http(url: &str, dest: &Path) -> Result<String> {
    let mut url = url.to_string();
    for _ in 0..5 {
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            BuildError::step(format!(
                "ADD {url}: only http:// URLs are supported by this version of berthd"
            ))
        })?;
        let (hostport, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let addr = if hostport.contains(':') {
            hostport.to_string()
        } else {
            format!("{hostport}:80")
        };
        let fail = |e: String| BuildError::step(format!("ADD failed: GET {url}: {e}"));
        let mut conn = std::net::TcpStream::connect(&addr).map_err(|e| fail(e.to_string()))?;
        conn.set_read_timeout(Some(std::time::Duration::from_secs(60)))
            .map_err(|e| fail(e.to_string()))?;
        let request =
            format!("GET {path} HTTP/1.0\r\nHost: {hostport}\r\nUser-Agent: berth\r\n\r\n");
        conn.write_all(request.as_bytes())
            .map_err(|e| fail(e.to_string()))?;
        let mut reader = io::BufReader::new(conn);
        let mut head = Vec::new();
        loop {
            let mut line = String::new();
            if io::BufRead::read_line(&mut reader, &mut line).map_err(|e| fail(e.to_string()))? == 0
            {
                return Err(fail("connection closed in the headers".into()));
            }
            if line == "\r\n" || line == "\n" {
                break;
            }
            head.push(line.trim_end().to_string());
        }
        let status: u16 = head
            .first()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| fail("not an HTTP response".into()))?;
        let header = |name: &str| {
            head.iter().skip(1).find_map(|h| {
                let (k, v) = h.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
        };
        if (300..400).contains(&status) {
            let loc =
                header("location").ok_or_else(|| fail(format!("{status} without a Location")))?;
            url = if loc.starts_with("http") {
                loc
            } else {
                format!("http://{hostport}{loc}")
            };
            continue;
        }
        if status != 200 {
            return Err(fail(format!(
                "{status} {}",
                head[0].splitn(3, ' ').nth(2).unwrap_or("")
            )));
        }
        if let Some(dir) = dest.parent() {
            fs::create_dir_all(dir).map_err(io_err("create download dir"))?;
        }
        let mut out = File::create(dest).map_err(io_err("create download"))?;
        io::copy(&mut reader, &mut out).map_err(|e| fail(e.to_string()))?;
        let name = path
            .split(['?', '#'])
            .next()
            .unwrap_or("")
            .rsplit('/')
            .next()
            .unwrap_or("")
            .to_string();
        return Ok(name);
    }
    Err(BuildError::step(format!(
        "ADD failed: GET {url}: too many redirects"
    )))
}
