//! `include/postbox.h` is generated, never hand-kept: this test regenerates it with cbindgen from
//! `src/` and `cbindgen.toml` and fails when the checked-in header differs.
//!
//! After changing the C API, rewrite the header with
//! `POSTBOX_BLESS=1 cargo test -p postbox-ffi --test header` and commit it.

use std::path::Path;

#[test]
fn postbox_h_is_what_cbindgen_generates_from_the_sources() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).unwrap();
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src/lib.rs"))
        .generate()
        .expect("cbindgen reads the sources");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let generated = String::from_utf8(generated).unwrap();

    let header = crate_dir.join("include/postbox.h");
    if std::env::var_os("POSTBOX_BLESS").is_some() {
        std::fs::write(&header, &generated).unwrap();
        return;
    }
    let checked_in = std::fs::read_to_string(&header).unwrap_or_default();
    assert!(
        checked_in == generated,
        "include/postbox.h is stale: run `POSTBOX_BLESS=1 cargo test -p postbox-ffi --test header` \
         and commit the result"
    );
}
