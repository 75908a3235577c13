//! The pallet's features, one file each: the `do_*` functions its calls hand over to, and the
//! reads that go with them.
//!
//! - [`operators`]: registering, key and endpoint changes, bond top-ups, leaving and
//!   deregistering; the operator registry other pallets read ([`OperatorInspect`]).
//! - [`escrow`]: payers' deposits, withdrawal requests and withdrawals.
//! - [`batches`]: checking a signed usage batch and charging it to the payers' escrow.
//! - [`disputes`]: payers' disputes of entries and their resolution (refund and slash, or
//!   release).
//! - [`settlement`]: handing a batch's fees to [`Config::Settlement`] after its dispute window.
//!
//! [`OperatorInspect`]: lineage_primitives::usage::OperatorInspect
//! [`Config::Settlement`]: crate::Config::Settlement

pub mod batches;
pub mod disputes;
pub mod escrow;
pub mod operators;
pub mod settlement;
