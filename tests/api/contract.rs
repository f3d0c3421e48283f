//! Replays every exchange in `mobile-contract/*.json` (see its README).

use std::collections::HashMap;

use phr_tests::{TestApp, both_databases};
use serde_json::Value;

both_databases!(mobile_contract_fixtures_replay);

async fn mobile_contract_fixtures_replay(app: TestApp) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../mobile-contract");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures in {dir}");
    for file in files {
        let fixture: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let mut vars = HashMap::new();
        for (i, step) in fixture["steps"].as_array().unwrap().iter().enumerate() {
            let at = format!("{} step {i} ({})", file.display(), step["name"].as_str().unwrap_or(""));
            replay(&app, step, &mut vars, &at).await;
        }
    }
}

async fn replay(app: &TestApp, step: &Value, vars: &mut HashMap<String, Value>, at: &str) {
    // Set-up an operator does outside the apps (no request of the apps' own).
    if let Some(op) = step.get("operator") {
        let account = substitute(&op["makeAdmin"], vars);
        app.make_admin(account.as_str().unwrap_or_else(|| panic!("{at}: operator.makeAdmin"))).await;
        return;
    }
    let req = &step["request"];
    let method = reqwest::Method::from_bytes(req["method"].as_str().unwrap().as_bytes()).unwrap();
    let path = substitute_str(req["path"].as_str().unwrap(), vars);
    let mut builder = app.client.request(method, app.url(&path));
    if let Some(b) = req.get("bearer") {
        builder = builder.bearer_auth(substitute(b, vars).as_str().unwrap().to_owned());
    }
    if let Some(j) = req.get("json") {
        builder = builder.json(&substitute(j, vars));
    }
    if let Some(f) = req.get("form") {
        let form: Vec<(String, String)> = substitute(f, vars)
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        builder = builder.form(&form);
    }
    let res = builder.send().await.unwrap();
    let expected = &step["response"];
    assert_eq!(res.status().as_u16() as u64, expected["status"].as_u64().unwrap(), "{at}: status");
    if let Some(headers) = expected.get("headers").and_then(Value::as_object) {
        for (name, value) in headers {
            let got = res.headers().get(name.as_str()).map(|v| v.to_str().unwrap().to_owned());
            assert_eq!(got.as_deref(), value.as_str(), "{at}: header {name}");
        }
    }
    let text = res.text().await.unwrap();
    if let Some(want) = expected.get("json") {
        let got: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{at}: not JSON: {text}"));
        matches(want, &got, vars, &format!("{at}: $"));
    }
}

fn placeholder(v: &Value) -> Option<&str> {
    v.as_str()?.strip_prefix("{{")?.strip_suffix("}}")
}

fn matches(want: &Value, got: &Value, vars: &mut HashMap<String, Value>, at: &str) {
    if let Some(name) = placeholder(want) {
        if name == "*" {
            return;
        }
        match vars.get(name) {
            Some(bound) => assert_eq!(bound, got, "{at}: {{{{{name}}}}} differs from its first value"),
            None => {
                vars.insert(name.to_owned(), got.clone());
            }
        }
        return;
    }
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                let gv = g.get(k).unwrap_or_else(|| panic!("{at}.{k}: missing in {got}"));
                matches(wv, gv, vars, &format!("{at}.{k}"));
            }
        }
        (Value::Array(w), Value::Array(g)) => {
            assert_eq!(w.len(), g.len(), "{at}: array length in {got}");
            for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                matches(wv, gv, vars, &format!("{at}[{i}]"));
            }
        }
        _ => assert_eq!(want, got, "{at}"),
    }
}

fn substitute(v: &Value, vars: &HashMap<String, Value>) -> Value {
    if let Some(name) = placeholder(v) {
        return vars
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("{{{{{name}}}}} used before it was captured"));
    }
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), substitute(v, vars))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(|v| substitute(v, vars)).collect()),
        Value::String(s) => Value::String(substitute_str(s, vars)),
        other => other.clone(),
    }
}

fn substitute_str(s: &str, vars: &HashMap<String, Value>) -> String {
    let mut out = s.to_owned();
    for (name, value) in vars {
        if let Some(v) = value.as_str() {
            out = out.replace(&format!("{{{{{name}}}}}"), v);
        }
    }
    out
}
