//! The output record: [`schema`] names every column once (name, KQL type, JSON path); [`encode`] writes a kept
//! flow as one NDJSON line using only those columns. The `schema` command, the ADX JSON ingestion mapping and the
//! record's JSON Schema are all rendered from [`schema::Column`]. See ARCHITECTURE.md ("record").

pub mod encode;
pub mod schema;
