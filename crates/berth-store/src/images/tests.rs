use super::*;

fn layer(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (p, d) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(d.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, p, *d).unwrap();
    }
    b.into_inner().unwrap()
}

fn store() -> (tempfile::TempDir, ImageStore) {
    let d = tempfile::tempdir().unwrap();
    let s = ImageStore::open(d.path()).unwrap();
    (d, s)
}

/// Everything on disk and in the database, to prove a failed call changed nothing.
fn snapshot_state(dir: &Path, s: &ImageStore) -> (Vec<String>, Vec<String>) {
    let mut files: Vec<String> = Vec::new();
    for sub in ["blobs/sha256", "snapshots"] {
        for e in fs::read_dir(dir.join(sub)).unwrap().flatten() {
            files.push(format!("{sub}/{}", e.file_name().to_string_lossy()));
        }
    }
    files.sort();
    let mut rows: Vec<String> = s
        .list()
        .unwrap()
        .iter()
        .map(|r| format!("{} {:?}", r.id, r.tags))
        .collect();
    rows.sort();
    (files, rows)
}

/// A docker-save style archive (legacy manifest.json) for the given layers.
fn save_archive(
    layers: &[Vec<u8>],
    tag: &str,
    tamper: impl FnOnce(&mut Vec<(String, Vec<u8>)>),
) -> Vec<u8> {
    let diff_ids: Vec<String> = layers.iter().map(|l| Digest::of(l).to_string()).collect();
    let config = serde_json::to_vec(
        &json!({"architecture":"amd64","os":"linux","config":{"Cmd":["sh"]},
        "rootfs":{"type":"layers","diff_ids": diff_ids}}),
    )
    .unwrap();
    let cfg_name = format!("{}.json", Digest::of(&config).hex());
    let mut members = vec![(cfg_name.clone(), config)];
    let mut paths = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let p = format!("l{i}/layer.tar");
        paths.push(p.clone());
        members.push((p, l.clone()));
    }
    members.push((
        "manifest.json".into(),
        serde_json::to_vec(&json!([{"Config": cfg_name, "RepoTags":[tag], "Layers": paths}]))
            .unwrap(),
    ));
    tamper(&mut members);
    let mut b = tar::Builder::new(Vec::new());
    for (p, d) in members {
        let mut h = tar::Header::new_gnu();
        h.set_size(d.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, p, &d[..]).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn import_tag_resolve_remove() {
    let (_d, s) = store();
    let r = ImageRef::parse("busybox").unwrap();
    let rec = s
        .import(
            &layer(&[("bin/sh", b"x")])[..],
            ImageRuntimeConfig::default(),
            "",
            Some(&r),
        )
        .unwrap();
    assert_eq!(s.resolve("busybox").unwrap().id, rec.id);
    assert_eq!(
        s.resolve("docker.io/library/busybox:latest").unwrap().id,
        rec.id
    );
    assert_eq!(s.resolve(&rec.id.hex()[..12]).unwrap().id, rec.id);
    assert!(matches!(s.resolve("nope"), Err(StoreError::NotFound(_))));
    s.tag("busybox", &ImageRef::parse("other:1").unwrap())
        .unwrap();
    // Two tags: removing by ID needs force; removing a tag only untags.
    assert!(matches!(
        s.remove(rec.id.as_str(), false, &|_| None),
        Err(StoreError::Conflict(_))
    ));
    let out = s.remove("other:1", false, &|_| None).unwrap();
    assert_eq!(out[0].untagged.as_deref(), Some("other:1"));
    // In use by a container: 409 unless forced, and forced only untags.
    let users = |_: &str| Some(("c".repeat(64), false));
    assert!(matches!(
        s.remove("busybox", false, &users),
        Err(StoreError::Conflict(_))
    ));
    s.remove("busybox", true, &users).unwrap();
    assert!(s.resolve(rec.id.as_str()).is_ok());
    let out = s.remove(rec.id.as_str(), false, &|_| None).unwrap();
    assert!(out.iter().any(|i| i.deleted.is_some()));
    assert!(!s.snapshots.exists(&rec.layers[0]));
    assert!(!s.blobs.exists(&rec.id));
}

#[test]
fn shared_layers_are_stored_once() {
    let (d, s) = store();
    let base = layer(&[("base", &[1u8; 10000])]);
    let a = save_archive(&[base.clone(), layer(&[("a", b"a")])], "a:1", |_| {});
    let b = save_archive(&[base.clone(), layer(&[("b", b"b")])], "b:1", |_| {});
    s.load(&a[..]).unwrap();
    s.load(&b[..]).unwrap();
    let snaps = fs::read_dir(d.path().join("snapshots")).unwrap().count();
    assert_eq!(snaps, 3, "base layer must be unpacked once");
    assert_eq!(s.layers_size().unwrap(), 10002);
    let ra = s.resolve("a:1").unwrap();
    assert_eq!(s.shared_size(&ra).unwrap(), 10000);
    // Removing one keeps the shared base for the other.
    s.remove("a:1", false, &|_| None).unwrap();
    assert!(s.snapshots.exists(&Digest::of(&base)));
    s.remove("b:1", false, &|_| None).unwrap();
    assert!(!s.snapshots.exists(&Digest::of(&base)));
}

#[test]
fn save_then_load_round_trips() {
    let (_d, s) = store();
    let a = save_archive(&[layer(&[("f", b"1")])], "app:v1", |_| {});
    assert_eq!(
        s.load(&a[..]).unwrap(),
        vec!["Loaded image: app:v1".to_string()]
    );
    let id = s.resolve("app:v1").unwrap().id;
    let mut out = Vec::new();
    s.save(&["app:v1".into()], &mut out).unwrap();
    let (_d2, s2) = store();
    assert_eq!(
        s2.load(&out[..]).unwrap(),
        vec!["Loaded image: app:v1".to_string()]
    );
    assert_eq!(s2.resolve("app:v1").unwrap().id, id);
    // The OCI layout alone loads too.
    let mut oci = tar::Builder::new(Vec::new());
    let mut ar = tar::Archive::new(&out[..]);
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().into_owned();
        if p != Path::new("manifest.json") {
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            let mut h = e.header().clone();
            oci.append_data(&mut h, p, &data[..]).unwrap();
        }
    }
    let (_d3, s3) = store();
    s3.load(&oci.into_inner().unwrap()[..]).unwrap();
    assert_eq!(s3.resolve("app:v1").unwrap().id, id);
}

#[test]
fn bad_archives_change_nothing() {
    let (d, s) = store();
    s.load(&save_archive(&[layer(&[("keep", b"k")])], "keep:1", |_| {})[..])
        .unwrap();
    let before = snapshot_state(d.path(), &s);
    let good = layer(&[("x", b"1")]);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "wrong layer digest",
            save_archive(&[good.clone(), layer(&[("y", b"2")])], "bad:1", |m| {
                m[2].1 = layer(&[("z", b"3")]);
            }),
        ),
        (
            "wrong config digest",
            save_archive(std::slice::from_ref(&good), "bad:2", |m| {
                let cfg = String::from_utf8(m[0].1.clone())
                    .unwrap()
                    .replace("sh", "ls");
                m[0].1 = cfg.into_bytes();
            }),
        ),
        (
            "truncated",
            save_archive(std::slice::from_ref(&good), "bad:3", |_| {})[..900].to_vec(),
        ),
        (
            "no manifest",
            save_archive(std::slice::from_ref(&good), "bad:4", |m| {
                m.retain(|(p, _)| p != "manifest.json")
            }),
        ),
        (
            "manifest not json",
            save_archive(std::slice::from_ref(&good), "bad:5", |m| {
                m.last_mut().unwrap().1 = b"{".to_vec()
            }),
        ),
        (
            "bad tag",
            save_archive(std::slice::from_ref(&good), "Bad Tag", |_| {}),
        ),
        (
            "layer escapes",
            save_archive(std::slice::from_ref(&good), "bad:6", |m| {
                let l = m.last().unwrap().1.clone();
                let s = String::from_utf8(l)
                    .unwrap()
                    .replace("l0/layer.tar", "../../../etc/passwd");
                m.last_mut().unwrap().1 = s.into_bytes();
            }),
        ),
        ("not a tar", b"hello world, this is not an archive".to_vec()),
    ];
    for (what, archive) in cases {
        assert!(
            matches!(s.load(&archive[..]), Err(StoreError::Invalid(_))),
            "{what} must be a 400"
        );
        assert_eq!(
            snapshot_state(d.path(), &s),
            before,
            "{what} changed the store"
        );
    }
    // A hostile layer inside an otherwise fine archive.
    let mut evil = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    evil.append_link(&mut h, "etc", "/etc").unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    evil.append_data(&mut h, "etc/evil", &b"x"[..]).unwrap();
    let a = save_archive(&[good, evil.into_inner().unwrap()], "bad:7", |_| {});
    assert!(matches!(s.load(&a[..]), Err(StoreError::Invalid(_))));
    assert_eq!(snapshot_state(d.path(), &s), before);
    assert!(!Path::new("/etc/evil").exists());
}
