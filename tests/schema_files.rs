//! `schemas/` at the workspace root must equal what the `schema` module renders for the default
//! table/mapping names. Run with `UPDATE_SCHEMAS=1` to rewrite them after changing `COLUMNS`.

use std::path::PathBuf;

use hubble_ingest::record::schema::{self, DEFAULT_MAPPING, DEFAULT_TABLE};

fn expected() -> Vec<(&'static str, String)> {
    let schema_json = serde_json::to_string_pretty(&schema::json_schema()).unwrap() + "\n";
    vec![
        ("table.kql", schema::create_table(DEFAULT_TABLE) + "\n"),
        (
            "mapping.kql",
            schema::create_mapping(DEFAULT_TABLE, DEFAULT_MAPPING) + "\n",
        ),
        ("mapping.json", schema::mapping_json() + "\n"),
        (
            "streaming-policy.kql",
            schema::streaming_policy(DEFAULT_TABLE) + "\n",
        ),
        ("dedup.kql", schema::dedup_view(DEFAULT_TABLE) + "\n"),
        ("record.schema.json", schema_json),
        (
            "all.kql",
            schema::render_schema(DEFAULT_TABLE, DEFAULT_MAPPING),
        ),
    ]
}

#[test]
fn schema_files_match_the_code() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let update = std::env::var_os("UPDATE_SCHEMAS").is_some();
    if update {
        std::fs::create_dir_all(&dir).unwrap();
    }
    for (name, content) in expected() {
        let path = dir.join(name);
        if update {
            std::fs::write(&path, &content).unwrap();
        }
        let on_disk = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_SCHEMAS=1)", path.display()));
        assert_eq!(
            on_disk,
            content,
            "{} is stale: run with UPDATE_SCHEMAS=1",
            path.display()
        );
    }
}

#[test]
fn mapping_file_names_exactly_the_columns() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let Ok(text) = std::fs::read_to_string(dir.join("mapping.json")) else {
        return; // the other test reports the missing file
    };
    let mapping: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let names: Vec<&str> = mapping
        .iter()
        .map(|m| m["column"].as_str().unwrap())
        .collect();
    let columns: Vec<&str> = schema::Column::ALL.iter().map(|c| c.name()).collect();
    assert_eq!(names, columns);
}
