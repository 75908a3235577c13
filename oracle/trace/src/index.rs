//! One datanet version's records as a suffix array over token ids.
//!
//! **Layout.** The records' token ids are concatenated into one text of 16-bit symbols: token
//! `t` is stored as `t + 1`, and every segment (a record's prompt, its completion) ends with the
//! separator `0`. A pattern never contains `0`, so no match runs from one segment into the next:
//! a span across two records is never found. The suffix array (libsais, 32-bit) sorts every
//! position of the text; a pattern's occurrences are one contiguous range of its rows, found by
//! binary search, narrowed one token at a time.
//!
//! **On disk** (a directory, written by [`SpanIndexBuilder::write`]): `text.u16` (2 bytes per
//! token, separators included), `sa.i32` (4 bytes per token), `starts.u32` and `owners.u32` (per
//! segment: where it starts, which record it belongs to) and `header.json` (format, counts and
//! the records' on-chain identity). [`SpanIndex::open`] memory maps the arrays, so an index larger
//! than memory is served from the page cache and opening one costs no reading.

use std::{
	fs::File,
	io::{BufWriter, Write},
	ops::Range,
	path::{Path, PathBuf},
};

use memmap2::Mmap;
use serde::{Deserialize, Serialize};

/// The on-disk format this crate writes and reads.
pub const FORMAT: u32 = 1;

/// The largest token id an index holds: ids are stored as `id + 1` in 16 bits and `0` separates
/// segments. (SmolLM2's vocabulary is 49,152 ids.)
pub const MAX_TOKEN_ID: u32 = u16::MAX as u32 - 1;

/// The most symbols (tokens and separators) one index holds: its suffix array is 32-bit.
pub const MAX_SYMBOLS: usize = i32::MAX as usize;

const SEPARATOR: u16 = 0;
const TEXT: &str = "text.u16";
const SA: &str = "sa.i32";
const STARTS: &str = "starts.u32";
const OWNERS: &str = "owners.u32";
const HEADER: &str = "header.json";

/// What went wrong building or opening an index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
	/// A token id does not fit the index's 16-bit symbols.
	#[error(
		"token id {0} is above {MAX_TOKEN_ID}, the largest a span index holds: index a model \
		 with a vocabulary of at most 65,535 ids"
	)]
	TokenOutOfRange(u32),
	/// The records hold more tokens than a 32-bit suffix array indexes.
	#[error(
		"the records hold more than {MAX_SYMBOLS} tokens with separators: split the version \
		 into several indexes"
	)]
	TooLarge,
	/// libsais refused the text.
	#[error("suffix array construction failed: {0:?}")]
	Construction(libsais::LibsaisError),
	/// A file of the index is missing, unreadable or unwritable.
	#[error("span index {path}: {source}")]
	Io {
		/// The file.
		path: PathBuf,
		/// Why.
		source: std::io::Error,
	},
	/// The files do not form an index of this format (truncated, another version, edited).
	#[error("span index {path} is not a valid index: {why}; delete the directory to rebuild it")]
	Corrupt {
		/// The directory.
		path: PathBuf,
		/// What does not hold.
		why: String,
	},
	/// The records an index is built from could not be read (a cache's build step).
	#[error("the records of the index could not be read: {0}")]
	Source(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> IndexError + '_ {
	move |source| IndexError::Io { path: path.to_path_buf(), source }
}

/// A record of a datanet version, as the chain names it: what an answer's spans are credited to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RecordMeta {
	/// The datanet.
	pub datanet: u32,
	/// The version the record is frozen in.
	pub version: u32,
	/// Its position in the version's record list.
	pub index: u32,
	/// Its contribution id within the datanet.
	pub contribution: u32,
	/// sha-256 of its bytes.
	#[serde(with = "hex32")]
	pub content_hash: [u8; 32],
	/// The account that contributed it.
	#[serde(with = "hex32")]
	pub contributor: [u8; 32],
}

/// `[u8; 32]` as `0x…` hex in JSON.
pub mod hex32 {
	use serde::{Deserialize, Deserializer, Serializer};

	/// Writes `0x` and 64 hex digits.
	pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
		s.serialize_str(&format!("0x{}", hex::encode(v)))
	}

	/// Reads 64 hex digits, `0x` optional.
	pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
		let text = String::deserialize(d)?;
		let mut out = [0u8; 32];
		hex::decode_to_slice(text.trim_start_matches("0x"), &mut out)
			.map_err(serde::de::Error::custom)?;
		Ok(out)
	}
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Header {
	format: u32,
	symbols: u64,
	tokens: u64,
	segments: u64,
	records: Vec<RecordMeta>,
}

/// Collects records' token ids, then builds and writes a [`SpanIndex`].
#[derive(Default)]
pub struct SpanIndexBuilder {
	text: Vec<u16>,
	starts: Vec<u32>,
	owners: Vec<u32>,
	records: Vec<RecordMeta>,
	tokens: u64,
}

impl SpanIndexBuilder {
	/// An empty builder.
	pub fn new() -> Self {
		Self::default()
	}

	/// Adds one record made of `segments` (for a prompt/completion record: the prompt's tokens and
	/// the completion's). No span is found across two segments. Empty segments are skipped.
	pub fn add_record(&mut self, meta: RecordMeta, segments: &[&[u32]]) -> Result<(), IndexError> {
		let record = u32::try_from(self.records.len()).map_err(|_| IndexError::TooLarge)?;
		let added: usize = segments.iter().filter(|s| !s.is_empty()).map(|s| s.len() + 1).sum();
		if self.text.len().saturating_add(added) > MAX_SYMBOLS {
			return Err(IndexError::TooLarge);
		}
		if let Some(&t) = segments.iter().flat_map(|s| s.iter()).find(|&&t| t > MAX_TOKEN_ID) {
			return Err(IndexError::TokenOutOfRange(t));
		}
		for segment in segments.iter().filter(|s| !s.is_empty()) {
			// MAX_SYMBOLS < u32::MAX, checked above.
			self.starts.push(self.text.len() as u32);
			self.owners.push(record);
			self.text.extend(segment.iter().map(|&t| (t + 1) as u16));
			self.text.push(SEPARATOR);
			self.tokens += segment.len() as u64;
		}
		self.records.push(meta);
		Ok(())
	}

	/// Tokens added so far (separators not counted).
	pub fn tokens(&self) -> u64 {
		self.tokens
	}

	/// Builds the suffix array and writes the index into `dir` (created; files in it replaced),
	/// then opens it.
	pub fn write(self, dir: &Path) -> Result<SpanIndex, IndexError> {
		std::fs::create_dir_all(dir).map_err(io_err(dir))?;
		let sa: Vec<i32> = if self.text.is_empty() {
			Vec::new()
		} else {
			libsais::SuffixArrayConstruction::for_text(&self.text[..])
				.in_owned_buffer32()
				.single_threaded()
				.run()
				.map_err(IndexError::Construction)?
				.into_vec()
		};
		write_array(&dir.join(TEXT), &self.text)?;
		write_array(&dir.join(SA), &sa)?;
		write_array(&dir.join(STARTS), &self.starts)?;
		write_array(&dir.join(OWNERS), &self.owners)?;
		let header = Header {
			format: FORMAT,
			symbols: self.text.len() as u64,
			tokens: self.tokens,
			segments: self.starts.len() as u64,
			records: self.records,
		};
		let path = dir.join(HEADER);
		let bytes = serde_json::to_vec(&header)
			.map_err(|e| IndexError::Corrupt { path: path.clone(), why: e.to_string() })?;
		std::fs::write(&path, bytes).map_err(io_err(&path))?;
		SpanIndex::open(dir)
	}
}

fn write_array<T: bytemuck::Pod>(path: &Path, values: &[T]) -> Result<(), IndexError> {
	let file = File::create(path).map_err(io_err(path))?;
	let mut out = BufWriter::with_capacity(1 << 20, file);
	// The arrays are little-endian on disk; `open` refuses other hosts.
	out.write_all(bytemuck::cast_slice(values)).map_err(io_err(path))?;
	out.into_inner().map_err(|e| e.into_error()).and_then(|f| f.sync_all()).map_err(io_err(path))
}

/// A read-only array file, memory mapped (`None` when empty: an empty file cannot be mapped).
struct Mapped(Option<Mmap>);

impl Mapped {
	fn open<T: bytemuck::Pod>(dir: &Path, name: &str, len: u64) -> Result<Self, IndexError> {
		let path = dir.join(name);
		let file = File::open(&path).map_err(io_err(&path))?;
		let size = file.metadata().map_err(io_err(&path))?.len();
		let want = len.saturating_mul(std::mem::size_of::<T>() as u64);
		if size != want {
			return Err(IndexError::Corrupt {
				path: dir.to_path_buf(),
				why: format!("{name} holds {size} bytes, the header says {want}"),
			});
		}
		if size == 0 {
			return Ok(Mapped(None));
		}
		// SAFETY: the index's files are written once, by `SpanIndexBuilder::write`, into a
		// directory nothing else writes (the cache builds in a temporary directory and renames
		// it); a file truncated under a live map would fault, not corrupt memory safety of
		// the values read, which are plain integers.
		let map = unsafe { Mmap::map(&file) }.map_err(io_err(&path))?;
		bytemuck::try_cast_slice::<u8, T>(&map).map_err(|e| IndexError::Corrupt {
			path: dir.to_path_buf(),
			why: format!("{name}: {e}"),
		})?;
		Ok(Mapped(Some(map)))
	}

	fn slice<T: bytemuck::Pod>(&self) -> &[T] {
		// Checked in `open`.
		self.0.as_deref().map(bytemuck::cast_slice).unwrap_or(&[])
	}
}

/// Where one occurrence of a pattern lies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Occurrence {
	/// The record (an index into [`SpanIndex::records`]).
	pub record: u32,
	/// The segment of the record, counted over the whole index.
	pub segment: u32,
	/// Its token offset within the segment.
	pub offset: u32,
}

/// One version's records, searchable for any token sequence (see the module doc).
pub struct SpanIndex {
	dir: PathBuf,
	header: Header,
	text: Mapped,
	sa: Mapped,
	starts: Mapped,
	owners: Mapped,
	/// Tokens per record, counted on first use (retrieval's document lengths).
	lengths: std::sync::OnceLock<Vec<u32>>,
}

impl std::fmt::Debug for SpanIndex {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		f.debug_struct("SpanIndex")
			.field("dir", &self.dir)
			.field("tokens", &self.header.tokens)
			.field("records", &self.header.records.len())
			.finish()
	}
}

impl SpanIndex {
	/// Opens the index written in `dir`, mapping its arrays.
	pub fn open(dir: &Path) -> Result<Self, IndexError> {
		let corrupt = |why: String| IndexError::Corrupt { path: dir.to_path_buf(), why };
		if cfg!(target_endian = "big") {
			return Err(corrupt("span index files are little-endian; this host is not".into()));
		}
		let path = dir.join(HEADER);
		let bytes = std::fs::read(&path).map_err(io_err(&path))?;
		let header: Header =
			serde_json::from_slice(&bytes).map_err(|e| corrupt(format!("{HEADER}: {e}")))?;
		if header.format != FORMAT {
			return Err(corrupt(format!("format {} (this build reads {FORMAT})", header.format)));
		}
		if header.symbols > MAX_SYMBOLS as u64 {
			return Err(corrupt(format!("{} symbols", header.symbols)));
		}
		let index = SpanIndex {
			dir: dir.to_path_buf(),
			text: Mapped::open::<u16>(dir, TEXT, header.symbols)?,
			sa: Mapped::open::<i32>(dir, SA, header.symbols)?,
			starts: Mapped::open::<u32>(dir, STARTS, header.segments)?,
			owners: Mapped::open::<u32>(dir, OWNERS, header.segments)?,
			header,
			lengths: std::sync::OnceLock::new(),
		};
		let records = index.header.records.len() as u64;
		if let Some(o) = index.owners.slice::<u32>().iter().find(|&&o| u64::from(o) >= records) {
			return Err(corrupt(format!("a segment names record {o} of {records}")));
		}
		if index.starts.slice::<u32>().windows(2).any(|w| w[0] >= w[1]) {
			return Err(corrupt("segment starts are not increasing".into()));
		}
		Ok(index)
	}

	/// The directory it was opened from.
	pub fn dir(&self) -> &Path {
		&self.dir
	}

	/// The records it holds, in the order they were added.
	pub fn records(&self) -> &[RecordMeta] {
		&self.header.records
	}

	/// Tokens indexed (separators not counted).
	pub fn tokens(&self) -> u64 {
		self.header.tokens
	}

	/// Bytes of its files on disk (text, suffix array, segment tables; the header aside).
	pub fn bytes(&self) -> u64 {
		let sym = self.header.symbols;
		sym * 2 + sym * 4 + self.header.segments * 8
	}

	/// [`bytes`](Self::bytes) per indexed token.
	pub fn bytes_per_token(&self) -> f64 {
		if self.header.tokens == 0 {
			return 0.0;
		}
		self.bytes() as f64 / self.header.tokens as f64
	}

	fn text(&self) -> &[u16] {
		self.text.slice()
	}

	fn sa(&self) -> &[i32] {
		self.sa.slice()
	}

	/// The symbol `depth` places into the suffix of row `row`, or `None` past the text's end
	/// (which sorts first, as libsais sorts).
	fn key(&self, row: usize, depth: usize) -> Option<u16> {
		let start = usize::try_from(*self.sa().get(row)?).ok()?;
		self.text().get(start.checked_add(depth)?).copied()
	}

	/// The first row in `rows` whose symbol at `depth` is above `symbol` (`inclusive`) or at
	/// least `symbol` (not `inclusive`); the rows share their first `depth` symbols, so their
	/// symbols at `depth` are sorted.
	fn bound(&self, rows: &Range<usize>, depth: usize, symbol: u16, inclusive: bool) -> usize {
		let (mut lo, mut hi) = (rows.start, rows.end);
		while lo < hi {
			let mid = lo + (hi - lo) / 2;
			let before = match self.key(mid, depth) {
				None => true,
				Some(s) => s < symbol || (inclusive && s == symbol),
			};
			if before {
				lo = mid + 1;
			} else {
				hi = mid;
			}
		}
		lo
	}

	/// The rows whose suffixes start with `rows`' common prefix of length `depth` followed by
	/// `token`.
	fn narrow(&self, rows: &Range<usize>, depth: usize, token: u32) -> Range<usize> {
		if token > MAX_TOKEN_ID {
			return rows.start..rows.start;
		}
		let symbol = (token + 1) as u16;
		let lo = self.bound(rows, depth, symbol, false);
		let hi = self.bound(&(lo..rows.end), depth, symbol, true);
		lo..hi
	}

	/// The suffix-array rows of `pattern`'s occurrences (empty when it does not occur; all rows
	/// for an empty pattern).
	pub fn find(&self, pattern: &[u32]) -> Range<usize> {
		let mut rows = 0..self.sa().len();
		for (depth, &t) in pattern.iter().enumerate() {
			rows = self.narrow(&rows, depth, t);
			if rows.is_empty() {
				break;
			}
		}
		rows
	}

	/// The longest prefix of `query`, at most `max_len` tokens, that occurs in the index: its
	/// length and the rows of its occurrences (all rows for length 0).
	pub fn longest_prefix(&self, query: &[u32], max_len: usize) -> (usize, Range<usize>) {
		let mut rows = 0..self.sa().len();
		let mut len = 0;
		for (depth, &t) in query.iter().take(max_len).enumerate() {
			let next = self.narrow(&rows, depth, t);
			if next.is_empty() {
				break;
			}
			rows = next;
			len = depth + 1;
		}
		(len, rows)
	}

	/// Tokens of each record (separators not counted), in [`records`](Self::records)' order;
	/// counted from the segment table on first use, then kept.
	pub fn record_tokens(&self) -> &[u32] {
		self.lengths.get_or_init(|| {
			let starts: &[u32] = self.starts.slice();
			let owners: &[u32] = self.owners.slice();
			let end = u32::try_from(self.header.symbols).unwrap_or(u32::MAX);
			let mut lengths = vec![0u32; self.header.records.len()];
			for (i, (&start, &owner)) in starts.iter().zip(owners).enumerate() {
				// Each segment is followed by its separator.
				let next = starts.get(i + 1).copied().unwrap_or(end);
				let tokens = next.saturating_sub(start).saturating_sub(1);
				if let Some(l) = lengths.get_mut(owner as usize) {
					*l = l.saturating_add(tokens);
				}
			}
			lengths
		})
	}

	/// Where the occurrence at suffix-array row `row` lies, `None` for a row out of range.
	pub fn occurrence(&self, row: usize) -> Option<Occurrence> {
		let pos = u32::try_from(*self.sa().get(row)?).ok()?;
		let starts: &[u32] = self.starts.slice();
		let segment = starts.partition_point(|&s| s <= pos).checked_sub(1)?;
		let owners: &[u32] = self.owners.slice();
		Some(Occurrence {
			record: *owners.get(segment)?,
			segment: segment as u32,
			offset: pos - starts[segment],
		})
	}
}

#[cfg(test)]
pub(crate) mod tests {
	use super::*;

	/// Record `contribution` of datanet 0, contributed by account `[contributor; 32]`.
	pub(crate) fn meta(contribution: u32, contributor: u8) -> RecordMeta {
		RecordMeta {
			datanet: 0,
			version: 1,
			index: contribution,
			contribution,
			content_hash: [contribution as u8; 32],
			contributor: [contributor; 32],
		}
	}

	fn build(records: &[&[&[u32]]]) -> (tempfile::TempDir, SpanIndex) {
		let dir = tempfile::tempdir().unwrap();
		let mut b = SpanIndexBuilder::new();
		for (i, segments) in records.iter().enumerate() {
			b.add_record(meta(i as u32, i as u8), segments).unwrap();
		}
		let index = b.write(dir.path()).unwrap();
		(dir, index)
	}

	/// Every occurrence of `pattern`, by brute force: (record, segment, offset).
	fn brute(records: &[&[&[u32]]], pattern: &[u32]) -> Vec<(u32, u32, u32)> {
		let mut out = Vec::new();
		let mut segment = 0;
		for (r, segments) in records.iter().enumerate() {
			for s in segments.iter().filter(|s| !s.is_empty()) {
				for off in 0..s.len() {
					if s[off..].starts_with(pattern) && !pattern.is_empty() {
						out.push((r as u32, segment, off as u32));
					}
				}
				segment += 1;
			}
		}
		out.sort();
		out
	}

	fn found(index: &SpanIndex, pattern: &[u32]) -> Vec<(u32, u32, u32)> {
		let mut out: Vec<_> = index
			.find(pattern)
			.map(|row| {
				let o = index.occurrence(row).unwrap();
				(o.record, o.segment, o.offset)
			})
			.collect();
		out.sort();
		out
	}

	#[test]
	fn find_matches_brute_force_on_repeats_and_record_ends() {
		let records: &[&[&[u32]]] =
			&[&[&[5, 6, 7, 5, 6, 7, 5], &[9, 9, 9]], &[&[6, 7, 5], &[]], &[&[1, 2, 3, 5, 6]]];
		let (_d, index) = build(records);
		for pattern in
			[&[5u32, 6][..], &[5, 6, 7], &[7, 5], &[9, 9], &[9, 9, 9], &[5, 6, 7, 5, 6, 7, 5]]
		{
			assert_eq!(found(&index, pattern), brute(records, pattern), "{pattern:?}");
		}
		// A span across two records (or two segments) is never found: [5, 6] ends record 2, and
		// record 1's second segment is empty.
		assert!(index.find(&[7, 5, 9]).is_empty());
		assert!(index.find(&[6, 5, 6]).is_empty(), "the end of record 2 runs into nothing");
		assert!(index.find(&[9, 6, 7]).is_empty(), "record 0 does not run into record 1");
		assert_eq!(index.tokens(), 7 + 3 + 3 + 5);
	}

	#[test]
	fn longest_prefix_stops_at_the_first_mismatch_and_the_cap() {
		let (_d, index) = build(&[&[&[1, 2, 3, 4, 5]], &[&[1, 2, 9]]]);
		let (len, rows) = index.longest_prefix(&[1, 2, 3, 4, 8], 100);
		assert_eq!(len, 4);
		assert_eq!(rows.len(), 1);
		assert_eq!(index.longest_prefix(&[1, 2, 3, 4, 5, 6], 100).0, 5, "a span at a record's end");
		assert_eq!(index.longest_prefix(&[1, 2, 3, 4, 5], 3).0, 3);
		let (len, rows) = index.longest_prefix(&[1, 2], 100);
		assert_eq!((len, rows.len()), (2, 2));
		assert_eq!(index.longest_prefix(&[7], 100).0, 0);
		assert_eq!(index.longest_prefix(&[u32::MAX], 100).0, 0, "an id no index holds");
	}

	#[test]
	fn reopened_index_answers_the_same() {
		let records: &[&[&[u32]]] = &[&[&[3, 1, 4, 1, 5, 9, 2, 6]], &[&[2, 7, 1, 8, 2, 8]]];
		let (dir, index) = build(records);
		let before = found(&index, &[1]);
		drop(index);
		let index = SpanIndex::open(dir.path()).unwrap();
		assert_eq!(found(&index, &[1]), before);
		assert_eq!(found(&index, &[8, 2, 8]), brute(records, &[8, 2, 8]));
		assert_eq!(index.records()[1], meta(1, 1));
		assert!((index.bytes_per_token() - (6.0 * 16.0 + 16.0) / 14.0).abs() < 1e-9);
	}

	#[test]
	fn bad_input_and_bad_files_are_named_errors() {
		let mut b = SpanIndexBuilder::new();
		assert!(matches!(
			b.add_record(meta(0, 0), &[&[1, 70_000]]),
			Err(IndexError::TokenOutOfRange(70_000))
		));
		let dir = tempfile::tempdir().unwrap();
		let empty = SpanIndexBuilder::new().write(dir.path()).unwrap();
		assert!(empty.find(&[1]).is_empty());
		assert_eq!(empty.longest_prefix(&[1], 4).0, 0);

		let (dir, index) = build(&[&[&[1, 2, 3]]]);
		drop(index);
		std::fs::write(dir.path().join(SA), [0u8; 6]).unwrap();
		let err = SpanIndex::open(dir.path()).unwrap_err();
		assert!(matches!(err, IndexError::Corrupt { .. }), "{err}");
		assert!(err.to_string().contains("delete the directory"), "{err}");
		std::fs::remove_file(dir.path().join(HEADER)).unwrap();
		assert!(matches!(SpanIndex::open(dir.path()), Err(IndexError::Io { .. })));
	}

	proptest::proptest! {
		#![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
		/// On random small texts over a small alphabet (many repeats), every pattern's
		/// occurrences are exactly the brute-force ones.
		#[test]
		fn find_equals_brute_force(
			records in proptest::collection::vec(
				proptest::collection::vec(proptest::collection::vec(0u32..4, 0..12), 1..3), 1..6),
			pattern in proptest::collection::vec(0u32..4, 1..5),
		) {
			let refs: Vec<Vec<&[u32]>> =
				records.iter().map(|r| r.iter().map(|s| s.as_slice()).collect()).collect();
			let refs: Vec<&[&[u32]]> = refs.iter().map(|r| r.as_slice()).collect();
			let (_d, index) = build(&refs);
			proptest::prop_assert_eq!(found(&index, &pattern), brute(&refs, &pattern));
		}
	}
}
