//! Just enough of NumPy's `.npy` format (version 1.0, little-endian, C
//! order) to hand the benchmark's tensors to the Python reference and read
//! its outputs back.

use super::{VisionBenchError, io};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Frames of one shape as `uint8` (`[count, ...shape]`); the count is
/// written into the header when finished.
pub struct Writer {
    path: PathBuf,
    file: BufWriter<std::fs::File>,
    shape: [usize; 3],
    count: usize,
}

fn header(descr: &str, shape: &[usize]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| format!("{d:>10}")).collect();
    let dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({}), }}", dims.join(", "));
    let mut h = dict.into_bytes();
    // magic (6) + version (2) + length (2) + header, padded with spaces to 64 bytes, ending in \n
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(b' ');
    }
    h.push(b'\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((h.len() as u16).to_le_bytes());
    out.extend(h);
    out
}

impl Writer {
    pub fn create(path: &Path, shape: [usize; 3]) -> Result<Self, VisionBenchError> {
        let mut file = BufWriter::new(std::fs::File::create(path).map_err(io(path))?);
        file.write_all(&header("|u1", &[0, shape[0], shape[1], shape[2]])).map_err(io(path))?;
        Ok(Writer { path: path.to_owned(), file, shape, count: 0 })
    }

    /// One frame; values must be 0-255 (MoveNet's int32 pixels).
    pub fn append(&mut self, values: &[i32]) -> Result<(), VisionBenchError> {
        if values.len() != self.shape.iter().product::<usize>() {
            return Err(VisionBenchError::Setup(format!(
                "tensor of {} values, expected {:?}",
                values.len(),
                self.shape
            )));
        }
        let bytes: Vec<u8> = values.iter().map(|v| (*v).clamp(0, 255) as u8).collect();
        self.count += 1;
        self.file.write_all(&bytes).map_err(io(&self.path))
    }

    pub fn finish(mut self) -> Result<(), VisionBenchError> {
        let h = header("|u1", &[self.count, self.shape[0], self.shape[1], self.shape[2]]);
        self.file.seek(SeekFrom::Start(0)).map_err(io(&self.path))?;
        self.file.write_all(&h).map_err(io(&self.path))?;
        self.file.flush().map_err(io(&self.path))
    }
}

/// The data of a little-endian float32 `.npy` file, flattened.
pub fn read_f32(path: &Path) -> Result<Vec<f32>, VisionBenchError> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    let bad = || VisionBenchError::Setup(format!("{}: not a float32 .npy file", path.display()));
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad());
    }
    let (len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        _ => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
    };
    let head = std::str::from_utf8(bytes.get(start..start + len).ok_or_else(bad)?).map_err(|_| bad())?;
    if !head.contains("'<f4'") || head.contains("'fortran_order': True") {
        return Err(bad());
    }
    Ok(bytes[start + len..].chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_padded_to_64_bytes_and_names_the_shape() {
        let h = header("|u1", &[12, 384, 640, 3]);
        assert_eq!(h.len() % 64, 0);
        let text = String::from_utf8_lossy(&h[10..]);
        assert!(text.contains("'shape': (        12,        384,        640,          3)") && text.ends_with('\n'));
    }

    #[test]
    fn float_files_are_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.npy");
        let mut bytes = header("<f4", &[2]);
        bytes.extend(1.5f32.to_le_bytes());
        bytes.extend((-2.0f32).to_le_bytes());
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(read_f32(&path).unwrap(), vec![1.5, -2.0]);
        std::fs::write(&path, b"nonsense").unwrap();
        assert!(read_f32(&path).is_err());
    }
}
