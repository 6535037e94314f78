//! AK/SK request signing (SDK-HMAC-SHA256), shared by the runner (signs) and the server (verifies).
