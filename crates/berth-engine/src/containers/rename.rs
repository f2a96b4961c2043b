//! `POST /containers/{id}/rename`.

use crate::Error;

use crate::engine::Engine;
use crate::{names, Result};

impl Engine {
    pub fn rename_container(&self, name: &str, new_name: &str) -> Result<()> {
        if new_name.is_empty() {
            return Err(Error::bad_request("Neither old nor new names may be empty"));
        }
        let h = self.container(name)?;
        let new_name = names::validate(new_name)?;
        let mut rec = h.record().clone();
        if rec.name == new_name {
            return Err(Error::bad_request(
                "Renaming a container with the same name as its current name",
            ));
        }
        if let Some(owner) = self
            .images
            .db
            .container_name_owner(&new_name)
            .map_err(Error::from)?
        {
            return Err(Error::conflict(format!(
                "Conflict. The container name \"{new_name}\" is already in use by container \"{owner}\". You have to remove (or rename) that container to be able to reuse that name."
            )));
        }
        let old_name = std::mem::replace(&mut rec.name, new_name);
        // A running container answers to its new name on its user networks
        // at once, as with dockerd.
        let (old_bare, new_bare) = (
            old_name.trim_start_matches('/').to_string(),
            rec.name.trim_start_matches('/').to_string(),
        );
        for ep in rec.networks.values_mut() {
            for n in ep.dns_names.iter_mut().flatten() {
                if *n == old_bare {
                    *n = new_bare.clone();
                }
            }
        }
        self.persist(&rec)?;
        self.container_event(&rec, "rename", &[("oldName", old_name.clone())]);
        self.dns_sync(&rec);
        let (id, new_name) = (rec.id.clone(), rec.name.clone());
        *h.record() = rec;
        self.lock_map().rename(&id, &old_name, &new_name);
        Ok(())
    }
}
