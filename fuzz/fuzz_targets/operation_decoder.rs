//! Feeds arbitrary bytes to the operation decoders: they must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = postbox_wire::decode_request(data);
    let _ = postbox_wire::decode_response(data);
});
