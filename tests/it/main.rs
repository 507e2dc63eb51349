//! Integration tests: a real gateway on port 0, driven by aws-sdk-s3 and raw HTTP.

mod common;

mod attributes;
mod auth;
mod bucket_config;
mod bucket_policy;
mod buckets;
mod cluster;
mod conditional;
mod conformance;
mod console;
mod cors;
mod crash;
mod encryption;
mod errors;
mod fuzz;
mod hostile;
mod jobs;
mod lifecycle;
mod limits;
mod listing;
mod migrate;
mod multipart;
mod object_lock;
mod objects;
mod post_object;
mod proofs;
mod security;
mod tenancy;
mod tls;
mod topics;
mod upstream;
mod versioning;
