//! Shared fixtures of the integration tests (each test file that needs
//! them declares `mod support;`).

#![allow(dead_code)]

pub mod browser;
pub mod http;
pub mod smtp;
pub mod store;
