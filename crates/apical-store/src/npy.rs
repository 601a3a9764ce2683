//! `.npy` files (numpy's format), through npyz: recorded activity out, researchers' arrays in.

use std::path::Path;

use npyz::{DType, TypeChar, WriterBuilder};

use crate::{write_atomic, StoreError};

/// A dense array read from a `.npy` file, converted to f64, in C (row-major) order.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// The dimensions.
    pub shape: Vec<usize>,
    /// The values, row-major.
    pub data: Vec<f64>,
}

/// Encodes an array of `shape` (C order) with numpy's default dtype for `T`.
fn encode<T: npyz::AutoSerialize + Copy>(shape: &[usize], data: &[T]) -> Vec<u8> {
    assert_eq!(
        shape.iter().product::<usize>(),
        data.len(),
        "npy encode: shape {shape:?} does not hold {} values",
        data.len()
    );
    let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    let mut out = Vec::new();
    let mut writer = npyz::WriteOptions::<T>::new()
        .default_dtype()
        .shape(&shape)
        .writer(&mut out)
        .begin_nd()
        .expect("npy header to memory");
    writer
        .extend(data.iter().copied())
        .expect("npy data to memory");
    writer.finish().expect("npy finish to memory");
    out
}

/// Encodes a float32 array of `shape` (C order).
pub fn encode_f32(shape: &[usize], data: &[f32]) -> Vec<u8> {
    encode(shape, data)
}

/// Encodes an int64 array of `shape` (C order).
pub fn encode_i64(shape: &[usize], data: &[i64]) -> Vec<u8> {
    encode(shape, data)
}

/// Writes a float32 array atomically.
pub fn write_f32(path: &Path, shape: &[usize], data: &[f32]) -> Result<(), StoreError> {
    write_atomic(path, &encode_f32(shape, data))
}

/// Writes an int64 array atomically.
pub fn write_i64(path: &Path, shape: &[usize], data: &[i64]) -> Result<(), StoreError> {
    write_atomic(path, &encode_i64(shape, data))
}

/// Why bytes are not a `.npy` array apical can read (each names the file).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NpyError {
    /// Not a `.npy` file at all.
    #[error("{name} is not a .npy file: {reason}")]
    NotNpy {
        /// The file.
        name: String,
        /// What the reader said.
        reason: String,
    },
    /// A structured (record) array.
    #[error("{name}: structured arrays are not supported; save a plain numeric array")]
    Structured {
        /// The file.
        name: String,
    },
    /// A dtype other than floats and integers.
    #[error("{name}: dtype {dtype} is not supported; save float32, float64 or integers")]
    Dtype {
        /// The file.
        name: String,
        /// The dtype, e.g. `Complex16`.
        dtype: String,
    },
    /// The data ended early or could not be read.
    #[error("{name}: {reason}")]
    Data {
        /// The file.
        name: String,
        /// What the reader said.
        reason: String,
    },
}

/// Decodes `.npy` bytes holding floats (f4, f8) or integers (i1–i8, u1–u8), in C or Fortran
/// order. `name` only labels errors.
pub fn decode(bytes: &[u8], name: &str) -> Result<NpyArray, NpyError> {
    let file = npyz::NpyFile::new(bytes).map_err(|e| NpyError::NotNpy {
        name: name.to_string(),
        reason: e.to_string(),
    })?;
    let shape: Vec<usize> = file.shape().iter().map(|&d| d as usize).collect();
    let order = file.order();
    let DType::Plain(ty) = file.dtype() else {
        return Err(NpyError::Structured {
            name: name.to_string(),
        });
    };
    let size = ty.size_field();
    let read_err = |e: std::io::Error| NpyError::Data {
        name: name.to_string(),
        reason: e.to_string(),
    };
    let data: Vec<f64> = match (ty.type_char(), size) {
        (TypeChar::Float, 4) => file
            .into_vec::<f32>()
            .map_err(read_err)?
            .into_iter()
            .map(f64::from)
            .collect(),
        (TypeChar::Float, 8) => file.into_vec::<f64>().map_err(read_err)?,
        (TypeChar::Int, 1) => file
            .into_vec::<i8>()
            .map_err(read_err)?
            .into_iter()
            .map(f64::from)
            .collect(),
        (TypeChar::Int, 2) => file
            .into_vec::<i16>()
            .map_err(read_err)?
            .into_iter()
            .map(f64::from)
            .collect(),
        (TypeChar::Int, 4) => file
            .into_vec::<i32>()
            .map_err(read_err)?
            .into_iter()
            .map(f64::from)
            .collect(),
        (TypeChar::Int, 8) => file
            .into_vec::<i64>()
            .map_err(read_err)?
            .into_iter()
            .map(|v| v as f64)
            .collect(),
        (TypeChar::Uint, 1) => file
            .into_vec::<u8>()
            .map_err(read_err)?
            .into_iter()
            .map(f64::from)
            .collect(),
        (TypeChar::Uint, 2) => file
            .into_vec::<u16>()
            .map_err(read_err)?
            .into_iter()
            .map(f64::from)
            .collect(),
        (TypeChar::Uint, 4) => file
            .into_vec::<u32>()
            .map_err(read_err)?
            .into_iter()
            .map(f64::from)
            .collect(),
        (TypeChar::Uint, 8) => file
            .into_vec::<u64>()
            .map_err(read_err)?
            .into_iter()
            .map(|v| v as f64)
            .collect(),
        (c, s) => {
            return Err(NpyError::Dtype {
                name: name.to_string(),
                dtype: format!("{c:?}{s}"),
            })
        }
    };
    let data = if order == npyz::Order::Fortran && shape.len() > 1 {
        fortran_to_c(&data, &shape)
    } else {
        data
    };
    Ok(NpyArray { shape, data })
}

/// Reads a `.npy` file.
pub fn read(path: &Path) -> Result<NpyArray, StoreError> {
    let bytes = std::fs::read(path).map_err(|e| StoreError::Read {
        path: path.to_path_buf(),
        source: e.into(),
    })?;
    decode(&bytes, &path.display().to_string()).map_err(|e| StoreError::Read {
        path: path.to_path_buf(),
        source: e.into(),
    })
}

fn fortran_to_c(data: &[f64], shape: &[usize]) -> Vec<f64> {
    let n = data.len();
    let mut out = vec![0.0; n];
    let mut index = vec![0usize; shape.len()];
    for value in out.iter_mut() {
        // `index` walks C order; its Fortran offset is Σ index[k]·Π_{j<k} shape[j].
        let mut offset = 0;
        let mut stride = 1;
        for (k, &i) in index.iter().enumerate() {
            offset += i * stride;
            stride *= shape[k];
        }
        *value = data[offset];
        for k in (0..shape.len()).rev() {
            index[k] += 1;
            if index[k] < shape[k] {
                break;
            }
            index[k] = 0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_and_int_round_trip() {
        let a = decode(&encode_f32(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.5]), "a").unwrap();
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.data, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.5]);
        let b = decode(&encode_i64(&[3], &[-1, 0, 7]), "b").unwrap();
        assert_eq!(b.data, vec![-1.0, 0.0, 7.0]);
    }

    /// Bytes exactly as `numpy.save` writes `np.array([[1, 2, 3], [4, 5, 6]], dtype='<f8', order='F')`.
    #[test]
    fn reads_numpy_fortran_order() {
        let header = "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }";
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        let pad = 64 - (10 + header.len() + 1) % 64;
        let total = header.len() + pad + 1;
        bytes.extend_from_slice(&(total as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend(std::iter::repeat_n(b' ', pad));
        bytes.push(b'\n');
        for v in [1.0f64, 4.0, 2.0, 5.0, 3.0, 6.0] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        let a = decode(&bytes, "f").unwrap();
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.data, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn garbage_is_an_error_naming_the_file() {
        let err = decode(b"hello", "x.npy").unwrap_err().to_string();
        assert!(err.contains("x.npy"), "{err}");
    }
}
