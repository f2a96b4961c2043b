//! The `filters` query parameter: JSON `{"key": ["v1", ...]}` or the legacy
//! `{"key": {"v1": true}}` form that old clients send.

use std::collections::BTreeMap;

use crate::ApiError;

#[derive(Debug, Default, Clone)]
pub struct Filters(pub BTreeMap<String, Vec<String>>);

impl Filters {
    pub fn parse(raw: Option<&str>) -> Result<Filters, ApiError> {
        let Some(raw) = raw.filter(|s| !s.is_empty()) else {
            return Ok(Filters::default());
        };
        let v: serde_json::Value = serde_json::from_str(raw)
            .map_err(|e| ApiError::bad_request(format!("invalid filter: {e}")))?;
        let obj = v
            .as_object()
            .ok_or_else(|| ApiError::bad_request("invalid filter: not an object"))?;
        let mut out = BTreeMap::new();
        for (k, vals) in obj {
            let list: Vec<String> = match vals {
                serde_json::Value::Array(a) => a
                    .iter()
                    .map(|x| x.as_str().map(str::to_string))
                    .collect::<Option<_>>()
                    .ok_or_else(|| ApiError::bad_request(format!("invalid filter '{k}'")))?,
                serde_json::Value::Object(m) => m.keys().cloned().collect(),
                _ => return Err(ApiError::bad_request(format!("invalid filter '{k}'"))),
            };
            out.insert(k.clone(), list);
        }
        Ok(Filters(out))
    }

    /// Rejects keys the endpoint does not know, as dockerd does.
    pub fn only(&self, allowed: &[&str]) -> Result<(), ApiError> {
        for k in self.0.keys() {
            if !allowed.contains(&k.as_str()) {
                return Err(ApiError::bad_request(format!("invalid filter '{k}'")));
            }
        }
        Ok(())
    }

    pub fn get(&self, key: &str) -> &[String] {
        self.0.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn has(&self, key: &str) -> bool {
        self.0.get(key).is_some_and(|v| !v.is_empty())
    }

    /// `label=key` or `label=key=value` against a label map.
    pub fn labels_match(&self, key: &str, labels: &BTreeMap<String, String>) -> bool {
        self.get(key).iter().all(|f| match f.split_once('=') {
            Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
            None => labels.contains_key(f.as_str()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms() {
        let f = Filters::parse(Some(r#"{"status":["running"],"label":{"a=b":true}}"#)).unwrap();
        assert_eq!(f.get("status"), ["running"]);
        assert_eq!(f.get("label"), ["a=b"]);
        assert!(Filters::parse(Some("{")).is_err());
        assert!(Filters::parse(Some(r#"{"a":[1]}"#)).is_err());
        assert!(f.only(&["status"]).is_err());
    }
}
