//! Vision: camera frames to anonymous floor tracks. So far: loading the
//! ONNX Runtime library ([`runtime`]), model manifests ([`manifest`]),
//! sessions with manifest-driven pre-processing ([`model`]) and the pure
//! output decoders ([`decode`]: MoveNet MultiPose, NanoDet, embeddings).
//! Capture, floor projection and tracking are still to come.

pub mod decode;
pub mod manifest;
pub mod model;
pub mod runtime;
