//! Who may do what. Three modes, as Distribution has them:
//! - open: anyone may do anything;
//! - basic: htpasswd (bcrypt) users may do anything, others nothing;
//! - token: the Docker token flow. Requests carry a bearer token, a JWT whose
//!   `access` claim lists `repository:NAME:pull,push` grants; without one the
//!   answer is 401 with `WWW-Authenticate: Bearer realm=…,service=…,scope=…`
//!   naming what the request needs. With htpasswd users, this server also
//!   issues the tokens at `/token` (the realm).
//!
//! Tokens are signed with HMAC-SHA256 (JWT `HS256`) by a secret the issuer and
//! the registry share. Distribution signs with RSA/ECDSA and a certificate
//! chain so that separate services can verify without sharing a secret; here
//! issuer and registry are one process (or share a secret file), and a JWT is
//! a few lines over `hmac`, where a JWT crate would bring RSA and elliptic
//! curves along.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use axum::http::{header, HeaderMap};
use base64::Engine as _;
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::error::RegistryError;

const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// htpasswd users, with the credentials bcrypt has accepted already (their
/// sha256), so a push's many requests do not pay bcrypt's cost each.
pub struct Users {
    hashes: HashMap<String, String>,
    verified: Mutex<HashMap<[u8; 32], String>>,
}

impl Users {
    /// Parses an htpasswd file; only bcrypt (`$2a$`, `$2b$`, `$2y$`) hashes are accepted.
    pub fn parse(text: &str) -> Result<Users, String> {
        let mut hashes = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (user, hash) = line
                .split_once(':')
                .ok_or_else(|| format!("htpasswd line {}: no ':'", n + 1))?;
            if !["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p)) {
                return Err(format!(
                    "htpasswd line {}: only bcrypt hashes are supported",
                    n + 1
                ));
            }
            hashes.insert(user.to_string(), hash.to_string());
        }
        Ok(Users {
            hashes,
            verified: Mutex::new(HashMap::new()),
        })
    }

    /// The user whose basic credentials the request carries, if they are right.
    pub fn basic(&self, headers: &HeaderMap) -> Option<String> {
        let encoded = headers
            .get(header::AUTHORIZATION)?
            .to_str()
            .ok()?
            .strip_prefix("Basic ")?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (user, pass) = text.split_once(':')?;
        self.check(user, pass).then(|| user.to_string())
    }

    /// Whether `pass` is `user`'s password.
    pub fn check(&self, user: &str, pass: &str) -> bool {
        let key: [u8; 32] = sha2::Sha256::digest(format!("{user}:{pass}")).into();
        let mut verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if verified.contains_key(&key) {
            return true;
        }
        let ok = self
            .hashes
            .get(user)
            .is_some_and(|hash| bcrypt::verify(pass, hash).unwrap_or(false));
        if ok {
            verified.insert(key, user.to_string());
        }
        ok
    }
}

/// One grant or need: `repository:a/b:pull,push`, `registry:catalog:*`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

impl Scope {
    pub fn repository(name: &str, actions: &[&str]) -> Scope {
        Scope {
            kind: "repository".into(),
            name: name.into(),
            actions: actions.iter().map(|a| a.to_string()).collect(),
        }
    }

    /// `type:name:actions`; the name may hold a `:` (a registry with a port).
    pub fn parse(s: &str) -> Option<Scope> {
        let (kind, rest) = s.split_once(':')?;
        let (name, actions) = rest.rsplit_once(':')?;
        if kind.is_empty() || name.is_empty() {
            return None;
        }
        Some(Scope {
            kind: kind.into(),
            name: name.into(),
            actions: actions
                .split(',')
                .filter(|a| !a.is_empty())
                .map(String::from)
                .collect(),
        })
    }

    fn render(&self) -> String {
        format!("{}:{}:{}", self.kind, self.name, self.actions.join(","))
    }
}

/// The token flow's settings: where clients get tokens and what they must say.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// The token endpoint's URL, sent in challenges.
    pub realm: String,
    pub service: String,
    pub issuer: String,
    /// The HMAC key tokens are signed with.
    pub secret: Vec<u8>,
    /// How long an issued token is good for, in seconds.
    pub expiration: u64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: u64,
    pub nbf: u64,
    pub iat: u64,
    pub jti: String,
    #[serde(default)]
    pub access: Vec<Scope>,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn mac(secret: &[u8]) -> hmac::Hmac<sha2::Sha256> {
    // HMAC takes keys of any length.
    hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC accepts any key length")
}

impl TokenSettings {
    /// A signed token for `subject` granting `access`.
    pub fn issue(&self, subject: &str, access: Vec<Scope>) -> String {
        let t = now();
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: subject.into(),
            aud: self.service.clone(),
            exp: t + self.expiration,
            nbf: t.saturating_sub(10),
            iat: t,
            jti: format!("{:032x}", rand::random::<u128>()),
            access,
        };
        let header = B64URL.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let body = B64URL.encode(serde_json::to_vec(&claims).unwrap_or_default());
        let signed = format!("{header}.{body}");
        let mut m = mac(&self.secret);
        m.update(signed.as_bytes());
        let sig = B64URL.encode(m.finalize().into_bytes());
        format!("{signed}.{sig}")
    }

    /// The claims of a token this issuer signed, for this service, in date.
    pub fn verify(&self, token: &str) -> Result<Claims, String> {
        let mut parts = token.split('.');
        let (Some(h), Some(b), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("malformed token".into());
        };
        let header: serde_json::Value = B64URL
            .decode(h)
            .ok()
            .and_then(|j| serde_json::from_slice(&j).ok())
            .ok_or("malformed token header")?;
        if header["alg"] != "HS256" {
            return Err(format!("token algorithm {} is not accepted", header["alg"]));
        }
        let sig = B64URL.decode(s).map_err(|_| "malformed token signature")?;
        let mut m = mac(&self.secret);
        m.update(format!("{h}.{b}").as_bytes());
        m.verify_slice(&sig).map_err(|_| "bad token signature")?;
        let claims: Claims = B64URL
            .decode(b)
            .ok()
            .and_then(|j| serde_json::from_slice(&j).ok())
            .ok_or("malformed token claims")?;
        let t = now();
        if claims.iss != self.issuer || claims.aud != self.service {
            return Err("token issued for another service".into());
        }
        if t >= claims.exp || t < claims.nbf {
            return Err("token expired".into());
        }
        Ok(claims)
    }
}

/// How a server decides.
#[derive(Default)]
pub enum Auth {
    #[default]
    Open,
    Basic(Users),
    Token {
        settings: TokenSettings,
        /// Set when this server issues the tokens (at `/token`).
        users: Option<Users>,
    },
}

/// What a request was allowed: everything, or what its token lists.
pub enum Grant {
    All,
    Token(Vec<Scope>),
}

impl Grant {
    pub fn allows(&self, need: &Scope) -> bool {
        match self {
            Grant::All => true,
            Grant::Token(access) => need.actions.iter().all(|want| {
                access.iter().any(|a| {
                    a.kind == need.kind
                        && a.name == need.name
                        && a.actions.iter().any(|have| have == want || have == "*")
                })
            }),
        }
    }
}

impl Auth {
    /// Whether the request may do `need` (None: any authenticated request).
    pub fn check(&self, headers: &HeaderMap, need: Option<&Scope>) -> Result<Grant, RegistryError> {
        match self {
            Auth::Open => Ok(Grant::All),
            Auth::Basic(users) => match users.basic(headers) {
                Some(_) => Ok(Grant::All),
                None => Err(RegistryError::Unauthorized(
                    "Basic realm=\"berth-registry\"".into(),
                )),
            },
            Auth::Token { settings, .. } => {
                let challenge = |error: Option<&str>| {
                    let mut c = format!(
                        "Bearer realm=\"{}\",service=\"{}\"",
                        settings.realm, settings.service
                    );
                    if let Some(n) = need {
                        c.push_str(&format!(",scope=\"{}\"", n.render()));
                    }
                    if let Some(e) = error {
                        c.push_str(&format!(",error=\"{e}\""));
                    }
                    RegistryError::Unauthorized(c)
                };
                let Some(token) = headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                else {
                    return Err(challenge(None));
                };
                let claims = settings
                    .verify(token.trim())
                    .map_err(|_| challenge(Some("invalid_token")))?;
                let grant = Grant::Token(claims.access);
                match need {
                    Some(n) if !grant.allows(n) => Err(challenge(Some("insufficient_scope"))),
                    _ => Ok(grant),
                }
            }
        }
    }

    /// `GET /token?service=…&scope=…` with basic credentials, or the OAuth2
    /// form (`POST /token`, `grant_type=password`, as containerd and BuildKit
    /// try first): a token for that user, granting the pull, push and delete
    /// actions asked for (and the catalog). Anonymous or wrong credentials get 401.
    pub fn issue(
        &self,
        headers: &HeaderMap,
        params: &[(String, String)],
        form: bool,
    ) -> Result<serde_json::Value, RegistryError> {
        let Auth::Token {
            settings,
            users: Some(users),
        } = self
        else {
            return Err(RegistryError::Unsupported(
                "this registry does not issue tokens".into(),
            ));
        };
        let param = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let refused = || RegistryError::Unauthorized("Basic realm=\"berth-registry-token\"".into());
        let user = if form {
            if param("grant_type") != Some("password") {
                return Err(RegistryError::Unsupported(
                    "only grant_type=password is supported".into(),
                ));
            }
            let (u, p) = (
                param("username").unwrap_or(""),
                param("password").unwrap_or(""),
            );
            users
                .check(u, p)
                .then(|| u.to_string())
                .ok_or_else(refused)?
        } else {
            users.basic(headers).ok_or_else(refused)?
        };
        if let Some(service) = param("service") {
            if service != settings.service {
                return Err(RegistryError::Unsupported(format!(
                    "unknown service {service:?}"
                )));
            }
        }
        let mut access: Vec<Scope> = Vec::new();
        let mut seen = HashSet::new();
        for (_, s) in params.iter().filter(|(k, _)| k == "scope") {
            for one in s.split(' ') {
                let Some(mut scope) = Scope::parse(one) else {
                    continue;
                };
                scope.actions.retain(|a| match scope.kind.as_str() {
                    "repository" => ["pull", "push", "delete"].contains(&a.as_str()),
                    "registry" => scope.name == "catalog" && a == "*",
                    _ => false,
                });
                if !scope.actions.is_empty() && seen.insert(scope.render()) {
                    access.push(scope);
                }
            }
        }
        let granted: Vec<String> = access.iter().map(Scope::render).collect();
        let token = settings.issue(&user, access);
        Ok(serde_json::json!({
            "token": token,
            "access_token": token,
            "scope": granted.join(" "),
            "expires_in": settings.expiration,
            "issued_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> TokenSettings {
        TokenSettings {
            realm: "https://127.0.0.1:1/token".into(),
            service: "svc".into(),
            issuer: "iss".into(),
            secret: b"secret".to_vec(),
            expiration: 60,
        }
    }

    #[test]
    fn scopes_parse() {
        let s = Scope::parse("repository:a/b:pull,push").unwrap();
        assert_eq!((s.kind.as_str(), s.name.as_str()), ("repository", "a/b"));
        assert_eq!(s.actions, ["pull", "push"]);
        let s = Scope::parse("repository:host:5000/a:pull").unwrap();
        assert_eq!(s.name, "host:5000/a");
        assert_eq!(Scope::parse("registry:catalog:*").unwrap().actions, ["*"]);
        for bad in [
            "",
            "repository",
            "repository:a",
            ":a:pull",
            "repository::pull",
        ] {
            assert!(Scope::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn tokens_verify_and_refuse_tampering() {
        let s = settings();
        let t = s.issue("alice", vec![Scope::repository("a", &["pull"])]);
        let c = s.verify(&t).unwrap();
        assert_eq!(c.sub, "alice");
        let g = Grant::Token(c.access);
        assert!(g.allows(&Scope::repository("a", &["pull"])));
        assert!(!g.allows(&Scope::repository("a", &["pull", "push"])));
        assert!(!g.allows(&Scope::repository("b", &["pull"])));

        // Another secret, another service, a changed body, alg none, garbage.
        let other = TokenSettings {
            secret: b"other".to_vec(),
            ..settings()
        };
        assert!(other.verify(&t).is_err());
        let other = TokenSettings {
            service: "x".into(),
            ..settings()
        };
        assert!(other.verify(&t).is_err());
        let parts: Vec<&str> = t.split('.').collect();
        let forged_claims = B64URL.encode(
            String::from_utf8(B64URL.decode(parts[1]).unwrap())
                .unwrap()
                .replace("\"pull\"", "\"push\""),
        );
        assert!(s
            .verify(&format!("{}.{}.{}", parts[0], forged_claims, parts[2]))
            .is_err());
        let none = B64URL.encode(br#"{"alg":"none"}"#);
        assert!(s.verify(&format!("{none}.{}.", parts[1])).is_err());
        for bad in ["", "a.b", "a.b.c", "....", &t[..t.len() - 2]] {
            assert!(s.verify(bad).is_err(), "{bad}");
        }
        let expired = TokenSettings {
            expiration: 0,
            ..settings()
        };
        assert!(expired.verify(&expired.issue("a", vec![])).is_err());
    }
}
