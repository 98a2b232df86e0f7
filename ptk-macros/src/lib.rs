//! Procedural macros of ptk. See the `ptk` crate for documentation.
