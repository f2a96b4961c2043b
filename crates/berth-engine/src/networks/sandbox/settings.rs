//! `NetworkSettings` as container inspect shows it.

use super::*;

/// NetworkSettings as inspect shows it.
pub fn network_settings(r: &ContainerRecord) -> serde_json::Value {
    let mut ports = serde_json::Map::new();
    if r.state.has_process() {
        for k in r.config.exposed_ports.iter().flatten().map(|(k, _)| k) {
            ports.insert(k.clone(), serde_json::Value::Null);
        }
        for (k, v) in &r.net.ports {
            ports.insert(k.clone(), serde_json::json!(v));
        }
    }
    // The top-level address fields describe the default bridge only (deprecated in the API).
    let bridge = r.networks.get("bridge").cloned().unwrap_or_default();
    let sandbox_key = if !r.state.has_process() || r.host_config.network_mode == "host" {
        String::new()
    } else if r.net.sandbox.is_empty() {
        format!("/proc/{}/ns/net", r.state.pid)
    } else {
        r.net.sandbox.clone()
    };
    serde_json::json!({
        "Bridge": "",
        "SandboxID": if r.state.has_process() { r.id.clone() } else { String::new() },
        "SandboxKey": sandbox_key,
        "HairpinMode": false,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "Ports": ports,
        "SecondaryIPAddresses": null,
        "SecondaryIPv6Addresses": null,
        "EndpointID": bridge.endpoint_id,
        "Gateway": bridge.gateway,
        "GlobalIPv6Address": bridge.global_ipv6_address,
        "GlobalIPv6PrefixLen": bridge.global_ipv6_prefix_len,
        "IPAddress": bridge.ip_address,
        "IPPrefixLen": bridge.ip_prefix_len,
        "IPv6Gateway": bridge.ipv6_gateway,
        "MacAddress": bridge.mac_address,
        "Networks": r.networks,
    })
}
