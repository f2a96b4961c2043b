//! `GET /events`: what happened to containers and images, kept in a short
//! in-memory history for `since` and broadcast live to subscribers.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use berth_api::filters::Filters;
use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::containers::record::ContainerRecord;
use crate::engine::Engine;
use crate::Result;

/// How many past events `since` can reach back to, as dockerd keeps.
const HISTORY: usize = 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub kind: String,
    pub action: String,
    pub actor_id: String,
    pub attributes: BTreeMap<String, String>,
    pub time_nano: i64,
}

impl Event {
    /// The wire form, with the legacy `status`/`id`/`from` fields docker still sends.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "Type": self.kind,
            "Action": self.action,
            "Actor": {"ID": self.actor_id, "Attributes": self.attributes},
            "scope": "local",
            "time": self.time_nano / 1_000_000_000,
            "timeNano": self.time_nano,
        });
        if self.kind == "container" || self.kind == "image" {
            v["status"] = json!(self.action);
            v["id"] = json!(self.actor_id);
            if let Some(img) = self.attributes.get("image") {
                v["from"] = json!(img);
            }
        }
        v
    }

    pub fn matches(&self, f: &Filters) -> bool {
        let any = |key: &str, pred: &dyn Fn(&str) -> bool| {
            !f.has(key) || f.get(key).iter().any(|v| pred(v))
        };
        let name = self
            .attributes
            .get("name")
            .map(String::as_str)
            .unwrap_or("");
        let image = self
            .attributes
            .get("image")
            .map(String::as_str)
            .unwrap_or("");
        any("type", &|t| t == self.kind)
            && any("event", &|e| {
                e == self.action || self.action.split(':').next() == Some(e)
            })
            && any("container", &|c| {
                self.kind == "container" && (self.actor_id.starts_with(c) || name == c)
            })
            && any("image", &|i| {
                image == i || (self.kind == "image" && (self.actor_id == i || name == i))
            })
            && f.labels_match("label", &self.attributes)
    }
}

pub struct EventBus {
    tx: broadcast::Sender<Event>,
    history: Mutex<VecDeque<Event>>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            tx: broadcast::Sender::new(256),
            history: Mutex::new(VecDeque::with_capacity(HISTORY)),
        }
    }
}

impl EventBus {
    /// Clients following events now (`/info`'s NEventsListener).
    pub fn listeners(&self) -> usize {
        self.tx.receiver_count()
    }

    pub fn publish(&self, ev: Event) {
        let mut h = self.history.lock().unwrap_or_else(|p| p.into_inner());
        if h.len() == HISTORY {
            h.pop_front();
        }
        h.push_back(ev.clone());
        // Subscribe under the same lock, so no event is both replayed and received.
        let _ = self.tx.send(ev);
    }

    /// Past events from `since` (unix nanoseconds), and a receiver for what comes next.
    pub fn subscribe(&self, since: Option<i64>) -> (Vec<Event>, broadcast::Receiver<Event>) {
        let h = self.history.lock().unwrap_or_else(|p| p.into_inner());
        let past = match since {
            Some(s) => h.iter().filter(|e| e.time_nano >= s).cloned().collect(),
            None => Vec::new(),
        };
        (past, self.tx.subscribe())
    }
}

pub(crate) fn now_nano() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

impl Engine {
    pub fn events(&self) -> &EventBus {
        &self.events
    }

    pub(crate) fn container_event(
        &self,
        r: &ContainerRecord,
        action: &str,
        extra: &[(&str, String)],
    ) {
        let mut attributes: BTreeMap<String, String> = r.config.labels.clone().unwrap_or_default();
        attributes.insert("image".into(), r.config.image.clone());
        attributes.insert("name".into(), r.name.trim_start_matches('/').to_string());
        for (k, v) in extra {
            attributes.insert(k.to_string(), v.clone());
        }
        self.events.publish(Event {
            kind: "container".into(),
            action: action.into(),
            actor_id: r.id.clone(),
            attributes,
            time_nano: now_nano(),
        });
    }

    pub(crate) fn image_event(&self, id: &str, name: &str, action: &str) {
        let attributes = [("name".to_string(), name.to_string())].into();
        self.events.publish(Event {
            kind: "image".into(),
            action: action.into(),
            actor_id: id.into(),
            attributes,
            time_nano: now_nano(),
        });
    }

    /// Checks the filters of an events request.
    pub fn event_filters(&self, raw: Option<&str>) -> Result<Filters> {
        let f = Filters::parse(raw)?;
        f.only(&[
            "type",
            "event",
            "container",
            "image",
            "label",
            "network",
            "volume",
            "daemon",
            "plugin",
            "node",
            "service",
            "secret",
            "config",
            "scope",
        ])?;
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(action: &str) -> Event {
        Event {
            kind: "container".into(),
            action: action.into(),
            actor_id: "abc123".into(),
            attributes: [
                ("name".to_string(), "web".to_string()),
                ("image".to_string(), "busybox".to_string()),
                ("team".to_string(), "x".to_string()),
            ]
            .into(),
            time_nano: 5,
        }
    }

    #[test]
    fn filters() {
        let f = |s: &str| Filters::parse(Some(s)).unwrap();
        assert!(ev("start").matches(&f(r#"{"type":["container"],"container":["web"]}"#)));
        assert!(ev("start").matches(&f(r#"{"container":["abc"]}"#)));
        assert!(!ev("start").matches(&f(r#"{"event":["die"]}"#)));
        assert!(ev("health_status: healthy").matches(&f(r#"{"event":["health_status"]}"#)));
        assert!(ev("start").matches(&f(r#"{"image":["busybox"],"label":["team=x"]}"#)));
        assert!(!ev("start").matches(&f(r#"{"label":["team=y"]}"#)));
        let j = ev("die").to_json();
        assert_eq!(j["Actor"]["Attributes"]["name"], "web");
        assert_eq!(j["status"], "die");
    }

    #[test]
    fn history_and_live() {
        let bus = EventBus::default();
        bus.publish(ev("create"));
        let (past, mut rx) = bus.subscribe(Some(0));
        assert_eq!(past.len(), 1);
        bus.publish(ev("start"));
        assert_eq!(rx.try_recv().unwrap().action, "start");
        let (past, _) = bus.subscribe(None);
        assert!(past.is_empty());
    }
}
