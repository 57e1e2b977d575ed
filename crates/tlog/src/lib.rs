//! Tamper-evident log primitives for Athar: RFC 6962 Merkle tree hashing and proofs,
//! C2SP signed notes, checkpoints, tiles and `.tlog-proof` files.
//!
//! - [`rfc6962`]: leaf and node hashing, inclusion and consistency proofs and their
//!   verification, the stored-hash frontier ([`rfc6962::Frontier`]);
//! - [`tile`]: C2SP tiles and entry bundles; [`note`]: signed notes (Ed25519);
//!   [`checkpoint`]: checkpoints; [`proof`]: `.tlog-proof` files.
//!
//! Their parsers take untrusted input and have fuzz targets in the workspace's `fuzz/`.
//!
//! This crate is an API boundary that an outside verifier can use alone. It must not:
//! depend on any other Athar crate, know anything about evidence or custody events, do
//! file or network I/O (storage is reached only through [`rfc6962::HashReader`] and
//! [`tile::TileReader`]), use `unsafe`, or panic on untrusted input.

#![forbid(unsafe_code)]

pub mod checkpoint;
pub mod note;
pub mod proof;
pub mod rfc6962;
pub mod tile;

pub use checkpoint::Checkpoint;
pub use note::{Ed25519Signer, Ed25519Verifier, Note, Verifiers};
pub use proof::TlogProof;
pub use rfc6962::{Hash, HASH_SIZE};
pub use tile::Tile;
