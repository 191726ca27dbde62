//! `Origin::from_header_bytes` on arbitrary bytes and `Origin::parse` on arbitrary UTF-8.
//!
//! Invariants:
//! - `from_header_bytes` success ⇒ `as_str()` is exactly the input bytes (strict header
//!   parsing accepts only canonical serializations).
//! - `parse` success ⇒ the serialization is a fixed point: `parse(o.as_str()) == o`, and it
//!   is accepted by the strict header parser: `from_header_bytes(o.as_str()) == o`.
#![no_main]

use corsica::Origin;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(o) = Origin::from_header_bytes(data) {
        assert_eq!(
            o.as_str().as_bytes(),
            data,
            "from_header_bytes accepted a value that is not its own serialization"
        );
    }

    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(o) = Origin::parse(s) {
        let again = Origin::parse(o.as_str()).unwrap_or_else(|e| {
            panic!("parse({s:?}) = {:?}, but re-parsing it fails: {e}", o.as_str())
        });
        assert_eq!(again, o, "serialization of parse({s:?}) is not a fixed point");
        let strict = Origin::from_header_bytes(o.as_str().as_bytes()).unwrap_or_else(|e| {
            panic!("parse({s:?}) = {:?}, but from_header_bytes refuses it: {e}", o.as_str())
        });
        assert_eq!(strict, o, "from_header_bytes(serialization) differs for {s:?}");
    }
});
