//! `POST /containers/{id}/rename`.

use crate::engine::Engine;
use crate::Error;
use crate::{names, Result};

impl Engine {
    /// The new name is held while it is checked and stored (two renames or a
    /// create cannot take it at once), and the record changes through
    /// `transition`, under its lock: a state change at the same moment (the
    /// container exiting) is neither lost nor overwritten.
    pub fn rename_container(&self, name: &str, new_name: &str) -> Result<()> {
        if new_name.is_empty() {
            return Err(Error::bad_request("Neither old nor new names may be empty"));
        }
        let h = self.container(name)?;
        let new_name = names::validate(new_name)?;
        if h.record().name == new_name {
            return Err(Error::bad_request(
                "Renaming a container with the same name as its current name",
            ));
        }
        let _held = self.hold_name(&new_name)?;
        if let Some(owner) = self.objects.container_name_owner(&new_name)? {
            return Err(Error::conflict(format!(
                "Conflict. The container name \"{new_name}\" is already in use by container \"{owner}\". You have to remove (or rename) that container to be able to reuse that name."
            )));
        }
        let (rec, old_name) = self.transition(&h, |rec| {
            let old_name = std::mem::replace(&mut rec.name, new_name.clone());
            // A running container answers to its new name on its user
            // networks at once, as with dockerd.
            let (old_bare, new_bare) = (
                old_name.trim_start_matches('/'),
                new_name.trim_start_matches('/'),
            );
            for ep in rec.networks.values_mut() {
                for n in ep.dns_names.iter_mut().flatten() {
                    if n == old_bare {
                        *n = new_bare.to_string();
                    }
                }
            }
            old_name
        })?;
        self.lock_map().rename(&rec.id, &old_name, &rec.name);
        self.container_event(&rec, "rename", &[("oldName", old_name)]);
        Ok(())
    }
}
