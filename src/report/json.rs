//! `--report-format json`: the report model ([`super::ReportData`]) as pretty-printed JSON, for scripts. It holds
//! exactly the numbers the HTML page shows.

use super::ReportData;

/// The report as JSON text (with a trailing newline).
pub fn render(data: &ReportData) -> String {
    let mut s = serde_json::to_string_pretty(data).unwrap_or_else(|e| {
        // Serialising plain structs of strings and numbers cannot fail; say so if it ever does.
        format!("{{\"error\":{}}}", serde_json::Value::from(e.to_string()))
    });
    s.push('\n');
    s
}
