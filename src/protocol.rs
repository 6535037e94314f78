//! The facts of the wire protocol that code needs by name: header names, the signing scheme, the
//! clock skew a signature may have, the operation's paths. Each is one constant here, used
//! everywhere (the harness, the reference server, reports); the manifest (`schemas/manifest.json`)
//! states them as data for other tools, and a test keeps the two saying the same.

use std::time::Duration;

/// The IAM token header (`operation.auth.token.header`).
pub const TOKEN_HEADER: &str = "X-Auth-Token";
/// The AK/SK signature header (`operation.auth.aksk.header`).
pub const AUTH_HEADER: &str = "Authorization";
/// The time of signing (`operation.auth.aksk.date_header`).
pub const DATE_HEADER: &str = "X-Sdk-Date";
/// The signing scheme (`operation.auth.aksk.scheme`).
pub const SIGNING_SCHEME: &str = "SDK-HMAC-SHA256";
/// How far `X-Sdk-Date` may be from the server's clock, either way
/// (`operation.auth.aksk.max_skew_seconds`: the service's 15 minutes).
pub const MAX_SKEW: Duration = Duration::from_secs(900);
/// The third-party user (a property of `request-headers.schema.json`).
pub const APP_USER_HEADER: &str = "X-App-UserId";
/// The header every 200 answer carries (`operation.responses.200.required_headers`).
pub const REQUEST_ID_HEADER: &str = "X-Request-Id";
/// The batch operation's path template (`operation.path`).
pub const BATCH_PATH: &str = "/v1/{project_id}/digital-assets/batch-action";
/// The single-asset lookup's path template (`lookup.path`).
pub const LOOKUP_PATH: &str = "/v1/{project_id}/digital-assets/{asset_id}";

/// Headers that carry credentials: never stored in a report, re-made on replay.
pub const CREDENTIAL_HEADERS: &[&str] = &[AUTH_HEADER, DATE_HEADER, TOKEN_HEADER];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_manifest_says_the_same() {
        let c = crate::contract::Contract::bundled().unwrap();
        let op = c.operation();
        assert_eq!(op.auth.token.header, TOKEN_HEADER);
        assert_eq!(op.auth.aksk.header, AUTH_HEADER);
        assert_eq!(op.auth.aksk.date_header, DATE_HEADER);
        assert_eq!(op.auth.aksk.scheme, SIGNING_SCHEME);
        assert_eq!(op.auth.aksk.max_skew_seconds, MAX_SKEW.as_secs());
        assert_eq!(op.path, BATCH_PATH);
        assert_eq!(c.lookup.as_ref().unwrap().path, LOOKUP_PATH);
        assert_eq!(op.responses["200"].required_headers, [REQUEST_ID_HEADER]);
        assert!(c.request_headers.json["properties"].get(APP_USER_HEADER.to_ascii_lowercase()).is_some());
    }
}
