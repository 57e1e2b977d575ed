//! The OpenAPI 3.1 document, generated from the route table so it lists exactly the
//! routes the router has.

use serde_json::{json, Map, Value};

use crate::routes::{path_params, Route, ROUTES};

fn operation(r: &Route) -> Value {
    let mut params: Vec<Value> = path_params(r.path)
        .into_iter()
        .map(|p| json!({ "name": p, "in": "path", "required": true, "schema": { "type": "string" } }))
        .collect();
    params.extend(r.query.iter().map(
        |q| json!({ "name": q, "in": "query", "required": false, "schema": { "type": "string" } }),
    ));
    params.extend(r.headers.iter().map(
        |h| json!({ "name": h, "in": "header", "required": true, "schema": { "type": "string" } }),
    ));
    let mut op = Map::new();
    op.insert("summary".into(), json!(r.summary));
    op.insert("operationId".into(), json!(format!("{:?}", r.endpoint)));
    if !params.is_empty() {
        op.insert("parameters".into(), json!(params));
    }
    if !r.body.is_empty() {
        let fields: Vec<(&str, &str)> = r
            .body
            .iter()
            .map(|f| f.split_once(':').unwrap_or((f, "string")))
            .collect();
        let props: Map<String, Value> = fields
            .iter()
            .map(|(name, ty)| ((*name).to_owned(), json!({ "type": ty })))
            .collect();
        // Typed fields (settings) are optional: left out, they keep their value.
        let required: Vec<&str> = fields
            .iter()
            .filter(|(_, ty)| *ty == "string")
            .map(|(name, _)| *name)
            .collect();
        op.insert(
            "requestBody".into(),
            json!({ "required": true, "content": { "application/json": { "schema": {
                "type": "object", "required": required, "properties": props,
            }}}}),
        );
    }
    if let Some(media) = r.raw_body {
        op.insert(
            "requestBody".into(),
            json!({ "required": true, "content": { media: { "schema": {
                "type": "string", "format": "binary",
            }}}}),
        );
    }
    let mut responses = Map::new();
    responses.insert(r.ok.to_string(), json!({ "description": "success" }));
    responses.insert("400".into(), json!({ "description": "invalid input" }));
    if r.public {
        op.insert("security".into(), json!([]));
    } else {
        responses.insert(
            "401".into(),
            json!({ "description": "not logged in, or an invalid token" }),
        );
        responses.insert(
            "403".into(),
            json!({ "description": "missing CSRF token on a cookie-authenticated change" }),
        );
        responses.insert(
            "404".into(),
            json!({ "description": "not found, or on a case the caller is not a member of" }),
        );
    }
    op.insert("responses".into(), Value::Object(responses));
    Value::Object(op)
}

/// The document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for r in ROUTES.iter().filter(|r| !r.page) {
        let entry = paths.entry(r.path).or_insert_with(|| json!({}));
        if let Value::Object(m) = entry {
            m.insert(r.method.as_str().to_ascii_lowercase(), operation(r));
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Athar API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Evidence archive API. Authenticate with the session cookie from \
                POST /api/login (state-changing requests then need the X-CSRF-Token header) \
                or with Authorization: Bearer <token>.",
        },
        "paths": paths,
        "components": { "securitySchemes": {
            "bearer": { "type": "http", "scheme": "bearer" },
            "session": { "type": "apiKey", "in": "cookie", "name": crate::auth::SESSION_COOKIE },
        }},
        "security": [ { "bearer": [] }, { "session": [] } ],
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn document_lists_exactly_the_routes() {
        let doc = document();
        let mut listed = BTreeSet::new();
        for (path, ops) in doc["paths"].as_object().unwrap() {
            for method in ops.as_object().unwrap().keys() {
                listed.insert((method.to_ascii_uppercase(), path.clone()));
            }
        }
        let routes: BTreeSet<_> = ROUTES
            .iter()
            .filter(|r| !r.page)
            .map(|r| (r.method.as_str().to_owned(), r.path.to_owned()))
            .collect();
        assert_eq!(listed, routes);
        let all: std::collections::HashSet<_> = ROUTES.iter().map(|r| (r.method, r.path)).collect();
        assert_eq!(all.len(), ROUTES.len(), "no route twice");
    }

    #[test]
    fn only_login_health_and_openapi_are_public() {
        let public: BTreeSet<_> = ROUTES
            .iter()
            .filter(|r| r.public && !r.page)
            .map(|r| r.path)
            .collect();
        assert_eq!(
            public,
            BTreeSet::from(["/api/login", "/health", "/api/openapi.json"])
        );
        // Pages: only the log-in page and the static assets it needs.
        let public_pages: BTreeSet<_> = ROUTES
            .iter()
            .filter(|r| r.public && r.page)
            .map(|r| r.path)
            .collect();
        assert_eq!(public_pages, BTreeSet::from(["/login", "/assets/{name}"]));
        for r in ROUTES.iter().filter(|r| r.page) {
            assert_eq!(r.method, crate::routes::Method::Get, "{}", r.path);
            assert!(!r.path.starts_with("/api/"), "{}", r.path);
        }
    }
}
