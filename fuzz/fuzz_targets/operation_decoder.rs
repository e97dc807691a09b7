//! Feeds arbitrary bytes to the operation decoders, with and without an attachment table: they
//! must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = postbox_wire::decode_request(data);
    let _ = postbox_wire::decode_response(data);
    let payload = bytes::Bytes::copy_from_slice(data);
    let _ = postbox_wire::Attached::<postbox_wire::Request>::decode(&payload)
        .map(|attached| attached.fill(|_| Ok::<_, ()>(bytes::Bytes::from_static(b"x"))));
    let _ = postbox_wire::Attached::<postbox_wire::Response>::decode(&payload)
        .map(|attached| attached.fill(|_| Ok::<_, ()>(bytes::Bytes::from_static(b"x"))));
});
