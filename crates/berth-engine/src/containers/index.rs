//! The containers berthd knows, found by ID, by name or by ID prefix
//! without looking at every record: a name → ID table beside the map (a
//! lookup by name used to lock each container's record in turn).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use super::record::ContainerHandle;

#[derive(Default)]
pub struct ContainerIndex {
    by_id: BTreeMap<String, Arc<ContainerHandle>>,
    /// `/name` → ID.
    by_name: HashMap<String, String>,
    /// The IDs of running containers (paused and restarting ones too), so
    /// that `docker ps` looks at those alone.
    running: BTreeSet<String>,
}

/// What a name or ID prefix finds.
pub enum Found {
    One(Arc<ContainerHandle>),
    /// A prefix of more than one ID.
    Ambiguous,
    None,
}

impl ContainerIndex {
    pub fn insert(&mut self, h: Arc<ContainerHandle>) {
        let (id, name, running) = {
            let r = h.record();
            (r.id.clone(), r.name.clone(), r.state.running)
        };
        self.by_name.insert(name, id.clone());
        self.set_running(&id, running);
        self.by_id.insert(id, h);
    }

    pub fn remove(&mut self, id: &str) -> Option<Arc<ContainerHandle>> {
        let h = self.by_id.remove(id)?;
        // The name it has now (renames keep the table in step).
        let name = h.record().name.clone();
        if self.by_name.get(&name).is_some_and(|v| v == id) {
            self.by_name.remove(&name);
        }
        self.running.remove(id);
        Some(h)
    }

    /// Follows a state change (every transition reports here).
    pub fn set_running(&mut self, id: &str, running: bool) {
        if running {
            self.running.insert(id.to_string());
        } else {
            self.running.remove(id);
        }
    }

    pub fn running(&self) -> impl Iterator<Item = &Arc<ContainerHandle>> {
        self.running.iter().filter_map(|id| self.by_id.get(id))
    }

    /// After a rename (the record holds the new name already).
    pub fn rename(&mut self, id: &str, old: &str, new: &str) {
        if self.by_name.get(old).is_some_and(|v| v == id) {
            self.by_name.remove(old);
        }
        self.by_name.insert(new.to_string(), id.to_string());
    }

    pub fn get(&self, id: &str) -> Option<&Arc<ContainerHandle>> {
        self.by_id.get(id)
    }

    pub fn values(&self) -> impl Iterator<Item = &Arc<ContainerHandle>> {
        self.by_id.values()
    }

    /// As docker looks a container up: full ID, then name (with or without
    /// its slash), then a unique ID prefix.
    pub fn find(&self, name_or_id: &str) -> Found {
        if let Some(h) = self.by_id.get(name_or_id) {
            return Found::One(h.clone());
        }
        let name = if name_or_id.starts_with('/') {
            name_or_id.to_string()
        } else {
            format!("/{name_or_id}")
        };
        if let Some(h) = self.by_name.get(&name).and_then(|id| self.by_id.get(id)) {
            return Found::One(h.clone());
        }
        if name_or_id.is_empty() || !name_or_id.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Found::None;
        }
        let mut matching = self
            .by_id
            .range(name_or_id.to_string()..)
            .take_while(|(id, _)| id.starts_with(name_or_id))
            .map(|(_, h)| h);
        match (matching.next(), matching.next()) {
            (Some(h), None) => Found::One(h.clone()),
            (Some(_), Some(_)) => Found::Ambiguous,
            _ => Found::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handle(id: &str, name: &str) -> Arc<ContainerHandle> {
        let rec = serde_json::from_value(serde_json::json!({
            "id": id, "name": name, "created": "", "path": "true", "args": [],
            "config": {}, "host_config": {}, "image_id": "", "state": {},
            "restart_count": 0, "shim_pid": 0, "runtime": "",
        }))
        .unwrap();
        Arc::new(ContainerHandle::new(rec))
    }

    fn found(i: &ContainerIndex, q: &str) -> Option<String> {
        match i.find(q) {
            Found::One(h) => Some(h.id()),
            Found::Ambiguous => Some("ambiguous".into()),
            Found::None => None,
        }
    }

    #[test]
    fn finds_as_docker_does() {
        let mut i = ContainerIndex::default();
        i.insert(handle("abc123", "/web"));
        i.insert(handle("abd456", "/db"));
        // A name that looks like a prefix of another container's ID.
        i.insert(handle("fff000", "/abc"));
        assert_eq!(found(&i, "abc123").as_deref(), Some("abc123"));
        assert_eq!(found(&i, "web").as_deref(), Some("abc123"));
        assert_eq!(found(&i, "/web").as_deref(), Some("abc123"));
        assert_eq!(
            found(&i, "abc").as_deref(),
            Some("fff000"),
            "a name before a prefix"
        );
        assert_eq!(found(&i, "abd").as_deref(), Some("abd456"));
        assert_eq!(found(&i, "ab").as_deref(), Some("ambiguous"));
        assert_eq!(found(&i, "").as_deref(), None);
        assert_eq!(found(&i, "nosuch").as_deref(), None);
        i.rename("abc123", "/web", "/front");
        assert_eq!(found(&i, "web"), None);
        assert_eq!(found(&i, "front").as_deref(), Some("abc123"));
        assert_eq!(i.running().count(), 0);
        i.set_running("abd456", true);
        assert_eq!(i.running().map(|h| h.id()).collect::<Vec<_>>(), ["abd456"]);
        i.set_running("abd456", false);
        assert_eq!(i.running().count(), 0);
        i.set_running("abc123", true);
        assert!(i.remove("abc123").is_some());
        assert_eq!(i.running().count(), 0, "a removed container is not listed");
        assert_eq!(found(&i, "front"), None);
        assert_eq!(found(&i, "abc1"), None);
        assert_eq!(i.values().count(), 2);
    }
}
