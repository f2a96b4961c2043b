//! Thin adaptors from Engine API requests to `berth-engine` calls.

pub mod build;
pub mod containers;
pub mod events;
pub mod exec;
pub mod images;
pub mod networks;
pub mod system;
pub mod volumes;

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use berth_api::ApiError;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Parses a JSON body into `T`, answering malformed input with a Docker-style 400.
/// A request body decoded as dockerd's Go decoder would: an empty body is
/// the zero value, and so is `null` for any field (clients send
/// `"IPAMConfig": null`, `"Env": null`, `"Aliases": null`, …).
pub fn json_body<T: DeserializeOwned + Default>(body: &Bytes) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let mut v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))?;
    drop_nulls(&mut v);
    serde_json::from_value(v).map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

/// Removes the `null` members of objects that name a field, at any depth:
/// to a Go decoder they are the same as absent members, and absent members
/// are the zero value (every request type here defaults its fields). Keys
/// that cannot be Go field names ("80/tcp", "com.example.label") are map
/// entries, whose null Go keeps as an entry: those stay.
fn drop_nulls(v: &mut serde_json::Value) {
    let field_name = |k: &str| {
        k.starts_with(|c: char| c.is_ascii_alphabetic())
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    match v {
        serde_json::Value::Object(m) => {
            m.retain(|k, x| !(x.is_null() && field_name(k)));
            m.values_mut().for_each(drop_nulls);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

pub fn json<T: Serialize>(status: StatusCode, v: &T) -> Response {
    match serde_json::to_vec(v) {
        Ok(mut b) => {
            b.push(b'\n');
            (status, [("content-type", "application/json")], b).into_response()
        }
        Err(e) => crate::server::HttpError(ApiError::internal(e.to_string())).into_response(),
    }
}

/// 200 with no body, as dockerd answers connect and disconnect.
pub fn ok_empty() -> Response {
    StatusCode::OK.into_response()
}

pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, serde::Deserialize, PartialEq)]
    #[serde(rename_all = "PascalCase", default)]
    struct Endpoint {
        aliases: Vec<String>,
        mac_address: String,
        ipam_config: Option<serde_json::Value>,
    }

    #[derive(Debug, Default, serde::Deserialize, PartialEq)]
    #[serde(rename_all = "PascalCase", default)]
    struct Body {
        name: String,
        memory: i64,
        endpoints: std::collections::BTreeMap<String, Endpoint>,
        exposed_ports: std::collections::BTreeMap<String, serde_json::Value>,
    }

    #[test]
    fn null_is_the_zero_value_as_for_go() {
        let b: Body = json_body(&Bytes::from_static(
            br#"{"Name":null,"Memory":null,"Endpoints":{"front":{"Aliases":null,"MacAddress":null,"IpamConfig":null}},"ExposedPorts":{"80/tcp":null}}"#,
        ))
        .unwrap();
        assert_eq!(b.name, "");
        assert_eq!(b.memory, 0);
        assert_eq!(b.endpoints["front"], Endpoint::default());
        assert!(b.exposed_ports.contains_key("80/tcp"), "a map entry stays");
        let bad = json_body::<Body>(&Bytes::from_static(br#"{"Memory":"lots"}"#)).unwrap_err();
        assert!(
            bad.message.starts_with("invalid JSON body: "),
            "{}",
            bad.message
        );
        assert!(
            json_body::<Body>(&Bytes::from_static(b"{\"Name\":")).is_err(),
            "truncated"
        );
    }
}
