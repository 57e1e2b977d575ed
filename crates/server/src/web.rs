//! The browser app: two HTML pages and their static assets (every file under `assets/`,
//! listed by `build.rs`), compiled into the binary.
//! Nothing is fetched from elsewhere and nothing is inline (the policy is
//! `default-src 'self'`): the scripts read the JSON API like any other client.
//! A request for the app without a valid session is redirected to the log-in page.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use crate::auth::Caller;
use crate::ApiError;

/// One static file: its name under `/assets/`, content type and bytes.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

/// Every file under `assets/` (see `build.rs`).
const ASSETS: &[Asset] = include!(concat!(env!("OUT_DIR"), "/assets.rs"));

const INDEX_HTML: &str = include_str!("../assets/index.html");
const LOGIN_HTML: &str = include_str!("../assets/login.html");

fn html(body: &'static str) -> Response {
    let mut res = body.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    res
}

/// The app shell; anonymous (or expired) callers are sent to the log-in page.
pub async fn app(caller: Result<Caller, ApiError>) -> Response {
    match caller {
        Ok(_) => html(INDEX_HTML),
        Err(e) if e.status == StatusCode::UNAUTHORIZED => Redirect::to("/login").into_response(),
        Err(e) => e.into_response(),
    }
}

pub async fn login_page() -> Response {
    html(LOGIN_HTML)
}

pub async fn asset(Path(name): Path<String>) -> Result<Response, ApiError> {
    let a = ASSETS
        .iter()
        .find(|a| a.name == name)
        .ok_or_else(|| ApiError::not_found("no such asset"))?;
    let mut res = a.bytes.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(a.content_type),
    );
    // Compiled in: the same for the life of the binary.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_load_only_local_assets_and_no_inline_code() {
        for page in [INDEX_HTML, LOGIN_HTML] {
            assert!(!page.contains("<style"), "inline style");
            assert!(!page.contains(" style="), "inline style attribute");
            for part in page.split(" on").skip(1) {
                let name: String = part.chars().take_while(char::is_ascii_alphabetic).collect();
                let rest = &part[name.len()..];
                assert!(
                    name.is_empty() || !rest.starts_with('='),
                    "inline event handler on{name}"
                );
            }
            for part in page.split("<script").skip(1) {
                let tag = part.split('>').next().unwrap_or_default();
                assert!(
                    tag.contains("src=\"/assets/"),
                    "inline or external script: {tag}"
                );
            }
            for part in page.split("href=\"").skip(1) {
                assert!(
                    part.starts_with('/') || part.starts_with('#'),
                    "external link: {}",
                    &part[..part.len().min(40)]
                );
            }
            for part in page.split("src=\"").skip(1) {
                let url = part.split('"').next().unwrap_or_default();
                let name = url.strip_prefix("/assets/").unwrap_or("");
                assert!(ASSETS.iter().any(|a| a.name == name), "unknown asset {url}");
            }
        }
    }
}
