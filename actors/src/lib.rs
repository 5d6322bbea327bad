//! Gantry's actors, the domain rules they enforce and the ports they talk through.
//!
//! - [`ports`]: capability traits (bus, cache, job store, object store) implemented by adapters in `gantry`.
pub mod ports;
