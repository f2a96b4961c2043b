//! `POST /networks/{id}/connect` and `/disconnect`.

use super::*;

impl Engine {
    /// `POST /networks/{id}/connect`.
    pub async fn connect_network(
        self: &Arc<Self>,
        key: &str,
        container: &str,
        ep: Option<EndpointSettings>,
    ) -> Result<()> {
        // The container first, as dockerd looks them up.
        let h = self.container(container)?;
        let n = self.find_network(key)?;
        let _op = h.op.lock().await;
        let mut ep = ep.unwrap_or_default();
        let (mode, running, already) = {
            let r = h.record();
            (
                r.host_config.network_mode.clone(),
                r.state.has_process(),
                r.networks.contains_key(&n.name),
            )
        };
        if mode == "none" {
            return Err(Error::bad_request(
                "container cannot be connected to multiple networks with one of the networks in private (none) mode",
            ));
        }
        if matches!(n.driver.as_str(), "host" | "null")
            || mode == "host"
            || mode.starts_with("container:")
        {
            return Err(Error::bad_request(
                "container sharing network namespace with another container or host cannot be connected to any other network",
            ));
        }
        if already {
            return Err(Error::forbidden(format!(
                "endpoint with name {} already exists in network {}",
                h.record().name.trim_start_matches('/'),
                n.name
            )));
        }
        self.validate_endpoint(&n, &ep)?;
        ep.network_id = n.id.clone();
        if running {
            let rec = h.record().clone();
            let ns = PathBuf::from(&rec.net.sandbox);
            let used: HashSet<&str> = rec.net.links.values().map(|(_, i)| i.as_str()).collect();
            let ifname = (0..)
                .map(|i| format!("eth{i}"))
                .find(|i| !used.contains(i.as_str()))
                .unwrap_or_default();
            let l = self
                .attach_endpoint(&rec, &ns, &ifname, &n, &mut ep, false)
                .await?;
            let mut r = h.record();
            r.networks.insert(n.name.clone(), ep);
            r.net.links.insert(n.name.clone(), l);
        } else {
            h.record().networks.insert(n.name.clone(), ep);
        }
        if running {
            self.start_dns(&h).await?;
        }
        let rec = h.record().clone();
        self.persist(&rec)?;
        self.dns_sync(&rec);
        self.network_event(&n, "connect", &[("container", rec.id.clone())]);
        Ok(())
    }

    /// `POST /networks/{id}/disconnect`.
    pub async fn disconnect_network(self: &Arc<Self>, key: &str, container: &str) -> Result<()> {
        let h = self.container(container)?;
        let n = self.find_network(key)?;
        let _op = h.op.lock().await;
        let rec = h.record().clone();
        if !rec.networks.contains_key(&n.name) {
            return Err(Error::forbidden(format!(
                "container {} is not connected to network {}",
                rec.id, n.name
            )));
        }
        if matches!(n.driver.as_str(), "host" | "null") {
            return Err(Error::bad_request(
                "container cannot be disconnected from host network or connected to host network",
            ));
        }
        if let Some((veth, _)) = rec.net.links.get(&n.name) {
            self.net.nl.delete(veth).await.map_err(net_err)?;
            self.release_ip(&rec, &n.name);
        }
        let rec = {
            let mut r = h.record();
            r.networks.remove(&n.name);
            r.net.links.remove(&n.name);
            r.clone()
        };
        self.persist(&rec)?;
        self.dns_sync(&rec);
        self.network_event(&n, "disconnect", &[("container", rec.id.clone())]);
        Ok(())
    }
}
