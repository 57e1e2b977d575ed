//! athar-tlog
