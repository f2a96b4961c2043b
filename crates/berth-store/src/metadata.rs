//! The one metadata database (SQLite in WAL mode). Every change is one
//! transaction, so a crash at any point leaves a consistent store.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{Result, StoreError};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS layers (
    diff_id TEXT PRIMARY KEY,
    tar_size INTEGER NOT NULL,
    content_size INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY,
    manifest_digest TEXT NOT NULL,
    config TEXT NOT NULL,
    size INTEGER NOT NULL,
    created INTEGER NOT NULL,
    loaded_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS image_layers (
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    diff_id TEXT NOT NULL REFERENCES layers(diff_id),
    PRIMARY KEY (image_id, idx)
);
CREATE TABLE IF NOT EXISTS tags (
    reference TEXT PRIMARY KEY,
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    tagged_at INTEGER NOT NULL
);
-- `repo@sha256:…`: the manifest digest an image has in a registry, from a
-- pull or a push (docker's RepoDigests).
CREATE TABLE IF NOT EXISTS repo_digests (
    reference TEXT PRIMARY KEY,
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
);
-- Where a layer is known to be, as which blob (compressed or not), from pulls
-- and pushes: a push to another repository of the same registry mounts it
-- from there, and names that blob in its manifest.
CREATE TABLE IF NOT EXISTS layer_blobs (
    diff_id TEXT NOT NULL,
    registry TEXT NOT NULL,
    repository TEXT NOT NULL,
    digest TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (diff_id, registry, repository, digest)
);
CREATE TABLE IF NOT EXISTS volumes (
    name TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS networks (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    doc TEXT NOT NULL
);
-- Docker's legacy build cache: each build step's image, made from `parent`
-- (an image ID, or "" for scratch) by the step whose cache key is `key`.
CREATE TABLE IF NOT EXISTS build_cache (
    image_id TEXT PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
    parent TEXT NOT NULL,
    key TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS build_cache_step ON build_cache (parent, key);
CREATE TABLE IF NOT EXISTS containers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    image_id TEXT NOT NULL,
    doc TEXT NOT NULL
);
"#;

/// A UNIQUE violation on the name column is a 409, not a database failure.
fn name_conflict(r: rusqlite::Result<usize>, name: &str) -> Result<()> {
    match r {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Err(StoreError::Conflict(format!("name {name} in use")))
        }
        Err(e) => Err(e.into()),
    }
}

/// Read connections beside the writer: in WAL mode readers never wait for
/// the writer (nor it for them), so a `ps` or an inspect does not queue
/// behind a pull's or a build's writes.
const READERS: usize = 4;

pub struct Metadata {
    path: std::path::PathBuf,
    conn: Mutex<Connection>,
    /// Opened when first needed: an idle daemon keeps only the writer's
    /// page cache.
    readers: Vec<std::sync::OnceLock<Mutex<Connection>>>,
    next_reader: std::sync::atomic::AtomicUsize,
}

impl Metadata {
    pub fn open(path: &Path) -> Result<Metadata> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Metadata {
            path: path.into(),
            conn: Mutex::new(conn),
            readers: (0..READERS).map(|_| std::sync::OnceLock::new()).collect(),
            next_reader: Default::default(),
        })
    }

    fn reader(&self, i: usize) -> Option<&Mutex<Connection>> {
        if let Some(r) = self.readers[i].get() {
            return Some(r);
        }
        let conn = Connection::open_with_flags(
            &self.path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .ok()?;
        // Lookups of small rows: a small page cache each.
        let _ = conn.pragma_update(None, "cache_size", -256);
        Some(self.readers[i].get_or_init(|| Mutex::new(conn)))
    }

    /// The writer: every change, and reads that belong with one.
    pub fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A read connection: a free one, or (all busy) the next in turn. It sees
    /// what the writer has committed, never a transaction still open.
    pub fn read(&self) -> MutexGuard<'_, Connection> {
        // A free reader, opening the next one only when all that are open are busy.
        for i in 0..self.readers.len() {
            let Some(r) = self.reader(i) else { break };
            if let Ok(g) = r.try_lock() {
                return g;
            }
        }
        let i = self
            .next_reader
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            % self.readers.len();
        match self.reader(i) {
            Some(r) => r.lock().unwrap_or_else(|p| p.into_inner()),
            // A reader that cannot be opened: the writer reads too.
            None => self.lock(),
        }
    }

    /// Runs `f` in one transaction: all of it lands, or none.
    pub fn transaction<T>(&self, f: impl FnOnce(&rusqlite::Transaction) -> Result<T>) -> Result<T> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let v = f(&tx)?;
        tx.commit()?;
        Ok(v)
    }

    // Containers: the engine owns the document's shape; the store keeps it.

    pub fn insert_container(&self, id: &str, name: &str, image_id: &str, doc: &str) -> Result<()> {
        let r = self.lock().execute(
            "INSERT INTO containers (id, name, image_id, doc) VALUES (?1, ?2, ?3, ?4)",
            params![id, name, image_id, doc],
        );
        name_conflict(r, name)
    }

    pub fn update_container(&self, id: &str, name: &str, doc: &str) -> Result<()> {
        let r = self.lock().execute(
            "UPDATE containers SET name = ?2, doc = ?3 WHERE id = ?1",
            params![id, name, doc],
        );
        name_conflict(r, name)
    }

    pub fn delete_container(&self, id: &str) -> Result<()> {
        self.lock()
            .execute("DELETE FROM containers WHERE id = ?1", params![id])?;
        Ok(())
    }

    pub fn container_name_owner(&self, name: &str) -> Result<Option<String>> {
        Ok(self
            .read()
            .query_row(
                "SELECT id FROM containers WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()?)
    }

    // Volumes: the engine owns the document's shape.

    /// Inserts a volume; false if the name exists already.
    pub fn insert_volume(&self, name: &str, doc: &str) -> Result<bool> {
        let n = self.lock().execute(
            "INSERT OR IGNORE INTO volumes (name, doc) VALUES (?1, ?2)",
            params![name, doc],
        )?;
        Ok(n == 1)
    }

    pub fn update_volume(&self, name: &str, doc: &str) -> Result<()> {
        self.lock().execute(
            "UPDATE volumes SET doc = ?2 WHERE name = ?1",
            params![name, doc],
        )?;
        Ok(())
    }

    pub fn volume(&self, name: &str) -> Result<Option<String>> {
        Ok(self
            .read()
            .query_row(
                "SELECT doc FROM volumes WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn volumes(&self) -> Result<Vec<(String, String)>> {
        let conn = self.read();
        let mut st = conn.prepare("SELECT name, doc FROM volumes ORDER BY name")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn delete_volume(&self, name: &str) -> Result<()> {
        self.lock()
            .execute("DELETE FROM volumes WHERE name = ?1", params![name])?;
        Ok(())
    }

    // Networks: the engine owns the document's shape.

    /// Inserts a network; a taken name is a conflict.
    pub fn insert_network(&self, id: &str, name: &str, doc: &str) -> Result<()> {
        name_conflict(
            self.lock().execute(
                "INSERT INTO networks (id, name, doc) VALUES (?1, ?2, ?3)",
                params![id, name, doc],
            ),
            name,
        )
    }

    /// All networks as docs.
    pub fn networks(&self) -> Result<Vec<String>> {
        let conn = self.read();
        let mut st = conn.prepare("SELECT doc FROM networks ORDER BY name")?;
        let rows = st.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn delete_network(&self, id: &str) -> Result<()> {
        self.lock()
            .execute("DELETE FROM networks WHERE id = ?1", params![id])?;
        Ok(())
    }

    /// All containers as (id, doc).
    pub fn containers(&self) -> Result<Vec<(String, String)>> {
        let conn = self.read();
        let mut st = conn.prepare("SELECT id, doc FROM containers")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_names_are_unique() {
        let d = tempfile::tempdir().unwrap();
        let m = Metadata::open(&d.path().join("db")).unwrap();
        m.insert_container("a", "/web", "img", "{}").unwrap();
        assert!(matches!(
            m.insert_container("b", "/web", "img", "{}"),
            Err(StoreError::Conflict(_))
        ));
        m.insert_container("b", "/db", "img", "{}").unwrap();
        assert!(matches!(
            m.update_container("b", "/web", "{}"),
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(
            m.container_name_owner("/web").unwrap().as_deref(),
            Some("a")
        );
        m.delete_container("a").unwrap();
        assert_eq!(m.containers().unwrap().len(), 1);
        // The readers see what the writer committed, and nothing it has not.
        let _held: Vec<_> = (0..READERS).map(|_| m.read()).take(READERS - 1).collect();
        assert_eq!(m.container_name_owner("/db").unwrap().as_deref(), Some("b"));
        let w = m.lock();
        w.execute_batch("BEGIN; DELETE FROM containers;").unwrap();
        drop(_held);
        assert_eq!(
            m.containers().unwrap().len(),
            1,
            "an open transaction is not seen"
        );
        w.execute_batch("COMMIT").unwrap();
        drop(w);
        assert!(m.containers().unwrap().is_empty());
        let refused = m.read().execute("DELETE FROM containers", []);
        assert!(refused.is_err(), "a read connection cannot write");
    }
}
