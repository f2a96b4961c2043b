//! Image references normalised the way Docker does:
//! `busybox` = `docker.io/library/busybox:latest`.

use crate::ApiError;

pub const DEFAULT_DOMAIN: &str = "docker.io";
pub const DEFAULT_TAG: &str = "latest";

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    /// Registry host, e.g. `docker.io` or `localhost:5000`.
    pub domain: String,
    /// Repository path, e.g. `library/busybox`.
    pub path: String,
    pub tag: Option<String>,
    /// `sha256:<hex>` when the reference pins a digest.
    pub digest: Option<String>,
}

fn valid_component(c: &str) -> bool {
    // [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
    if c.is_empty() {
        return false;
    }
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|x| x.is_ascii_alphanumeric() || matches!(x, b'_' | b'.' | b'-'))
}

pub fn valid_digest(d: &str) -> bool {
    match d.split_once(':') {
        Some(("sha256", hex)) => {
            hex.len() == 64
                && hex
                    .bytes()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        }
        _ => false,
    }
}

impl ImageRef {
    pub fn parse(s: &str) -> Result<ImageRef, ApiError> {
        let invalid = || ApiError::bad_request(format!("invalid reference format: {s}"));
        if s.is_empty() || s.len() > 255 + 128 + 72 {
            return Err(invalid());
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                if !valid_digest(d) {
                    return Err(invalid());
                }
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        // A tag follows the last ':' only if no '/' comes after it (else it is a port).
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(rest[i + 1..].to_string())),
            _ => (rest, None),
        };
        if let Some(t) = &tag {
            if !valid_tag(t) {
                return Err(invalid());
            }
        }
        if name.is_empty() {
            return Err(invalid());
        }
        let (domain, path) = match name.split_once('/') {
            Some((first, remainder))
                if first.contains('.')
                    || first.contains(':')
                    || first == "localhost"
                    || first.chars().any(|c| c.is_ascii_uppercase()) =>
            {
                (first.to_string(), remainder.to_string())
            }
            _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
        };
        if name.chars().any(|c| c.is_ascii_uppercase()) && domain == DEFAULT_DOMAIN {
            // Named as Docker names it: the path it normalises to.
            let shown = if path.contains('/') {
                path.clone()
            } else {
                format!("library/{path}")
            };
            return Err(ApiError::bad_request(format!(
                "invalid reference format: repository name ({shown}) must be lowercase"
            )));
        }
        let path = if domain == DEFAULT_DOMAIN && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        if !path.split('/').all(valid_component) {
            return Err(invalid());
        }
        let tag = if tag.is_none() && digest.is_none() {
            Some(DEFAULT_TAG.to_string())
        } else {
            tag
        };
        Ok(ImageRef {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// `docker.io/library/busybox` (no tag or digest).
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The short form users type: `busybox`, `me/app`, `localhost:5000/app`.
    pub fn familiar_repository(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            self.path
                .strip_prefix("library/")
                .unwrap_or(&self.path)
                .to_string()
        } else {
            self.repository()
        }
    }

    /// `busybox:latest`, as `docker images` and `RepoTags` show it.
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_repository();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }

    /// The fully qualified form used as the key in the tag table.
    pub fn canonical(&self) -> String {
        let mut s = self.repository();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }
}

impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.familiar())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_like_docker() {
        let r = ImageRef::parse("busybox").unwrap();
        assert_eq!(r.canonical(), "docker.io/library/busybox:latest");
        assert_eq!(r.familiar(), "busybox:latest");
        let r = ImageRef::parse("me/app:1.0").unwrap();
        assert_eq!(r.canonical(), "docker.io/me/app:1.0");
        let r = ImageRef::parse("localhost:5000/app").unwrap();
        assert_eq!(r.domain, "localhost:5000");
        assert_eq!(r.familiar(), "localhost:5000/app:latest");
        let r = ImageRef::parse("docker.io/library/busybox:1").unwrap();
        assert_eq!(r.familiar(), "busybox:1");
        let d = format!("sha256:{}", "a".repeat(64));
        let r = ImageRef::parse(&format!("busybox@{d}")).unwrap();
        assert_eq!(r.tag, None);
        assert_eq!(r.digest.as_deref(), Some(d.as_str()));
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "Busybox",
            "a:b:c",
            "busybox:",
            "-x",
            "a//b",
            "x@sha256:zz",
            "a:!",
            "a..b",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}
