//! Load-cell noise model and synthetic plate streams (being written).
