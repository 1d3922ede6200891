//! A value that differs between calls, processes and runs, for names of test objects (a
//! namespace, an image's content) that must not collide with those of an earlier or parallel
//! test. Included by the test support modules with `#[path]`.

/// 64 bits from the clock, the process id and std's per-process random hash keys.
pub fn unique_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_nanos(),
    );
    h.write_u32(std::process::id());
    h.finish()
}
