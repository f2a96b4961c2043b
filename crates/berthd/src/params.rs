//! Query parameters as dockerd reads them (booleans "1"/"true", repeated keys).

use berth_api::ApiError;

#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(query: Option<&str>) -> Params {
        Params(
            url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .into_owned()
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Go's `strconv.ParseBool` semantics, absent = false.
    pub fn bool(&self, key: &str) -> Result<bool, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(false),
            Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(true),
            Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(false),
            Some(v) => Err(ApiError::bad_request(format!(
                "invalid value for {key}: {v:?}"
            ))),
        }
    }

    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool, ApiError> {
        if self.get(key).is_none_or(str::is_empty) {
            Ok(default)
        } else {
            self.bool(key)
        }
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| ApiError::bad_request(format!("invalid value for {key}: {v:?}"))),
        }
    }

    pub fn filters(&self) -> Result<berth_api::filters::Filters, ApiError> {
        berth_api::filters::Filters::parse(self.get("filters"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        let p = Params::parse(Some("force=1&names=a&names=b%2Fc&t=5&x=maybe"));
        assert!(p.bool("force").unwrap());
        assert_eq!(p.all("names"), ["a", "b/c"]);
        assert_eq!(p.int("t").unwrap(), Some(5));
        assert!(p.bool("x").is_err());
        assert!(p.int("x").is_err());
        assert!(!p.bool("missing").unwrap());
    }
}
