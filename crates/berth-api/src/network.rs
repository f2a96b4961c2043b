//! Networks, endpoints and published ports as the Engine API shows them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::types::{null_as_default, Labels};

/// One host binding of a container port.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct PortBinding {
    #[serde(default)]
    pub host_ip: String,
    #[serde(default)]
    pub host_port: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct EndpointIpamConfig {
    #[serde(
        rename = "IPv4Address",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub ipv4_address: String,
    #[serde(
        rename = "IPv6Address",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub ipv6_address: String,
}

/// A container's place on one network: what was asked (IPAMConfig, Aliases,
/// MacAddress) and, while it runs, what it got.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointSettings {
    #[serde(rename = "IPAMConfig", default)]
    pub ipam_config: Option<EndpointIpamConfig>,
    #[serde(default)]
    pub links: Option<Vec<String>>,
    #[serde(default)]
    pub aliases: Option<Vec<String>>,
    #[serde(default)]
    pub mac_address: String,
    #[serde(default)]
    pub driver_opts: Option<BTreeMap<String, String>>,
    #[serde(rename = "NetworkID", default)]
    pub network_id: String,
    #[serde(rename = "EndpointID", default)]
    pub endpoint_id: String,
    #[serde(default)]
    pub gateway: String,
    #[serde(rename = "IPAddress", default)]
    pub ip_address: String,
    #[serde(rename = "IPPrefixLen", default)]
    pub ip_prefix_len: u8,
    #[serde(rename = "IPv6Gateway", default)]
    pub ipv6_gateway: String,
    #[serde(rename = "GlobalIPv6Address", default)]
    pub global_ipv6_address: String,
    #[serde(rename = "GlobalIPv6PrefixLen", default)]
    pub global_ipv6_prefix_len: u8,
    #[serde(rename = "DNSNames", default)]
    pub dns_names: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct IpamPool {
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub subnet: String,
    #[serde(
        rename = "IPRange",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub ip_range: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub gateway: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auxiliary_addresses: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Ipam {
    #[serde(default, deserialize_with = "null_as_default")]
    pub driver: String,
    #[serde(default)]
    pub options: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub config: Option<Vec<IpamPool>>,
}

/// The body of `POST /networks/create`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkCreateRequest {
    pub name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub driver: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub scope: String,
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub attachable: bool,
    #[serde(default)]
    pub ingress: bool,
    #[serde(rename = "IPAM", default)]
    pub ipam: Option<Ipam>,
    #[serde(rename = "EnableIPv6", default)]
    pub enable_ipv6: Option<bool>,
    #[serde(default)]
    pub options: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub labels: Option<Labels>,
    #[serde(default)]
    pub config_only: bool,
    #[serde(default)]
    pub config_from: Option<ConfigReference>,
}

/// The network a network takes its configuration from (`--config-from`);
/// an empty name for none, which is what inspect shows for every network.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ConfigReference {
    #[serde(default)]
    pub network: String,
}

/// A container as `GET /networks/{id}` lists it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkContainer {
    pub name: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    pub mac_address: String,
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
    #[serde(rename = "IPv6Address")]
    pub ipv6_address: String,
}

/// `GET /networks/{id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Network {
    pub name: String,
    pub id: String,
    pub created: String,
    pub scope: String,
    pub driver: String,
    #[serde(rename = "EnableIPv4")]
    pub enable_ipv4: bool,
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
    pub internal: bool,
    pub attachable: bool,
    pub ingress: bool,
    #[serde(default)]
    pub config_from: ConfigReference,
    pub config_only: bool,
    #[serde(default)]
    pub containers: BTreeMap<String, NetworkContainer>,
    pub options: BTreeMap<String, String>,
    pub labels: Labels,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkConnectRequest {
    pub container: String,
    #[serde(default)]
    pub endpoint_config: Option<EndpointSettings>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkDisconnectRequest {
    pub container: String,
    #[serde(default)]
    pub force: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_are_absent_as_in_dockerd() {
        // What docker-compose 1.29 sends for a network with a subnet only.
        let req: NetworkCreateRequest = serde_json::from_str(
            r#"{"Name": "n", "Driver": null, "IPAM": {"Driver": null, "Config": [{"Subnet": "10.9.0.0/24", "IPRange": null, "Gateway": null, "AuxiliaryAddresses": null}], "Options": null}}"#,
        )
        .unwrap();
        let ipam = req.ipam.unwrap();
        assert_eq!((req.driver.as_str(), ipam.driver.as_str()), ("", ""));
        let pool = &ipam.config.unwrap()[0];
        assert_eq!(
            (
                pool.subnet.as_str(),
                pool.gateway.as_str(),
                pool.ip_range.as_str()
            ),
            ("10.9.0.0/24", "", "")
        );
    }
}
