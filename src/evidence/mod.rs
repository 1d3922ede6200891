//! Evidence: fetches an image's signatures and in-toto attestations from its OCI registry and
//! verifies them against platform-owned trust authorities.
