//! An example dApp, in ink! 6, that buys inference from Lineage through its precompile
//! (`contracts/ILineage.sol`, at `0x000000000000000000000000000000000C000000`).
//!
//! It does what the Solidity dApp (`contracts/solidity/LineageDapp.sol`) does, and is compiled
//! with ink!'s Solidity ABI (`abi = "sol"` in Cargo.toml): its constructor and messages are
//! called with Solidity-encoded call data, under the same function names, selectors and return
//! encodings as the Solidity dApp's (see the README beside this file), so one Ethereum-style ABI
//! serves both.
//!
//! The contract itself is the requester the chain sees: it pays each job's fee from its own
//! balance (the chain holds `maxFee` plus a storage deposit while the job runs and refunds what is
//! not charged), and only it may take the job's output. Fund it when deploying it (the
//! constructor is payable), or later with `fund()` or a plain balance transfer to its account.
//!
//! Refusals of the precompile (`Error(string)` with the pallet's error name, such as
//! "UnknownAdapter" or "NotFulfilled") are passed on unchanged as this contract's revert data,
//! as a Solidity external call would.
//!
//! One difference from the Solidity dApp is forced by pallet-revive: a contract's storage item
//! may hold at most 416 bytes (`limits::STORAGE_BYTES`), where Solidity spreads a string over as
//! many 32-byte slots as it needs. So the answers are stored as chunks of at most
//! [`CHUNK_BYTES`] bytes, keyed by (job id, chunk index), with their length kept apart.

#![cfg_attr(not(feature = "std"), no_std, no_main)]

use ink::{
	Address, SolDecode, SolEncode,
	prelude::{string::String, vec::Vec},
	sol::{SolErrorDecode, SolErrorEncode},
};

/// The Lineage precompile's address (`LINEAGE_PRECOMPILE` in ILineage.sol: `AddressMatcher::Fixed`
/// index 0x0C00 puts it in bytes 16..18).
pub const LINEAGE_PRECOMPILE: [u8; 20] =
	[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0C, 0, 0, 0];

/// The largest chunk of an answer kept in one storage item: SCALE-encoded as a `Vec<u8>` it
/// takes 2 more bytes (its compact length), well under pallet-revive's 416-byte limit.
pub const CHUNK_BYTES: usize = 384;

/// The subset of `ILineage` this dApp uses. Names, argument types (and so the selectors,
/// keccak256 of the Solidity signature) and return types follow ILineage.sol exactly.
///
/// Every message returns `Result<_, Revert>`: when the precompile reverts, its revert data comes
/// back as `Err(Revert(data))`, which the dApp's messages return in turn (ink! reverts with it).
#[ink::contract_ref(abi = "sol")]
pub trait ILineage {
	/// `requestCompletion(uint32,string,uint32,uint32,uint32,uint64,uint128,uint32,address)`
	/// returns `(uint64 jobId)`.
	#[ink(message, name = "requestCompletion")]
	#[allow(clippy::too_many_arguments)]
	fn request_completion(
		&mut self,
		adapter_id: u32,
		prompt: String,
		max_output_tokens: u32,
		temperature_milli: u32,
		top_p_milli: u32,
		seed: u64,
		max_fee: u128,
		ttl_blocks: u32,
		operator: Address,
	) -> Result<u64, Revert>;

	/// `jobStatus(uint64)` returns
	/// `(uint8 state, address requester, uint32 adapterId, uint64 inputTokens,
	///   uint64 outputTokens, uint128 fee, uint32 expiresAt)`.
	#[ink(message, name = "jobStatus")]
	fn job_status(&self, job_id: u64) -> Result<(u8, Address, u32, u64, u64, u128, u32), Revert>;

	/// `takeOutput(uint64)` returns `(string output)`.
	#[ink(message, name = "takeOutput")]
	fn take_output(&mut self, job_id: u64) -> Result<String, Revert>;

	/// `adapterLineage(uint32)` returns
	/// `(uint32 baseModel, address author, bool hasParent, uint32 parent,
	///   uint32[] datanets, uint32[] versions, uint32[] weightsPpb)`.
	#[ink(message, name = "adapterLineage")]
	fn adapter_lineage(&self, adapter_id: u32) -> Result<Lineage, Revert>;
}

/// Revert data, passed through verbatim: decoded from whatever a callee reverted with, and
/// encoded (as this contract's revert data) exactly as it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revert(pub Vec<u8>);

impl Revert {
	/// The Solidity dApp's custom error `NotOwner()` (selector `keccak256("NotOwner()")[..4]`).
	pub fn not_owner() -> Self {
		Self(ink::sol_error_selector!("NotOwner", ()).to_vec())
	}
}

impl SolErrorDecode for Revert {
	fn decode(data: &[u8]) -> Result<Self, ink::sol::Error> {
		Ok(Self(data.to_vec()))
	}
}

impl SolErrorEncode for Revert {
	fn encode(&self) -> Vec<u8> {
		self.0.clone()
	}
}

/// The lineage `adapterLineage` returns:
/// `(baseModel, author, hasParent, parent, datanets, versions, weightsPpb)`.
pub type LineageTuple = (u32, Address, bool, u32, Vec<u32>, Vec<u32>, Vec<u32>);

/// An adapter's lineage, Solidity-encoded as a function's *list* of return values.
///
/// ink! encodes and decodes a Rust tuple as one Solidity tuple value (`returns ((…))`), which
/// for a tuple with dynamic members puts a 32-byte offset word in front of it. A Solidity
/// function with several return values (`adapterLineage`, and the Solidity dApp's `lineageOf`)
/// encodes them in place, without that word. This wrapper does the latter both ways.
///
/// (ink!'s generated ABI JSON still describes `lineageOf`'s output as one tuple, as it takes
/// the return type's name from `LineageTuple`: use the Solidity dApp's ABI for this function.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lineage(pub LineageTuple);

impl SolDecode for Lineage {
	type SolType = LineageTuple;

	fn decode(data: &[u8]) -> Result<Self, ink::sol::Error> {
		ink::sol::decode_sequence::<LineageTuple>(data).map(Self)
	}

	fn from_sol_type(value: Self::SolType) -> Result<Self, ink::sol::Error> {
		Ok(Self(value))
	}
}

impl<'a> SolEncode<'a> for Lineage {
	type SolType = &'a LineageTuple;

	fn encode(&'a self) -> Vec<u8> {
		ink::sol::encode_sequence::<LineageTuple>(&self.0)
	}

	fn encode_to(&'a self, buffer: &mut [u8]) -> usize {
		ink::sol::encode_sequence_to::<LineageTuple>(&self.0, buffer)
	}

	fn to_sol_type(&'a self) -> Self::SolType {
		&self.0
	}
}

#[ink::contract]
mod lineage_dapp {
	// `Address` comes with `#[ink::contract]` (the environment's type).
	use super::{CHUNK_BYTES, ILineage, ILineageRef, LINEAGE_PRECOMPILE, Lineage, Revert};
	use ink::{
		U256,
		prelude::{string::String, vec::Vec},
		storage::Mapping,
	};

	/// A completion was requested of adapter `adapter_id` as job `job_id`
	/// (`Asked(uint64 indexed jobId, uint32 indexed adapterId)`).
	#[ink(event)]
	pub struct Asked {
		#[ink(topic)]
		job_id: u64,
		#[ink(topic)]
		adapter_id: u32,
	}

	/// Job `job_id`'s output was taken from the chain and stored here
	/// (`Answered(uint64 indexed jobId, string output)`).
	#[ink(event)]
	pub struct Answered {
		#[ink(topic)]
		job_id: u64,
		output: String,
	}

	#[ink(storage)]
	pub struct LineageDapp {
		/// The deployer: the only account that may spend the contract's balance on requests.
		owner: Address,
		/// The id of the last job `ask` requested (0 before the first).
		last_job: u64,
		/// The byte length of each answer `collect` stored, by job id.
		answer_len: Mapping<u64, u32>,
		/// The answers, in chunks of at most `CHUNK_BYTES` bytes, by (job id, chunk index).
		answer_chunks: Mapping<(u64, u32), Vec<u8>>,
	}

	impl LineageDapp {
		/// Deploys the dApp; the value sent with the deployment is its first balance.
		#[ink(constructor, payable, default)]
		pub fn new() -> Self {
			Self {
				owner: Self::env().caller(),
				last_job: 0,
				answer_len: Mapping::default(),
				answer_chunks: Mapping::default(),
			}
		}

		/// Requests a greedy completion (temperature 0, top-p off, seed 0) of `prompt` by
		/// adapter `adapter_id`, of at most `max_output_tokens` tokens, paying at most
		/// `max_fee` (LIN's smallest unit) from this contract's balance. Any registered operator
		/// may serve it within `ttl_blocks` blocks. Only the owner may ask (else it reverts with
		/// `NotOwner()`). Returns the job's id, also kept as `lastJob`.
		#[ink(message)]
		pub fn ask(
			&mut self,
			adapter_id: u32,
			prompt: String,
			max_output_tokens: u32,
			max_fee: u128,
			ttl_blocks: u32,
		) -> Result<u64, Revert> {
			if self.env().caller() != self.owner {
				return Err(Revert::not_owner());
			}
			let job_id = Self::lineage().request_completion(
				adapter_id,
				prompt,
				max_output_tokens,
				0,
				1000,
				0,
				max_fee,
				ttl_blocks,
				Address::zero(),
			)?;
			self.last_job = job_id;
			self.env().emit_event(Asked { job_id, adapter_id });
			Ok(job_id)
		}

		/// Takes job `job_id`'s output from the chain (which removes the job and returns its
		/// storage deposit to this contract), stores it and returns it. Anyone may call it.
		/// Reverts with the precompile's reason while the job is pending ("NotFulfilled") or
		/// when there is no such job ("UnknownJob", e.g. taken already or expired).
		#[ink(message)]
		pub fn collect(&mut self, job_id: u64) -> Result<String, Revert> {
			let output = Self::lineage().take_output(job_id)?;
			let bytes = output.as_bytes();
			// Answers are at most a few KiB (the call data and the output buffer are 16 KiB).
			self.answer_len.insert(job_id, &(bytes.len() as u32));
			for (index, chunk) in bytes.chunks(CHUNK_BYTES).enumerate() {
				self.answer_chunks.insert((job_id, index as u32), &chunk.to_vec());
			}
			self.env().emit_event(Answered { job_id, output: output.clone() });
			Ok(output)
		}

		/// The output of job `job_id` stored by `collect` (empty when it was not collected).
		#[ink(message)]
		pub fn answer(&self, job_id: u64) -> String {
			let len = self.answer_len.get(job_id).unwrap_or(0) as usize;
			let mut bytes = Vec::with_capacity(len);
			let mut index = 0u32;
			while bytes.len() < len {
				match self.answer_chunks.get((job_id, index)) {
					Some(chunk) => bytes.extend_from_slice(&chunk),
					None => break,
				}
				index += 1;
			}
			// The bytes are those of a `String` stored whole: valid UTF-8.
			String::from_utf8(bytes).unwrap_or_default()
		}

		/// Job `job_id`'s state as the chain reports it: 0 = none (never requested, taken or
		/// expired), 1 = pending, 2 = fulfilled; for a fulfilled job its tokens and the fee
		/// charged. Returns `(state, inputTokens, outputTokens, fee)`.
		#[ink(message)]
		pub fn status(&self, job_id: u64) -> Result<(u8, u64, u64, u128), Revert> {
			let (state, _requester, _adapter, input_tokens, output_tokens, fee, _expires) =
				Self::lineage().job_status(job_id)?;
			Ok((state, input_tokens, output_tokens, fee))
		}

		/// Adapter `adapter_id`'s lineage as the chain reports it: base model, author, parent
		/// (when `hasParent`) and the datanet versions it was trained on with their weights
		/// (ppb), returned as Solidity's `lineageOf` returns them (seven return values).
		#[ink(message, name = "lineageOf")]
		pub fn lineage_of(&self, adapter_id: u32) -> Result<Lineage, Revert> {
			Self::lineage().adapter_lineage(adapter_id)
		}

		/// The deployer.
		#[ink(message)]
		pub fn owner(&self) -> Address {
			self.owner
		}

		/// The id of the last job `ask` requested (0 before the first).
		#[ink(message, name = "lastJob")]
		pub fn last_job(&self) -> u64 {
			self.last_job
		}

		/// Accepts value, to top the contract's balance up (the Solidity dApp's `receive`;
		/// ink! has no function for empty call data). Returns the balance after it.
		#[ink(message, payable)]
		pub fn fund(&mut self) -> U256 {
			self.env().balance()
		}

		fn lineage() -> ILineageRef {
			Address::from(LINEAGE_PRECOMPILE).into()
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	/// 32-byte big-endian word of `n`.
	fn word(n: u64) -> [u8; 32] {
		let mut w = [0u8; 32];
		w[24..].copy_from_slice(&n.to_be_bytes());
		w
	}

	#[test]
	fn lineage_is_encoded_as_a_list_of_return_values() {
		let author = Address::from([0x11; 20]);
		let lineage =
			Lineage((7, author, true, 3, vec![1, 2], vec![5, 6], vec![400_000_000, 600_000_000]));
		let encoded = SolEncode::encode(&lineage);
		// Seven head words (three of them offsets), then three arrays of two (length + items).
		assert_eq!(encoded.len(), 32 * (7 + 3 * 3));
		assert_eq!(encoded[..32], word(7));
		assert_eq!(encoded[32 + 12..64], [0x11; 20]);
		assert_eq!(encoded[64..96], word(1));
		assert_eq!(encoded[96..128], word(3));
		assert_eq!(encoded[128..160], word(7 * 32));
		assert_eq!(encoded[160..192], word(10 * 32));
		assert_eq!(encoded[192..224], word(13 * 32));
		assert_eq!(encoded[224..256], word(2));
		assert_eq!(<Lineage as SolDecode>::decode(&encoded), Ok(lineage));
	}

	fn unhex(s: &str) -> Vec<u8> {
		let s = s.trim_start_matches("0x");
		(0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
	}

	/// The call data the dApp sends to the precompile, against the same calls encoded by viem
	/// from ILineage.sol's signatures.
	#[test]
	fn precompile_calls_are_encoded_as_ilineage_expects() {
		use ink::codegen::TraitCallBuilder;
		let mut lineage: ILineageRef = Address::from(LINEAGE_PRECOMPILE).into();
		let request = lineage
			.call_mut()
			.request_completion(
				7,
				"Hi".into(),
				32,
				0,
				1000,
				0,
				10u128.pow(12),
				100,
				Address::zero(),
			)
			.params()
			.exec_input()
			.encode();
		assert_eq!(
			request,
			unhex(concat!(
				"0x6ad9b32a",
				"0000000000000000000000000000000000000000000000000000000000000007",
				"0000000000000000000000000000000000000000000000000000000000000120",
				"0000000000000000000000000000000000000000000000000000000000000020",
				"0000000000000000000000000000000000000000000000000000000000000000",
				"00000000000000000000000000000000000000000000000000000000000003e8",
				"0000000000000000000000000000000000000000000000000000000000000000",
				"000000000000000000000000000000000000000000000000000000e8d4a51000",
				"0000000000000000000000000000000000000000000000000000000000000064",
				"0000000000000000000000000000000000000000000000000000000000000000",
				"0000000000000000000000000000000000000000000000000000000000000002",
				"4869000000000000000000000000000000000000000000000000000000000000",
			))
		);
		let take = lineage.call_mut().take_output(5).params().exec_input().encode();
		assert_eq!(
			take,
			unhex("0xdc55dc260000000000000000000000000000000000000000000000000000000000000005")
		);
		let status = lineage.call().job_status(5).params().exec_input().encode();
		assert_eq!(
			status,
			unhex("0x2e8323c60000000000000000000000000000000000000000000000000000000000000005")
		);
		let lineage_call = lineage.call().adapter_lineage(3).params().exec_input().encode();
		assert_eq!(
			lineage_call,
			unhex("0x97f5c14f0000000000000000000000000000000000000000000000000000000000000003")
		);
	}

	#[test]
	fn revert_data_passes_through() {
		let data = vec![0x08, 0xc3, 0x79, 0xa0, 1, 2, 3];
		let revert = <Revert as SolErrorDecode>::decode(&data).unwrap();
		assert_eq!(SolErrorEncode::encode(&revert), data);
		// keccak256("NotOwner()") = 0x30cd7471…
		assert_eq!(Revert::not_owner().0, vec![0x30, 0xcd, 0x74, 0x71]);
	}
}
