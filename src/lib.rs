//! tollgate: an S3-compatible gateway.
//!
//! # Layout
//!
//! Each module owns one concern (see `../shared/DESIGN.md` and the README):
//!
//! - [`config`]: serde configuration with documented defaults and env overrides; it assembles
//!   the sections other modules own ([`auth::RootConfig`], [`obs::LogConfig`], [`limits::LimitsConfig`]).
//! - [`server`]: listener, s3s service, operational routes, graceful shutdown.
//! - [`admin`]: the admin API (`/_tollgate/admin/`: `endpoints.rs` declares each endpoint and
//!   who may call it, one file per resource handles them) and its CLI client.
//! - [`context`]: the per-request context the server attaches (request id, peer, admission).
//! - [`audit`]: audit entries of state changes and denials.
//! - [`auth`]: tenants' users, access keys, secrets, the principal attached to each request (`S3Auth`):
//!   anonymous, a key's user, or the gateway itself.
//! - [`ops`]: the one list of S3 operations (`Operation`: access class, writes, topic action, metrics label).
//! - [`policy`]: the access check made before the backend is touched (`S3Access`).
//! - [`s3`]: the gateway: one [`s3::Gateway`] implementing the S3 API over the engines,
//!   one file per operation group.
//! - [`backend`]: the object layer ([`backend::Objects`]) that owns every index commit, over
//!   the narrow [`backend::Engine`] contract and its engines ([`backend::local`],
//!   [`backend::upstream`]), which only move bytes.
//! - [`limits`]: rate limits (GCRA) and byte metering; its stored overrides are `meta`'s [`meta::Rates`].
//! - [`proof`]: digests computed while bodies stream; drafting, signing and verifying proof
//!   manifests (the records themselves, [`meta::Manifest`], are `meta`'s).
//! - [`crypt`]: the encrypted-at-rest format: data keys, key wrapping, AES-256-GCM frames
//!   sealed and opened by range (the object layer's `backend::sealed` applies it).
//! - [`meta`]: the records, the metadata store trait and its sled implementation (the only
//!   sled user), one file per record family under `meta/sled_store/`. It imports neither
//!   `proof` nor `limits`.
//! - [`obs`]: logging, metrics, `/health`, `/ready`; imports only [`ops`] (the server answers
//!   its [`obs::Readiness`] trait).
//! - [`jobs`]: the background job scheduler and its workers.
//! - [`migrate`]: `tollgate migrate`, copying objects between backends.
//! - [`retry`]: backoff with jitter.
//! - [`names`]: names checked or reserved on both the S3 side and the admin API (bucket,
//!   tenant, user and topic names, the `_tollgate` segment) and a URL query's named value.
//! - [`clock`]: the wall clock records and audit entries keep.
//! - [`api_client`]: the HTTP client of the gateway's own APIs, shared by the `tollgate
//!   admin` and `tollgate proof` commands.
//!
//! Imports point down and never form a cycle: `server` → `s3`, `policy`, `admin` →
//! `backend` → `meta`; `meta` imports nothing of the crate. A single crate keeps builds
//! short on two cores; the unit test in `import_direction.rs` checks the direction from the
//! sources, as a workspace of crates would make the compiler check it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admin;
pub mod api_client;
pub mod audit;
pub mod auth;
pub mod backend;
pub mod clock;
pub mod config;
pub mod console;
pub mod context;
pub mod cors_http;
pub mod crypt;
pub mod jobs;
pub mod lifecycle;
pub mod limits;
pub mod meta;
pub mod migrate;
pub mod names;
pub mod obs;
pub mod ops;
pub mod policy;
pub mod post;
pub mod proof;
pub mod retry;
pub mod s3;
pub mod server;
pub mod tls;

#[cfg(test)]
mod import_direction;
