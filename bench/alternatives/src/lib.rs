//! Empty: the measurements are in `benches/primitives.rs`.
