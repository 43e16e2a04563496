//! Vision: camera frames to anonymous floor tracks. For now it owns loading
//! the ONNX Runtime library the models run on (see [`runtime`]).

pub mod runtime;
