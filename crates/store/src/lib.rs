//! athar-store
