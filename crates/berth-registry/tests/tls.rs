//! The client's TLS trust against a registry served with TLS: a CA in the
//! certs directory is trusted, no CA is refused, and a half client pair is a
//! clear error. (berthd treats loopback registries as insecure, as dockerd
//! does, so this path is driven here directly.)

use std::path::Path;
use std::process::Command;

use berth_registry::serve::{run, ServeSettings};
use http_body_util::{BodyExt, Empty};

fn openssl(dir: &Path, args: &[&str]) {
    let o = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

async fn get(tls: rustls::ClientConfig, url: &str) -> Result<u16, String> {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .build();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, Empty<bytes::Bytes>>(connector);
    let resp = client
        .get(url.parse().unwrap())
        .await
        .map_err(|e| format!("{e:?}"))?;
    let status = resp.status().as_u16();
    let _ = resp.into_body().collect().await;
    Ok(status)
}

#[tokio::test]
async fn trusts_the_certs_dir_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        d,
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-days",
                "2",
                "-subj",
                "/CN=test CA",
            ],
        ]
        .concat(),
    );
    openssl(
        d,
        &[
            &["req"][..],
            &ec,
            &[
                "-keyout",
                "key.pem",
                "-out",
                "req.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        ]
        .concat(),
    );
    std::fs::write(d.join("ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "req.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-extfile",
            "ext",
        ],
    );

    let settings = ServeSettings {
        listen: "127.0.0.1:0".into(),
        storage: d.join("storage"),
        tls: Some((d.join("cert.pem"), d.join("key.pem"))),
        ..Default::default()
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(run(settings, move |addr| {
        let _ = tx.send(addr);
    }));
    let addr = rx.await.unwrap().to_string();
    let url = format!("https://{addr}/v2/");

    let certs = d.join("certs.d");
    std::fs::create_dir_all(certs.join(&addr)).unwrap();
    // No CA for it: the system's roots do not know this certificate.
    let cfg = berth_registry::tls::client_config(Some(&certs), &addr, true).unwrap();
    let e = get(cfg, &url).await.unwrap_err();
    assert!(e.contains("UnknownIssuer"), "{e}");
    // Insecure: not checked.
    let cfg = berth_registry::tls::client_config(Some(&certs), &addr, false).unwrap();
    assert_eq!(get(cfg, &url).await.unwrap(), 200);
    // The CA in <certs-dir>/<host:port>/: trusted.
    std::fs::copy(d.join("ca.crt"), certs.join(&addr).join("ca.crt")).unwrap();
    let cfg = berth_registry::tls::client_config(Some(&certs), &addr, true).unwrap();
    assert_eq!(get(cfg, &url).await.unwrap(), 200);
    // A client certificate without its key is a clear error.
    std::fs::copy(d.join("cert.pem"), certs.join(&addr).join("client.cert")).unwrap();
    let e = berth_registry::tls::client_config(Some(&certs), &addr, true).unwrap_err();
    assert!(e.contains("client.key"), "{e}");
    // A bad certificate file for the server is refused before serving.
    std::fs::write(d.join("bad.pem"), "not a certificate").unwrap();
    let bad = ServeSettings {
        listen: "127.0.0.1:0".into(),
        storage: d.join("storage2"),
        tls: Some((d.join("bad.pem"), d.join("key.pem"))),
        ..Default::default()
    };
    let e = run(bad, |_| panic!("must not serve")).await.unwrap_err();
    assert!(e.contains("bad.pem"), "{e}");
}
