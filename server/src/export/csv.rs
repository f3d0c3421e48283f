//! Observations as CSV (RFC 4180: CRLF line ends, fields quoted when they
//! hold a comma, quote or line break): one row per value, so a blood pressure
//! reading is two or three rows that share the observation id.

use chrono::{DateTime, SecondsFormat, Utc};

use crate::entities::lab_result;
use crate::observations::catalogue;
use crate::observations::model::Observation;

pub const HEADER: &[&str] = &[
    "observation_id",
    "category",
    "code_system",
    "code",
    "name",
    "component",
    "value",
    "unit",
    "effective",
    "effective_end",
    "source",
];

/// One field, quoted when it has to be.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\r', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
}

/// One CSV record with its CRLF.
pub fn record<S: AsRef<str>>(fields: &[S]) -> String {
    let mut line = fields.iter().map(|f| field(f.as_ref())).collect::<Vec<_>>().join(",");
    line.push_str("\r\n");
    line
}

fn num(v: f64) -> String {
    v.to_string()
}

/// The rows of an app observation.
pub fn observation_rows(o: &Observation) -> Vec<String> {
    let spec = catalogue::kind(&o.kind);
    let (system, code, name) = match spec {
        Some(k) => (super::fhir::LOINC, k.loinc, k.display.en),
        None => ("", o.kind.as_str(), o.kind.as_str()),
    };
    let (start, end) = match (o.effective_at, o.effective_start, o.effective_end) {
        (Some(at), _, _) => (at.to_rfc3339(), String::new()),
        (None, Some(s), e) => (s.to_rfc3339(), e.map(|e| e.to_rfc3339()).unwrap_or_default()),
        _ => (String::new(), String::new()),
    };
    let source = o
        .source
        .device
        .clone()
        .or_else(|| o.source.app.clone())
        .unwrap_or_else(|| o.source.method.as_str().to_owned());
    let id = o.id.to_string();
    let row = |component: &str, value: &str, unit: &str| {
        record(&[&id, &o.category, system, code, name, component, value, unit, &start, &end, &source])
    };
    let mut rows = Vec::new();
    if let Some(v) = o.value {
        rows.push(row("", &num(v), o.unit.as_deref().unwrap_or_default()));
    }
    if let Some(c) = &o.code {
        rows.push(row("", c, ""));
    }
    if let Some(components) = &o.components {
        let names: Vec<&str> = match spec {
            Some(k) => k.components.iter().map(|c| c.name).collect(),
            None => components.keys().map(String::as_str).collect(),
        };
        for n in names {
            if let Some(q) = components.get(n) {
                rows.push(row(n, &num(q.value), &q.unit));
            }
        }
    }
    if rows.is_empty()
        && let Some(t) = &o.text
    {
        rows.push(row("", t, ""));
    }
    rows
}

fn utc(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)).unwrap_or_default()
}

/// The row of a lab result: JLAC10 when sent, the facility's code otherwise.
pub fn lab_row(r: &lab_result::Model) -> String {
    let (system, code) = match r.jlac10.as_deref().filter(|j| !j.is_empty()) {
        Some(j) => (super::fhir::JLAC10, j),
        None => ("", r.code.as_str()),
    };
    let id = r.id.to_string();
    let org = r.org_id.to_string();
    record(&[
        id.as_str(),
        "labs",
        system,
        code,
        &r.name,
        "",
        &r.value,
        r.unit.as_deref().unwrap_or_default(),
        &utc(r.observed_at),
        "",
        &org,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_needed() {
        assert_eq!(record(&["a", "b,c", "say \"hi\"", "x\ny"]), "a,\"b,c\",\"say \"\"hi\"\"\",\"x\ny\"\r\n");
    }
}
