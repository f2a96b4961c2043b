//! Registry credentials in the client's `config.json` (`~/.berth`, `$BERTH_CONFIG`,
//! `$DOCKER_CONFIG`; see context.rs),
//! in the format of docker's `config.json`: `auths` holds `base64(user:pass)`
//! per server, unless a helper program keeps them: `credHelpers` names one
//! per server, `credsStore` one for all (`docker-credential-<name>`, speaking
//! `get`/`store`/`erase`/`list` over stdin and stdout, as docker's do).
//! Keys this file does not use are kept as they are.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde_json::{json, Value};

use crate::{CliError, Result};

/// Docker Hub's key in `auths`, as docker writes it.
pub const DOCKER_HUB: &str = "https://index.docker.io/v1/";

pub struct Store {
    path: PathBuf,
    doc: Value,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// The registry an image reference names, as its `auths` key: docker's rule
/// is that a first component with a `.` or `:`, or `localhost`, is a host.
pub fn server_of(image: &str) -> String {
    match image.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => {
            if first == "docker.io" || first == "index.docker.io" {
                DOCKER_HUB.to_string()
            } else {
                first.to_string()
            }
        }
        _ => DOCKER_HUB.to_string(),
    }
}

/// `SERVER` as given to login/logout: Docker Hub's names become its key,
/// others lose their scheme and trailing slash.
pub fn normalize(server: Option<&str>) -> String {
    let Some(s) = server.filter(|s| !s.is_empty()) else {
        return DOCKER_HUB.to_string();
    };
    let host = s
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    if [
        "docker.io",
        "index.docker.io",
        "registry-1.docker.io",
        "index.docker.io/v1",
    ]
    .contains(&host)
    {
        DOCKER_HUB.to_string()
    } else {
        host.to_string()
    }
}

impl Store {
    pub fn dir() -> PathBuf {
        crate::context::config_dir()
    }

    pub fn load() -> Result<Store> {
        let path = Store::dir().join("config.json");
        let doc = match std::fs::read(&path) {
            Ok(raw) => serde_json::from_slice(&raw).map_err(|e| {
                CliError::Usage(format!("{} is not valid JSON: {e}", path.display()))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => json!({}),
            Err(e) => return Err(CliError::Usage(format!("{}: {e}", path.display()))),
        };
        if !doc.is_object() {
            return Err(CliError::Usage(format!(
                "{}: not a JSON object",
                path.display()
            )));
        }
        Ok(Store { path, doc })
    }

    fn helper(&self, server: &str) -> Option<String> {
        self.doc["credHelpers"][server]
            .as_str()
            .or_else(|| self.doc["credsStore"].as_str())
            .filter(|h| !h.is_empty())
            .map(String::from)
    }

    /// Username and password for `server`, if any are kept.
    pub fn get(&self, server: &str) -> Result<Option<(String, String)>> {
        if let Some(h) = self.helper(server) {
            let out = run_helper(&h, "get", server.as_bytes())?;
            let Some(out) = out else { return Ok(None) };
            let v: Value = serde_json::from_slice(&out).map_err(|e| {
                CliError::Usage(format!("docker-credential-{h} get: bad answer: {e}"))
            })?;
            return Ok(Some((
                v["Username"].as_str().unwrap_or_default().to_string(),
                v["Secret"].as_str().unwrap_or_default().to_string(),
            )));
        }
        let Some(auth) = self.doc["auths"][server]["auth"].as_str() else {
            return Ok(None);
        };
        let decoded = b64()
            .decode(auth)
            .ok()
            .and_then(|d| String::from_utf8(d).ok())
            .ok_or_else(|| {
                CliError::Usage(format!("{}: bad auth for {server}", self.path.display()))
            })?;
        Ok(decoded
            .split_once(':')
            .map(|(u, p)| (u.to_string(), p.to_string())))
    }

    pub fn store(&mut self, server: &str, user: &str, password: &str) -> Result {
        if let Some(h) = self.helper(server) {
            let input = json!({"ServerURL": server, "Username": user, "Secret": password});
            run_helper(&h, "store", &serde_json::to_vec(&input).unwrap_or_default())?
                .ok_or_else(|| CliError::Usage(format!("docker-credential-{h} store failed")))?;
            // The file keeps an empty entry, as docker's does.
            self.doc["auths"][server] = json!({});
        } else {
            self.doc["auths"][server] = json!({"auth": b64().encode(format!("{user}:{password}"))});
        }
        self.save()
    }

    /// Forgets `server`; false when nothing was kept for it.
    pub fn erase(&mut self, server: &str) -> Result<bool> {
        let mut had = false;
        if let Some(h) = self.helper(server) {
            had = run_helper(&h, "erase", server.as_bytes())?.is_some();
        }
        if let Some(auths) = self.doc["auths"].as_object_mut() {
            had |= auths.remove(server).is_some();
        }
        self.save()?;
        Ok(had)
    }

    /// Every server with credentials, for `X-Registry-Config` (builds).
    pub fn all(&self) -> Result<Vec<(String, String, String)>> {
        let mut servers: Vec<String> = self.doc["auths"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        if let Some(m) = self.doc["credHelpers"].as_object() {
            servers.extend(m.keys().cloned());
        }
        if let Some(h) = self.doc["credsStore"].as_str().filter(|h| !h.is_empty()) {
            if let Some(out) = run_helper(h, "list", b"")? {
                let v: Value = serde_json::from_slice(&out).unwrap_or_default();
                if let Some(m) = v.as_object() {
                    servers.extend(m.keys().cloned());
                }
            }
        }
        servers.sort();
        servers.dedup();
        let mut out = Vec::new();
        for s in servers {
            if let Some((u, p)) = self.get(&s)? {
                out.push((s, u, p));
            }
        }
        Ok(out)
    }

    /// Written through a temporary file and a rename, readable by its owner only.
    fn save(&self) -> Result {
        use std::os::unix::fs::OpenOptionsExt as _;
        let dir = self.path.parent().unwrap_or(std::path::Path::new("."));
        std::fs::create_dir_all(dir)?;
        let tmp = self.path.with_extension("json.tmp");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&serde_json::to_vec_pretty(&self.doc).unwrap_or_default())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &self.path)?;
        Ok(())
    }
}

/// Runs `docker-credential-<name> <verb>` with `input` on stdin. `None` when
/// it says the credentials are not there.
fn run_helper(name: &str, verb: &str, input: &[u8]) -> Result<Option<Vec<u8>>> {
    let program = format!("docker-credential-{name}");
    let mut child = Command::new(&program)
        .arg(verb)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| CliError::Usage(format!("credential helper {program}: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input)?;
    }
    let out = child.wait_with_output()?;
    if out.status.success() {
        return Ok(Some(out.stdout));
    }
    let said = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if said.contains("credentials not found") {
        return Ok(None);
    }
    Err(CliError::Usage(format!(
        "{program} {verb}: {}{}",
        said,
        String::from_utf8_lossy(&out.stderr).trim()
    )))
}

/// `X-Registry-Auth` for an image's registry: base64url JSON, as docker sends.
pub fn registry_auth(image: &str) -> Result<Option<String>> {
    let server = server_of(image);
    let Some((user, pass)) = Store::load()?.get(&server)? else {
        return Ok(None);
    };
    let v = json!({"username": user, "password": pass, "serveraddress": server});
    Ok(Some(
        base64::engine::general_purpose::URL_SAFE
            .encode(serde_json::to_vec(&v).unwrap_or_default()),
    ))
}

/// `X-Registry-Config` for builds: every server's credentials, base64url JSON.
pub fn registry_config() -> Result<String> {
    let mut m = serde_json::Map::new();
    for (server, user, pass) in Store::load()?.all()? {
        m.insert(
            server.clone(),
            json!({"username": user, "password": pass, "serveraddress": server}),
        );
    }
    Ok(base64::engine::general_purpose::URL_SAFE
        .encode(serde_json::to_vec(&Value::Object(m)).unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_of_references() {
        assert_eq!(server_of("busybox"), DOCKER_HUB);
        assert_eq!(server_of("library/busybox:1"), DOCKER_HUB);
        assert_eq!(server_of("docker.io/x/y"), DOCKER_HUB);
        assert_eq!(server_of("127.0.0.1:5000/a/b:1"), "127.0.0.1:5000");
        assert_eq!(server_of("localhost/a"), "localhost");
        assert_eq!(server_of("reg.example/a@sha256:00"), "reg.example");
        assert_eq!(normalize(None), DOCKER_HUB);
        assert_eq!(normalize(Some("https://127.0.0.1:5000/")), "127.0.0.1:5000");
        assert_eq!(normalize(Some("docker.io")), DOCKER_HUB);
    }
}
