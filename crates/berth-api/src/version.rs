//! API version negotiation: dockerd answers any version from 1.24 up to its
//! own and refuses newer ones with 400.

pub const API_VERSION: &str = "1.47";
pub const MIN_API_VERSION: &str = "1.24";

/// A parsed `major.minor` API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiVersion(pub u32, pub u32);

impl ApiVersion {
    pub const CURRENT: ApiVersion = ApiVersion(1, 47);
    pub const MIN: ApiVersion = ApiVersion(1, 24);

    pub fn parse(s: &str) -> Option<ApiVersion> {
        let (a, b) = s.split_once('.')?;
        Some(ApiVersion(a.parse().ok()?, b.parse().ok()?))
    }
}

impl std::fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// Splits `/v1.47/containers/json` into the version and the bare path.
/// A path without a prefix is answered at the current version.
pub fn split_version_prefix(path: &str) -> Result<(ApiVersion, &str), crate::ApiError> {
    let Some(rest) = path.strip_prefix("/v") else {
        return Ok((ApiVersion::CURRENT, path));
    };
    let (ver, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let Some(v) = ApiVersion::parse(ver) else {
        // Not a version prefix at all (e.g. "/volumes"): a bare path.
        return Ok((ApiVersion::CURRENT, path));
    };
    if v > ApiVersion::CURRENT {
        return Err(crate::ApiError::bad_request(format!(
            "client version {v} is too new. Maximum supported API version is {API_VERSION}"
        )));
    }
    if v < ApiVersion::MIN {
        return Err(crate::ApiError::bad_request(format!(
            "client version {v} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version"
        )));
    }
    Ok((v, tail))
}

/// This host's architecture as OCI names it (`amd64`, `arm64`, …).
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(
            split_version_prefix("/v1.47/info").unwrap(),
            (ApiVersion(1, 47), "/info")
        );
        assert_eq!(
            split_version_prefix("/v1.30/x/y").unwrap(),
            (ApiVersion(1, 30), "/x/y")
        );
        assert_eq!(split_version_prefix("/version").unwrap().1, "/version");
        assert_eq!(split_version_prefix("/volumes").unwrap().1, "/volumes");
        assert_eq!(
            split_version_prefix("/v1.99/info").unwrap_err().status(),
            400
        );
        assert_eq!(
            split_version_prefix("/v1.12/info").unwrap_err().status(),
            400
        );
    }
}
