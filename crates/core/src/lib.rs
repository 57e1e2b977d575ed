//! athar-core
