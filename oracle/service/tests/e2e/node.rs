//! The dev node of the end-to-end tests: [`lineage_testkit::node`], shared with the record
//! store's tests.

pub use lineage_testkit::node::{free_port, DevNode};
