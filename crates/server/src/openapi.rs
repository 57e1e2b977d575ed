//! The OpenAPI 3.1 document, generated from the route table so it lists exactly the
//! routes the router has. What the table does not say is derived by rule here, never
//! written per route: the schema of a parameter or body field from its name (and, for the
//! path parameter `id`, from which resource the path names), and the statuses a route can
//! answer from its shape (parameters, body, method, whether it is public) plus the
//! route's own `statuses`.

use athar_core::records::RecordKind;
use serde_json::{json, Map, Value};

use crate::routes::{path_params, Endpoint, Method, Route, ROUTES};

/// An item or record id: 26 characters of Crockford's base 32, upper case (`ItemId::parse`).
pub const ID_PATTERN: &str = "^[0-9A-HJKMNP-TV-Z]{26}$";
/// An upload id: 32 lower-case hex digits (`athar_store::uploads::is_upload_id`).
pub const UPLOAD_ID_PATTERN: &str = "^[0-9a-f]{32}$";
/// A session's public id: 32 lower-case hex digits (`factor.rs`).
pub const SESSION_ID_PATTERN: &str = "^[0-9a-f]{32}$";
/// Text on one line: no control characters (Rust's `char::is_control`: C0, DEL and C1).
const ONE_LINE: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$";
/// A search date: a year, a month or a day (days 01 to 28 are valid in every month; the
/// server also takes the other days and `FROM/TO` intervals, see `docs/records.md`), or
/// nothing (no date filter).
const DATE_PATTERN: &str = "^\\s*([0-9]{4}(-(0[1-9]|1[0-2])(-(0[1-9]|1[0-9]|2[0-8]))?)?)?\\s*$";
/// The review image variants (`views.rs`).
const VARIANTS: [&str; 3] = ["blurred", "greyscale", "clear"];

fn record_kinds() -> Vec<&'static str> {
    RecordKind::ALL.iter().map(|k| k.as_str()).collect()
}

/// The JSON Schema of path, query or header parameter `name` of route `r`.
fn param_schema(r: &Route, name: &str) -> Value {
    match name {
        // Token ids are positive integers; upload ids are hex; the rest are ItemIds.
        "id" if r.path.starts_with("/api/tokens/") => {
            json!({ "type": "integer", "minimum": 1, "maximum": i64::MAX })
        }
        "id" if r.path.starts_with("/api/uploads/") => {
            json!({ "type": "string", "pattern": UPLOAD_ID_PATTERN })
        }
        "id" if r.path.starts_with("/api/me/sessions/") => {
            json!({ "type": "string", "pattern": SESSION_ID_PATTERN })
        }
        // A user name (`athar user add`): 1 to 100 characters, one line.
        "name" | "user" => {
            json!({ "type": "string", "minLength": 1, "maxLength": 100, "pattern": ONE_LINE })
        }
        "id" => json!({ "type": "string", "pattern": ID_PATTERN }),
        "seq" => json!({ "type": "integer", "minimum": 1, "maximum": i64::MAX }),
        "variant" => json!({ "type": "string", "enum": VARIANTS }),
        "purpose" => json!({ "type": "string", "maxLength": 500, "pattern": ONE_LINE }),
        "min_share" => json!({ "type": "number", "minimum": 0, "maximum": 1, "default": 0.2 }),
        "limit" if r.path.ends_with("/sign-ins") => json!({
            "type": "integer", "minimum": 0, "maximum": usize::MAX,
            "default": crate::factor::SIGN_INS_DEFAULT,
            "description": format!(
                "records wanted, 1 to {} (values outside are taken as the nearest)",
                crate::factor::SIGN_INS_MAX
            ),
        }),
        "limit" if r.path.ends_with("/review") => json!({
            "type": "integer", "minimum": 0, "maximum": usize::MAX, "default": 50,
            "description": "pairs wanted, at most 500 (more are taken as 500)",
        }),
        "offset" => json!({ "type": "integer", "minimum": 0, "maximum": usize::MAX, "default": 0 }),
        "linked" => json!({
            "type": "boolean", "enum": [true, false], "default": false,
            "description": "only persons found in more than one record",
        }),
        // Any count is taken: below 1 as 1, above 100 as 100.
        "limit" => json!({
            "type": "integer", "minimum": 0, "maximum": usize::MAX, "default": 20,
            "description": "hits wanted, 1 to 100 (values outside are taken as the nearest)",
        }),
        "q" => json!({ "type": "string", "maxLength": 1000 }),
        "date" => json!({ "type": "string", "pattern": DATE_PATTERN }),
        "kind" if r.endpoint == Endpoint::Search => {
            let mut kinds = vec!["item"];
            kinds.extend(record_kinds());
            json!({ "type": "string", "enum": kinds })
        }
        "kind" => json!({ "type": "string", "enum": record_kinds() }),
        "to" | "description" => json!({ "type": "string", "maxLength": 1000, "pattern": ONE_LINE }),
        "Tus-Resumable" => json!({ "type": "string", "enum": [crate::uploads::TUS_VERSION] }),
        "Upload-Length" | "Upload-Offset" => {
            json!({ "type": "integer", "minimum": 0, "maximum": u64::MAX })
        }
        _ => json!({ "type": "string" }),
    }
}

/// The JSON Schema of request body field `name` of JSON Schema type `ty`. Typed fields are
/// optional (`Option` in the handler's struct), so they may also be null.
fn field_schema(name: &str, ty: &str) -> Value {
    match (name, ty) {
        ("expires_in_days", "integer") => json!({
            "type": ["integer", "null"], "minimum": 1, "maximum": crate::session::TOKEN_MAX_DAYS,
        }),
        // An API token's name: trimmed, 1 to 100 characters, one line.
        ("name", "string") => json!({
            "type": "string", "minLength": 1, "maxLength": 100,
            "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$",
        }),
        ("kind", "string") => json!({ "type": "string", "enum": record_kinds() }),
        // The addresses to capture: http(s), one or more.
        ("urls", "array") => json!({
            "type": "array", "minItems": 1, "maxItems": crate::captures::MAX_URLS,
            "items": { "type": "string", "maxLength": 8192, "pattern": "^\\s*https?://" },
        }),
        // A second-factor code: six digits, or a recovery code (`xxxx-xxxx-xxxx`).
        ("code", "string") => json!({ "type": "string", "maxLength": 100 }),
        ("code", "string?") => json!({ "type": ["string", "null"], "maxLength": 100 }),
        // The web app's language: English, Arabic, or "" for the browser's.
        ("lang", "string?") => json!({
            "type": ["string", "null"],
            "enum": athar_core::accounts::Language::CODES.iter().map(|c| json!(c)).chain([Value::Null]).collect::<Vec<_>>(),
        }),
        (_, "string") => json!({ "type": "string" }),
        (_, "string?") => json!({ "type": ["string", "null"] }),
        _ => json!({ "type": [ty, "null"] }),
    }
}

/// Bodies read into a struct that refuses fields it does not know.
fn closed_body(r: &Route) -> bool {
    r.endpoint == Endpoint::SetSettings
}

fn state_changing(m: Method) -> bool {
    !matches!(m, Method::Get | Method::Head | Method::Options)
}

/// Every status route `r` can answer, ascending: its own (`ok`, `statuses`) and those its
/// shape implies.
pub fn statuses(r: &Route) -> Vec<u16> {
    let params = !path_params(r.path).is_empty();
    let json_body = !r.body.is_empty();
    let input = params || !r.query.is_empty() || json_body || !r.headers.is_empty();
    let mut out = vec![r.ok];
    out.extend_from_slice(r.statuses);
    if input || r.raw_body.is_some() {
        out.push(400);
    }
    if !r.public {
        out.push(401);
        // Cookie-authenticated changes without the CSRF token and role checks (on
        // state-changing routes); a caller who must set up a second factor first (on
        // every route but those that set it up).
        if state_changing(r.method) || !r.enrolling {
            out.push(403);
        }
    }
    if params || r.query.contains(&"case") {
        out.push(404);
    }
    if json_body || r.raw_body.is_some() {
        out.push(413);
    }
    if json_body {
        // axum's JSON extractor: no `Content-Type: application/json`, or a body of the
        // wrong shape.
        out.extend([415, 422]);
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn describe(code: u16) -> &'static str {
    match code {
        200 => "success",
        201 => "created",
        202 => "accepted: queued, done in the background",
        204 => "success, no content",
        206 => "the requested byte range",
        400 => "invalid input",
        401 => "not logged in, or an invalid token (log-in: wrong user name or password)",
        403 => "missing CSRF token on a cookie-authenticated change, the caller's role may not do this, \
            a wrong password or code where one is asked, or the caller must set up a second factor \
            first (code second_factor_enrolment_required)",
        404 => "not found, or on a case the caller is not a member of",
        409 => "conflict with the current state (not logged yet, still referred to, another offset, a second factor already set up or not)",
        412 => "Tus-Resumable: 1.0.0 required",
        413 => "the request body is too large",
        415 => "unsupported Content-Type",
        416 => "range not satisfiable",
        422 => "the JSON body does not have the expected fields",
        423 => "another request is writing to this upload; retry shortly",
        429 => "too many failed log-ins or wrong codes; wait (Retry-After)",
        501 => "not available on this server (no similarity index, no web capture)",
        _ => "see the summary",
    }
}

fn response(r: &Route, code: u16) -> Value {
    // Every error is JSON (the server rewrites its extractors' plain-text answers).
    let error = json!({ "schema": { "$ref": "#/components/schemas/Error" } });
    let content = match code {
        200..=299 if r.produces.is_empty() || code == 204 => None,
        200..=299 if r.produces == "application/json" => Some(json!({ r.produces: {} })),
        200..=299 => Some(json!({ r.produces: { "schema": { "type": "string" } } })),
        _ => Some(json!({ "application/json": error })),
    };
    let mut res = json!({ "description": describe(code) });
    if let Some(c) = content {
        res["content"] = c;
    }
    res
}

fn operation(r: &Route) -> Value {
    let mut params: Vec<Value> = path_params(r.path)
        .into_iter()
        .map(|p| json!({ "name": p, "in": "path", "required": true, "schema": param_schema(r, p) }))
        .collect();
    params.extend(r.query.iter().map(
        |q| json!({ "name": q, "in": "query", "required": false, "schema": param_schema(r, q) }),
    ));
    params.extend(r.headers.iter().map(
        |h| json!({ "name": h, "in": "header", "required": true, "schema": param_schema(r, h) }),
    ));
    let mut op = Map::new();
    op.insert("summary".into(), json!(r.summary));
    op.insert("operationId".into(), json!(format!("{:?}", r.endpoint)));
    if !params.is_empty() {
        op.insert("parameters".into(), json!(params));
    }
    if !r.body.is_empty() {
        // `name` (a string), `name?` (an optional string) or `name:type`.
        let fields: Vec<(&str, &str)> = r
            .body
            .iter()
            .map(|f| match f.strip_suffix('?') {
                Some(name) => (name, "string?"),
                None => f.split_once(':').unwrap_or((f, "string")),
            })
            .collect();
        let props: Map<String, Value> = fields
            .iter()
            .map(|(name, ty)| ((*name).to_owned(), field_schema(name, ty)))
            .collect();
        // Typed fields (settings) are optional: left out, they keep their value; a list
        // (what a request acts on) is required.
        let required: Vec<&str> = fields
            .iter()
            .filter(|(_, ty)| *ty == "string" || *ty == "array")
            .map(|(name, _)| *name)
            .collect();
        let mut schema = json!({ "type": "object", "required": required, "properties": props });
        if closed_body(r) {
            schema["additionalProperties"] = json!(false);
        }
        op.insert(
            "requestBody".into(),
            json!({ "required": true, "content": { "application/json": { "schema": schema } } }),
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
    let responses: Map<String, Value> = statuses(r)
        .into_iter()
        .map(|code| (code.to_string(), response(r, code)))
        .collect();
    if r.public {
        op.insert("security".into(), json!([]));
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
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer" },
                "session": { "type": "apiKey", "in": "cookie", "name": crate::auth::SESSION_COOKIE },
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": { "type": "string" },
                        "code": {
                            "type": "string",
                            "description": "why, where a client acts on it: second_factor_enrolment_required, second_factor_required, bad_code, bad_credentials",
                        },
                    },
                },
            },
        },
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
    fn statuses_follow_the_routes_shape() {
        let doc = document();
        for r in ROUTES.iter().filter(|r| !r.page) {
            let op = &doc["paths"][r.path][r.method.as_str().to_ascii_lowercase()];
            let listed: Vec<u16> = op["responses"]
                .as_object()
                .unwrap()
                .keys()
                .map(|k| k.parse().unwrap())
                .collect();
            let what = format!("{} {}", r.method.as_str(), r.path);
            assert_eq!(listed, statuses(r), "{what}");
            assert!(listed.contains(&r.ok), "{what}");
            assert!(r.statuses.iter().all(|s| listed.contains(s)), "{what}");
            assert_eq!(
                listed.contains(&401),
                !r.public || r.endpoint == Endpoint::Login,
                "{what}"
            );
            if !r.public && state_changing(r.method) {
                assert!(listed.contains(&403), "{what}: CSRF");
            }
            if !path_params(r.path).is_empty() {
                assert!(listed.contains(&400) && listed.contains(&404), "{what}");
            }
            if !r.body.is_empty() || r.raw_body.is_some() {
                assert!(listed.contains(&413), "{what}");
            }
            for (code, res) in op["responses"].as_object().unwrap() {
                let content = res["content"].as_object();
                if code.starts_with('2') {
                    let empty = r.produces.is_empty() || code == "204";
                    assert_eq!(content.is_none(), empty, "{what} {code}");
                } else {
                    assert!(
                        content.unwrap().contains_key("application/json"),
                        "{what} {code}"
                    );
                }
            }
        }
    }

    #[test]
    fn parameters_have_their_patterns() {
        let doc = document();
        for r in ROUTES.iter().filter(|r| !r.page) {
            let op = &doc["paths"][r.path][r.method.as_str().to_ascii_lowercase()];
            for p in op["parameters"].as_array().into_iter().flatten() {
                let (name, schema) = (p["name"].as_str().unwrap(), &p["schema"]);
                let constrained = ["pattern", "enum", "maximum", "maxLength"]
                    .iter()
                    .any(|k| schema.get(k).is_some());
                // Free text: case names, search filters, the tus metadata (base64 pairs).
                let free = [
                    "case",
                    "place",
                    "violation",
                    "verification",
                    "Upload-Metadata",
                ];
                assert!(
                    constrained || free.contains(&name),
                    "{} {} parameter {name}: {schema}",
                    r.method.as_str(),
                    r.path
                );
            }
        }
        let item = &doc["paths"]["/api/items/{id}"]["get"]["parameters"][0]["schema"];
        assert_eq!(item["pattern"], ID_PATTERN);
        let upload = &doc["paths"]["/api/uploads/{id}"]["get"]["parameters"][0]["schema"];
        assert_eq!(upload["pattern"], UPLOAD_ID_PATTERN);
        let token = &doc["paths"]["/api/tokens/{id}"]["delete"]["parameters"][0]["schema"];
        assert_eq!(token["type"], "integer");
    }

    /// The characters of a regular expression's one bracket class (`[0-9A-H...]`).
    fn class_chars(pattern: &str) -> Vec<char> {
        let inner = &pattern[pattern.find('[').unwrap() + 1..pattern.find(']').unwrap()];
        let c: Vec<char> = inner.chars().collect();
        let mut out = Vec::new();
        let mut i = 0;
        while i < c.len() {
            if i + 2 < c.len() && c[i + 1] == '-' {
                out.extend(c[i]..=c[i + 2]);
                i += 3;
            } else {
                out.push(c[i]);
                i += 1;
            }
        }
        out
    }

    #[test]
    fn id_pattern_is_item_ids_alphabet() {
        assert!(ID_PATTERN.ends_with("]{26}$"));
        let class = class_chars(ID_PATTERN);
        for b in 0u8..128 {
            let c = char::from(b);
            let id = c.to_string().repeat(26);
            assert_eq!(
                athar_core::ItemId::parse(&id).is_some(),
                class.contains(&c),
                "{c:?}"
            );
        }
        assert!(athar_core::ItemId::parse(&"0".repeat(25)).is_none());
        for k in record_kinds() {
            assert_eq!(RecordKind::parse(k).unwrap().as_str(), k);
        }
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
        assert_eq!(public_pages, BTreeSet::from(["/login", "/assets/{*path}"]));
        for r in ROUTES.iter().filter(|r| r.page) {
            assert_eq!(r.method, crate::routes::Method::Get, "{}", r.path);
            assert!(!r.path.starts_with("/api/"), "{}", r.path);
        }
    }
}
