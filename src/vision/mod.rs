//! Vision: camera frames to anonymous floor tracks: loading the
//! ONNX Runtime library ([`runtime`]), model manifests ([`manifest`]),
//! sessions with manifest-driven pre-processing ([`model`]) and the pure
//! output decoders ([`decode`]: MoveNet MultiPose, NanoDet, embeddings).
//! Capture ([`capture`]: OpenCV, one thread and bounded queue per camera),
//! floor projection of feet and hands ([`floor`]), the multi-camera floor
//! tracker ([`tracker`]) and the offline `walkout vision track` pipeline
//! ([`pipeline`]), and the MQTT contract that carries a frame's detections
//! from the vision node to the store's fusion loop ([`feed`]); design and measured figures in `docs/vision.md`.

pub mod capture;
pub mod decode;
pub mod feed;
pub mod floor;
pub mod gallery_cmd;
pub mod hand_crop;
pub mod manifest;
pub mod model;
pub mod pipeline;
pub mod runtime;
pub mod track_cmd;
pub mod tracker;
