//! Content ids: the IPFS CIDv1 of a record.
//!
//! A record's chain hash is the sha-256 of its bytes. Its CID is version 1, codec `raw` (0x55),
//! multihash `sha2-256` (0x12, 32 bytes), written in base32 lower case: the `bafkrei…` that
//! `ipfs add --cid-version 1 --raw-leaves` prints for a file of one block (records are at most
//! 256 KiB, one block). Any IPFS node can therefore pin and serve the same bytes under the same
//! id, and the id is the chain's hash with a fixed prefix.

use cid::{multihash::Multihash, Cid, Version};

/// The multicodec of raw bytes.
pub const RAW_CODEC: u64 = 0x55;
/// The multihash code of sha2-256.
pub const SHA2_256: u64 = 0x12;

/// The CID of the record whose bytes hash (sha-256) to `hash`.
pub fn record_cid(hash: &[u8; 32]) -> Cid {
	// A 32-byte digest always fits a 64-byte multihash.
	let multihash = Multihash::<64>::wrap(SHA2_256, hash).unwrap_or_default();
	Cid::new_v1(RAW_CODEC, multihash)
}

/// The CID of `hash` as text (`bafkrei…`).
pub fn record_cid_string(hash: &[u8; 32]) -> String {
	record_cid(hash).to_string()
}

/// The sha-256 a CID names, when it is a CIDv1 of raw bytes hashed with sha2-256: the only
/// kind a record store holds. The error says what was wrong.
pub fn parse_record_cid(text: &str) -> Result<[u8; 32], CidError> {
	let cid = Cid::try_from(text).map_err(|e| CidError(format!("`{text}` is not a CID: {e}")))?;
	if cid.version() != Version::V1 {
		return Err(CidError(format!("`{text}` is a CIDv0; records are named by CIDv1 (raw)")));
	}
	if cid.codec() != RAW_CODEC {
		return Err(CidError(format!(
			"`{text}` has codec 0x{:x}; records are raw bytes (codec 0x55)",
			cid.codec()
		)));
	}
	let hash = cid.hash();
	if hash.code() != SHA2_256 || hash.digest().len() != 32 {
		return Err(CidError(format!(
			"`{text}` is hashed with multihash 0x{:x}; records are hashed with sha2-256 (0x12)",
			hash.code()
		)));
	}
	let mut out = [0u8; 32];
	out.copy_from_slice(hash.digest());
	Ok(out)
}

/// Text that is not the CID of a record; the message says why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CidError(pub String);

#[cfg(test)]
mod tests {
	use super::*;
	use sha2::{Digest, Sha256};

	#[test]
	fn the_cid_of_hello_world_is_what_ipfs_prints() {
		// `printf 'hello world' | ipfs add --cid-version 1 --raw-leaves -Q`
		let hash: [u8; 32] = Sha256::digest(b"hello world").into();
		assert_eq!(
			record_cid_string(&hash),
			"bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
		);
		assert_eq!(parse_record_cid(&record_cid_string(&hash)), Ok(hash));
	}

	#[test]
	fn other_cids_are_refused_with_a_reason() {
		// CIDv0 (dag-pb, base58).
		let v0 = "QmWATWQ7fVPP2EFGu71UkfnqhYXDYH566qy47CnJDgvs8u";
		assert!(parse_record_cid(v0).unwrap_err().0.contains("CIDv0"));
		// CIDv1 dag-pb.
		let dag_pb = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";
		assert!(parse_record_cid(dag_pb).unwrap_err().0.contains("codec"));
		assert!(parse_record_cid("not-a-cid").unwrap_err().0.contains("not a CID"));
	}
}
