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
    SecondFactor,
    StartSecondFactor,
    ConfirmSecondFactor,
    DisableSecondFactor,
    RenewRecoveryCodes,
    ResetSecondFactor,
    Sessions,
    EndSession,
    MySignIns,
    SignIns,
    Cases,
    Items,
    Item,
    ItemContent,
    Records,
    Record,
    RecordHistory,
    Search,
    Me,
    Settings,
    SetSettings,
    Review,
    ReviewImage,
    NearDuplicates,
    EventProof,
    Checkpoint,
    Vkey,
    Incidents,
    App,
    LoginPage,
    Asset,
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
    ReviewQueue,
    DecideMatch,
    LinkedPersons,
    LinkPersons,
    CreateCaptures,
    CaseCaptures,
}

/// One route.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: Method,
    /// axum path syntax: `{name}` for a path parameter.
    pub path: &'static str,
    pub endpoint: Endpoint,
    /// Whether anonymous callers may use it (only log-in, health and the OpenAPI document,
    /// and the log-in page with its static assets).
    pub public: bool,
    /// A browser page or asset rather than part of the JSON API: not in the OpenAPI
    /// document; an anonymous request for a non-public page is redirected to the log-in page.
    pub page: bool,
    /// Usable by a caller whose role requires a second factor they have not set up yet
    /// (the app page, who they are, log-out, and setting the factor up); every other
    /// non-public route answers them 403 `second_factor_enrolment_required`.
    pub enrolling: bool,
    pub summary: &'static str,
    /// Query parameters (documentation).
    pub query: &'static [&'static str],
    /// JSON request body fields (documentation), `name` or `name:type` (JSON Schema type,
    /// default string); empty when there is no body.
    pub body: &'static [&'static str],
    /// Request headers (documentation), e.g. the tus protocol's.
    pub headers: &'static [&'static str],
    /// A request body that is not JSON: its media type (documentation).
    pub raw_body: Option<&'static str>,
    /// Status of a successful response.
    pub ok: u16,
    /// Statuses the handler answers besides those the OpenAPI document derives from the
    /// route's shape (see `openapi::statuses`: 400 for input, 401 unless public, 403 for
    /// state-changing methods, 404 for path parameters and a `case` filter, 413/415/422
    /// for request bodies): another success status, 409, 412, 416, 423, 429, 501...
    pub statuses: &'static [u16],
    /// Media type of a successful response's body (a range such as `*/*` when it varies);
    /// empty when it has none.
    pub produces: &'static str,
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
        page: false,
        enrolling: false,
        summary,
        query: &[],
        body: &[],
        headers: &[],
        raw_body: None,
        ok: 200,
        statuses: &[],
        produces: "application/json",
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
        statuses: &[401, 429],
        public: true,
        body: &["username", "password", "code?"],
        ..route(
            Method::Post,
            "/api/login",
            Endpoint::Login,
            "Log in: sets the session and CSRF cookies, returns the CSRF token. With a second factor, `code` is a current code or a recovery code (one wrong part fails the whole, unsaid which)",
        )
    },
    Route {
        produces: "",
        ok: 204,
        enrolling: true,
        ..route(
            Method::Post,
            "/api/logout",
            Endpoint::Logout,
            "End the session (or revoke the API token used)",
        )
    },
    Route {
        body: &["name", "expires_in_days:integer"],
        ok: 201,
        ..route(
            Method::Post,
            "/api/tokens",
            Endpoint::CreateToken,
            "Create an API token (the secret is shown once)",
        )
    },
    Route {
        produces: "",
        ok: 204,
        ..route(
            Method::Delete,
            "/api/tokens/{id}",
            Endpoint::RevokeToken,
            "Revoke an API token (your own; admins any)",
        )
    },
    Route {
        enrolling: true,
        ..route(
            Method::Get,
            "/api/me/second-factor",
            Endpoint::SecondFactor,
            "The caller's second factor: enrolled, being enrolled, required by their role, recovery codes left",
        )
    },
    Route {
        statuses: &[409],
        enrolling: true,
        ok: 201,
        ..route(
            Method::Post,
            "/api/me/second-factor",
            Endpoint::StartSecondFactor,
            "Start enrolling a TOTP second factor (from a session): the key in base32, its otpauth:// URI and QR code (SVG); active once confirmed",
        )
    },
    Route {
        statuses: &[409, 429],
        enrolling: true,
        body: &["code"],
        ..route(
            Method::Post,
            "/api/me/second-factor/confirm",
            Endpoint::ConfirmSecondFactor,
            "Confirm the enrolment with a current code: the factor is active; returns 10 recovery codes, shown once",
        )
    },
    Route {
        statuses: &[409, 429],
        produces: "",
        ok: 204,
        body: &["password", "code"],
        ..route(
            Method::Delete,
            "/api/me/second-factor",
            Endpoint::DisableSecondFactor,
            "Turn the caller's second factor off with their password and a current or recovery code (refused when their role requires one)",
        )
    },
    Route {
        statuses: &[409, 429],
        body: &["code"],
        ..route(
            Method::Post,
            "/api/me/second-factor/recovery-codes",
            Endpoint::RenewRecoveryCodes,
            "Replace the caller's recovery codes (a current code needed): 10 new ones, shown once",
        )
    },
    Route {
        produces: "",
        ok: 204,
        ..route(
            Method::Delete,
            "/api/users/{name}/second-factor",
            Endpoint::ResetSecondFactor,
            "Reset another user's second factor and end their sessions (admins)",
        )
    },
    route(
        Method::Get,
        "/api/me/sessions",
        Endpoint::Sessions,
        "The caller's live sessions (public ids, times, user agents; the current one marked)",
    ),
    Route {
        produces: "",
        ok: 204,
        ..route(
            Method::Delete,
            "/api/me/sessions/{id}",
            Endpoint::EndSession,
            "End one of the caller's sessions",
        )
    },
    Route {
        query: &["limit"],
        ..route(
            Method::Get,
            "/api/me/sign-ins",
            Endpoint::MySignIns,
            "Sign-ins and failed sign-ins to the caller's account, newest first",
        )
    },
    Route {
        statuses: &[404],
        query: &["limit", "user"],
        ..route(
            Method::Get,
            "/api/sign-ins",
            Endpoint::SignIns,
            "Every sign-in and failed sign-in, newest first (admins)",
        )
    },
    route(
        Method::Get,
        "/api/cases",
        Endpoint::Cases,
        "Cases the caller may see (admins: all): names, and each one's title, description, readers of protected sources, case record id, and counts of items and records",
    ),
    Route {
        query: &["limit", "offset"],
        ..route(
            Method::Get,
            "/api/cases/{case}/review",
            Endpoint::ReviewQueue,
            "Pairs of person records waiting for a reviewer, most likely first, each with its match probability and the weight of each field",
        )
    },
    Route {
        body: &["decision", "note?"],
        ..route(
            Method::Post,
            "/api/matches/{id}/decision",
            Endpoint::DecideMatch,
            "Decide a pair of person records: same, different, or review to undo (a custody event with the reviewer); admin, investigator, analyst",
        )
    },
    Route {
        query: &["linked"],
        ..route(
            Method::Get,
            "/api/cases/{case}/persons",
            Endpoint::LinkedPersons,
            "The persons the same-as matches make, each with its records and lists, and the list-overlap table",
        )
    },
    route(
        Method::Post,
        "/api/cases/{case}/link",
        Endpoint::LinkPersons,
        "Link the case's person records across their lists now; admin, investigator",
    ),
    Route {
        produces: "application/x-tar",
        body: &["recipient", "purpose", "description?", "records:boolean"],
        ..route(
            Method::Post,
            "/api/cases/{case}/export",
            Endpoint::ExportCase,
            "Hand over a case: its items (and, unless records is false, its records as JSON Lines) as a reproducible BagIt bag with proofs, streamed as a tar (an export custody event per item, naming recipient and purpose); admin, investigator",
        )
    },
    Route {
        statuses: &[404, 501],
        body: &["case", "urls:array", "source?", "note?"],
        ok: 202,
        ..route(
            Method::Post,
            "/api/captures",
            Endpoint::CreateCaptures,
            "Capture web addresses into a case (admin, investigator on it): every address is checked first (400 naming the bad one), then each is queued and captured in the background (WACZ, screenshots, PDF, HTML, media, network context), its files kept as items with capture custody events and one capture record",
        )
    },
    route(
        Method::Get,
        "/api/cases/{case}/captures",
        Endpoint::CaseCaptures,
        "A case's web captures (address, title, files with their items, what the deletion watch last found: available, changed, gone, login, unreachable) and its captures still queued, running or failed",
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
        statuses: &[206, 416],
        produces: "*/*",
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
        "/api/records/{id}/history",
        Endpoint::RecordHistory,
        "A record's history: its custody events (create, edit, delete), oldest first, each with the version it wrote (protected source identities redacted, and their hashes left out, unless admin or a role the case lists)",
    ),
    route(
        Method::Get,
        "/api/records/{id}",
        Endpoint::Record,
        "A documentation record (protected source identities redacted unless admin or a role the case lists)",
    ),
    Route {
        statuses: &[200, 404],
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
    Route {
        statuses: &[409],
        ..route(
            Method::Delete,
            "/api/records/{id}",
            Endpoint::DeleteRecord,
            "Delete a record (409 while others refer to it); admin, investigator",
        )
    },
    Route {
        query: &[
            "q",
            "case",
            "kind",
            "date",
            "place",
            "violation",
            "verification",
            "limit",
        ],
        ..route(
            Method::Get,
            "/api/search",
            Endpoint::Search,
            "Search items and records of the caller's cases, with facet counts",
        )
    },
    Route {
        enrolling: true,
        ..route(
            Method::Get,
            "/api/me",
            Endpoint::Me,
            "The caller: name, role, cases, safe-review settings, language and second factor",
        )
    },
    route(
        Method::Get,
        "/api/me/settings",
        Endpoint::Settings,
        "The caller's safe-review defaults (blurred, greyscale, muted, no autoplay unless changed) and language",
    ),
    Route {
        body: &["blur:boolean", "greyscale:boolean", "muted:boolean", "autoplay:boolean", "lang?"],
        ..route(
            Method::Post,
            "/api/me/settings",
            Endpoint::SetSettings,
            "Change the caller's safe-review defaults or language (fields left out keep their value)",
        )
    },
    route(
        Method::Get,
        "/api/items/{id}/review",
        Endpoint::Review,
        "An item's review images (thumbnail or contact sheet) and their variants",
    ),
    Route {
        produces: "image/jpeg",
        query: &["purpose"],
        ..route(
            Method::Get,
            "/api/items/{id}/review/{variant}",
            Endpoint::ReviewImage,
            "A review image: blurred, greyscale or clear (clear is recorded as an access custody event)",
        )
    },
    Route {
        statuses: &[501],
        query: &["min_share"],
        ..route(
            Method::Get,
            "/api/items/{id}/similar",
            Endpoint::NearDuplicates,
            "Items of the caller's cases sharing footage with this one (similarity index)",
        )
    },
    Route {
        statuses: &[409],
        produces: "text/plain",
        ..route(
            Method::Get,
            "/api/items/{id}/events/{seq}/proof",
            Endpoint::EventProof,
            "Offline proof (.tlog-proof) that a custody event of the item is in the custody log",
        )
    },
    Route {
        produces: "text/plain",
        ..route(
            Method::Get,
            "/api/log/checkpoint",
            Endpoint::Checkpoint,
            "The custody log's latest signed checkpoint",
        )
    },
    Route {
        produces: "text/plain",
        ..route(
            Method::Get,
            "/api/log/vkey",
            Endpoint::Vkey,
            "The custody log's verifier key (to check proofs offline)",
        )
    },
    Route {
        query: &["case"],
        ..route(
            Method::Get,
            "/api/incidents",
            Endpoint::Incidents,
            "Incidents of the caller's cases with their dates and places (coordinates)",
        )
    },
    Route {
        page: true,
        enrolling: true,
        ..route(
            Method::Get,
            "/",
            Endpoint::App,
            "The web app (anonymous callers are sent to /login)",
        )
    },
    Route {
        page: true,
        public: true,
        ..route(Method::Get, "/login", Endpoint::LoginPage, "The log-in page")
    },
    Route {
        page: true,
        public: true,
        ..route(
            Method::Get,
            "/assets/{*path}",
            Endpoint::Asset,
            "Static scripts, styles and images compiled into the binary",
        )
    },
    Route {
        produces: "",
        ok: 204,
        ..route(
            Method::Options,
            "/api/uploads",
            Endpoint::UploadOptions,
            "tus: the protocol version, extensions and largest upload accepted",
        )
    },
    Route {
        statuses: &[404, 412, 413],
        produces: "",
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
        statuses: &[412, 423],
        produces: "",
        headers: &["Tus-Resumable"],
        ..route(
            Method::Head,
            "/api/uploads/{id}",
            Endpoint::UploadHead,
            "tus: Upload-Offset and Upload-Length of your upload",
        )
    },
    Route {
        statuses: &[409, 412, 415, 423],
        produces: "",
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
    Route {
        statuses: &[423],
        ..route(
            Method::Get,
            "/api/uploads/{id}",
            Endpoint::UploadStatus,
            "Your upload as JSON: offset, length, filename, case, item and sha256 (null until complete)",
        )
    },
    Route {
        statuses: &[412, 423],
        produces: "",
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
        .filter_map(|seg| {
            seg.strip_prefix('{')
                .map(|s| s.trim_start_matches('*'))
                .and_then(|s| s.strip_suffix('}'))
        })
        .collect()
}
