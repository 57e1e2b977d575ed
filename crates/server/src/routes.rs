//! The route table: the one list of every route the server has. The router is built from
//! it (see [`crate::router`]), the OpenAPI document describes it, and the tests enumerate
//! it, so none of them can drift from the others.

/// An HTTP method the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Post,
    Delete,
}

impl Method {
    /// The method's name, upper case (`GET`).
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
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
        query: &["q", "case", "kind", "limit"],
        ..route(
            Method::Get,
            "/api/search",
            Endpoint::Search,
            "Search items and records of the caller's cases",
        )
    },
];

/// The path parameters of a route path (`{id}` → `id`).
pub fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}
