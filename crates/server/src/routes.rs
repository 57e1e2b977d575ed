//! The route table: the one list of every route the server has. The router is built from
//! it (see [`crate::router`]), the OpenAPI document describes it, and the tests enumerate
//! it, so none of them can drift from the others.

/// An HTTP method the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
}

impl Method {
    /// The method's name, upper case (`GET`).
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
        }
    }
}

/// What a route does; the router maps each to its handler with an exhaustive `match`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Health,
    OpenApi,
    Login,
    Logout,
    CreateToken,
    RevokeToken,
    Cases,
    Items,
    Item,
    ItemContent,
    Records,
    Record,
    Search,
    UploadOptions,
    UploadCreate,
    UploadHead,
    UploadPatch,
    UploadStatus,
    UploadTerminate,
    CreateRecord,
    EditRecord,
    DeleteRecord,
    ExportCase,
}

/// One route.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: Method,
    /// axum path syntax: `{name}` for a path parameter.
    pub path: &'static str,
    pub endpoint: Endpoint,
    /// Whether anonymous callers may use it (only log-in, health and the OpenAPI document).
    pub public: bool,
    pub summary: &'static str,
    /// Query parameters (documentation).
    pub query: &'static [&'static str],
    /// JSON request body fields (documentation); empty when there is no body.
    pub body: &'static [&'static str],
    /// Request headers (documentation), e.g. the tus protocol's.
    pub headers: &'static [&'static str],
    /// A request body that is not JSON: its media type (documentation).
    pub raw_body: Option<&'static str>,
    /// Status of a successful response.
    pub ok: u16,
}

const fn route(
    method: Method,
    path: &'static str,
    endpoint: Endpoint,
    summary: &'static str,
) -> Route {
    Route {
        method,
        path,
        endpoint,
        public: false,
        summary,
        query: &[],
        body: &[],
        headers: &[],
        raw_body: None,
        ok: 200,
    }
}

/// Every route of the server.
pub const ROUTES: &[Route] = &[
    Route {
        public: true,
        ..route(Method::Get, "/health", Endpoint::Health, "Liveness check")
    },
    Route {
        public: true,
        ..route(
            Method::Get,
            "/api/openapi.json",
            Endpoint::OpenApi,
            "This OpenAPI 3.1 document",
        )
    },
    Route {
        public: true,
        body: &["username", "password"],
        ..route(
            Method::Post,
            "/api/login",
            Endpoint::Login,
            "Log in: sets the session and CSRF cookies, returns the CSRF token",
        )
    },
    Route {
        ok: 204,
        ..route(
            Method::Post,
            "/api/logout",
            Endpoint::Logout,
            "End the session (or revoke the API token used)",
        )
    },
    Route {
        body: &["name"],
        ok: 201,
        ..route(
            Method::Post,
            "/api/tokens",
            Endpoint::CreateToken,
            "Create an API token (the secret is shown once)",
        )
    },
    Route {
        ok: 204,
        ..route(
            Method::Delete,
            "/api/tokens/{id}",
            Endpoint::RevokeToken,
            "Revoke an API token (your own; admins any)",
        )
    },
    route(
        Method::Get,
        "/api/cases",
        Endpoint::Cases,
        "Cases the caller may see (admins: all)",
    ),
    Route {
        query: &["to", "description"],
        ..route(
            Method::Post,
            "/api/cases/{case}/export",
            Endpoint::ExportCase,
            "Hand over a case: its items as a reproducible BagIt bag with proofs, streamed as a tar (an export custody event per item); admin, investigator",
        )
    },
    Route {
        query: &["case"],
        ..route(
            Method::Get,
            "/api/items",
            Endpoint::Items,
            "Items of the caller's cases, or of one case",
        )
    },
    route(
        Method::Get,
        "/api/items/{id}",
        Endpoint::Item,
        "An item: metadata, cases and custody events",
    ),
    Route {
        query: &["purpose"],
        ..route(
            Method::Get,
            "/api/items/{id}/content",
            Endpoint::ItemContent,
            "An item's bytes (recorded as an access custody event first)",
        )
    },
    Route {
        query: &["case", "kind"],
        ..route(
            Method::Get,
            "/api/records",
            Endpoint::Records,
            "Documentation records of the caller's cases",
        )
    },
    route(
        Method::Get,
        "/api/records/{id}",
        Endpoint::Record,
        "A documentation record (protected source identities redacted unless admin)",
    ),
    Route {
        body: &["kind"],
        ok: 201,
        ..route(
            Method::Post,
            "/api/records",
            Endpoint::CreateRecord,
            "Create a record from a JSON Lines object (or update the one its id or key names: 200); admin, investigator; analysts only links",
        )
    },
    Route {
        body: &["kind"],
        ..route(
            Method::Put,
            "/api/records/{id}",
            Endpoint::EditRecord,
            "Replace a record's fields (a JSON Lines object); admin, investigator; analysts only links",
        )
    },
    route(
        Method::Delete,
        "/api/records/{id}",
        Endpoint::DeleteRecord,
        "Delete a record (409 while others refer to it); admin, investigator",
    ),
    Route {
        query: &["q", "case", "kind", "limit"],
        ..route(
            Method::Get,
            "/api/search",
            Endpoint::Search,
            "Search items and records of the caller's cases",
        )
    },
    Route {
        ok: 204,
        ..route(
            Method::Options,
            "/api/uploads",
            Endpoint::UploadOptions,
            "tus: the protocol version, extensions and largest upload accepted",
        )
    },
    Route {
        ok: 201,
        headers: &["Tus-Resumable", "Upload-Length", "Upload-Metadata"],
        ..route(
            Method::Post,
            "/api/uploads",
            Endpoint::UploadCreate,
            "tus creation: start an upload (metadata filename and case required; source, note) into a case you may collect into (admin, investigator)",
        )
    },
    Route {
        headers: &["Tus-Resumable"],
        ..route(
            Method::Head,
            "/api/uploads/{id}",
            Endpoint::UploadHead,
            "tus: Upload-Offset and Upload-Length of your upload",
        )
    },
    Route {
        ok: 204,
        headers: &["Tus-Resumable", "Upload-Offset"],
        raw_body: Some("application/offset+octet-stream"),
        ..route(
            Method::Patch,
            "/api/uploads/{id}",
            Endpoint::UploadPatch,
            "tus: append bytes at Upload-Offset; the last byte makes the item (Athar-Item, Athar-Sha256 headers)",
        )
    },
    route(
        Method::Get,
        "/api/uploads/{id}",
        Endpoint::UploadStatus,
        "Your upload as JSON: offset, length, filename, case, item and sha256 (null until complete)",
    ),
    Route {
        ok: 204,
        headers: &["Tus-Resumable"],
        ..route(
            Method::Delete,
            "/api/uploads/{id}",
            Endpoint::UploadTerminate,
            "tus termination: abandon your upload and remove its staged bytes (an item it became stays)",
        )
    },
];

/// The path parameters of a route path (`{id}` → `id`).
pub fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}
