//! The premise of `setup::certificate_bundle`, checked on the machine that
//! runs the tests: every CA certificate in the system's certificate
//! directories is also in the bundle that the function reads alone.
//!
//! Debian's directory also contains `ssl-cert-snakeoil.pem`, the machine's
//! own self-signed server certificate, which is no CA and not in the bundle.
//! Read from the directory it became one more trusted root; read from the
//! bundle alone it does not, which is the right outcome.

use std::collections::HashSet;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Decodes each PEM certificate in `text` to its DER bytes.
fn pem_certificates(text: &str) -> Vec<Vec<u8>> {
    let mut certificates = Vec::new();
    let mut inside: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        match (&mut inside, line) {
            (None, "-----BEGIN CERTIFICATE-----") => inside = Some(String::new()),
            (Some(encoded), "-----END CERTIFICATE-----") => {
                let der = STANDARD
                    .decode(encoded.as_bytes())
                    .expect("certificate is base64");
                certificates.push(der);
                inside = None;
            }
            (Some(encoded), _) => encoded.push_str(line),
            (None, _) => {}
        }
    }
    certificates
}

/// Returns whether `der` has a basic constraints extension without `cA` set,
/// which marks a certificate that is not a CA.
///
/// The extension is found by its encoded OID (2.5.29.19); a certificate
/// without it (old v1 roots) counts as a CA. Only the test uses this, so a
/// byte search is enough.
fn is_marked_not_ca(der: &[u8]) -> bool {
    const OID: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x13];
    const TRUE: &[u8] = &[0x01, 0x01, 0xff];
    let Some(at) = der.windows(OID.len()).position(|window| window == OID) else {
        return false;
    };
    let mut rest = &der[at + OID.len()..];
    if rest.starts_with(TRUE) {
        // The extension is marked critical.
        rest = &rest[TRUE.len()..];
    }
    // OCTET STRING { SEQUENCE { cA BOOLEAN DEFAULT FALSE, ... } }
    match rest {
        [0x04, _, 0x30, _, inner @ ..] => !inner.starts_with(TRUE),
        _ => false,
    }
}

fn read_certificates(path: &Path) -> Vec<Vec<u8>> {
    // Directories can hold files that are not PEM text (Java key stores, say).
    std::fs::read(path)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .map(|text| pem_certificates(&text))
        .unwrap_or_default()
}

#[test]
fn bundle_contains_every_directory_ca() {
    let probe = openssl_probe::probe();
    let Some(bundle) = probe.cert_file else {
        eprintln!("no system certificate bundle on this machine; nothing to compare");
        return;
    };
    let in_bundle: HashSet<Vec<u8>> = read_certificates(&bundle).into_iter().collect();
    assert!(
        in_bundle.len() > 10,
        "{} holds only {} certificates",
        bundle.display(),
        in_bundle.len()
    );

    let mut dirs = probe.cert_dir.clone();
    dirs.dedup();
    let mut checked = 0;
    for dir in &dirs {
        let entries = std::fs::read_dir(dir).expect("certificate directory is readable");
        for entry in entries {
            let path = entry.expect("directory entry").path();
            for certificate in read_certificates(&path) {
                if is_marked_not_ca(&certificate) {
                    eprintln!("{}: not a CA certificate, skipped", path.display());
                    continue;
                }
                checked += 1;
                assert!(
                    in_bundle.contains(&certificate),
                    "{} holds a certificate that {} does not",
                    path.display(),
                    bundle.display()
                );
            }
        }
    }
    eprintln!(
        "{checked} CA certificates in {dirs:?} are all in {}",
        bundle.display()
    );
}
