//! athar-media
