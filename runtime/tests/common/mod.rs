//! Shared set-up for the runtime tests: genesis state built from the runtime's own presets.

use lineage_runtime::{genesis_config_presets::get_preset, RuntimeGenesisConfig, System};
use polkadot_sdk::{
	sp_genesis_builder::PresetId, sp_io::TestExternalities, sp_runtime::BuildStorage,
};

/// Merges a preset's JSON patch into the runtime's default genesis config, as the node does.
fn merge(base: &mut serde_json::Value, patch: serde_json::Value) {
	match (base, patch) {
		(serde_json::Value::Object(base), serde_json::Value::Object(patch)) => {
			for (k, v) in patch {
				merge(base.entry(k).or_insert(serde_json::Value::Null), v);
			}
		},
		(base, patch) => *base = patch,
	}
}

/// The state a chain spec made from `preset` starts with, at block 1.
pub fn genesis(preset: &str) -> TestExternalities {
	let patch: serde_json::Value = serde_json::from_slice(
		&get_preset(&PresetId::from(preset)).unwrap_or_else(|| panic!("no preset {preset}")),
	)
	.expect("presets are JSON");
	let mut config = serde_json::to_value(RuntimeGenesisConfig::default()).unwrap();
	merge(&mut config, patch);
	let config: RuntimeGenesisConfig =
		serde_json::from_value(config).expect("preset fits the config");
	let mut ext: TestExternalities = config.build_storage().expect("genesis builds").into();
	ext.execute_with(|| System::set_block_number(1));
	ext
}
