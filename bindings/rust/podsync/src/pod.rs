//! [`Pod`]: types whose values are plain bytes, so that records can be read in place from the
//! engine's memory and written without serialization.

use std::mem::{align_of, size_of, size_of_val};

use crate::error::{Error, ErrorKind, Result};

/// A "plain old data" type: any byte string of `size_of::<Self>()` bytes is a valid value and
/// every byte of a value is initialized. PodSync records are such byte strings; implementing this
/// trait lets the store hand out `&T` and `&[T]` pointing straight into its tables and frames,
/// and take `&T`/`&[T]` as records without a copy.
///
/// Implemented for the primitive integers and floats and for arrays of `Pod` types. Implement it
/// for your own record structs:
///
/// ```
/// #[derive(Clone, Copy, Debug, PartialEq)]
/// #[repr(C)]
/// struct Entity {
///     id: u64,
///     pos: [f32; 3],
///     rot: [f32; 4],
///     flags: u32,
/// }
/// // SAFETY: #[repr(C)], only Pod fields, no padding (8 + 12 + 16 + 4 = 40 = size_of).
/// unsafe impl podsync::Pod for Entity {}
/// assert_eq!(std::mem::size_of::<Entity>(), 40);
/// ```
///
/// # Safety
///
/// Implement it only for a type that
/// - is `#[repr(C)]` or `#[repr(transparent)]` (or a primitive), so its layout is defined;
/// - has **no padding bytes** (padding is uninitialized, and records are passed to the library as
///   bytes): the sum of its fields' sizes equals `size_of::<Self>()`;
/// - accepts **every bit pattern** in every field: no `bool`, `char`, enums, references, `NonZero*`
///   or other types with invalid values;
/// - holds no pointers whose meaning depends on the process (they would be replicated verbatim).
///
/// A record read through [`Store::get_as`](crate::Store::get_as) or
/// [`TableView::as_slice`](crate::TableView::as_slice) may come from another process; the checks
/// those functions make are size and alignment only.
pub unsafe trait Pod: Copy + 'static {}

macro_rules! impl_pod {
    ($($t:ty),*) => {
        $(
            // SAFETY: primitive integers and floats have no padding and accept every bit pattern.
            unsafe impl Pod for $t {}
        )*
    };
}
impl_pod!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64);
// SAFETY: an array of Pod values has no padding between elements and accepts every bit pattern.
unsafe impl<T: Pod, const N: usize> Pod for [T; N] {}

/// The bytes of a `Pod` value (no copy).
pub fn bytes_of<T: Pod>(value: &T) -> &[u8] {
    // SAFETY: T: Pod has no padding, so all size_of::<T>() bytes are initialized.
    unsafe { std::slice::from_raw_parts((value as *const T).cast::<u8>(), size_of::<T>()) }
}

/// The bytes of a slice of `Pod` values (no copy).
pub fn slice_as_bytes<T: Pod>(values: &[T]) -> &[u8] {
    // SAFETY: as bytes_of, for size_of_val(values) contiguous bytes.
    unsafe { std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), size_of_val(values)) }
}

/// Reinterprets `bytes` as a slice of `T` in place (no copy).
///
/// # Errors
///
/// [`ErrorKind::RecordSize`] if the length of `bytes` is not a multiple of `size_of::<T>()` (or
/// `T` is zero-sized); [`ErrorKind::InvalidArgument`] if `bytes` is not aligned for `T`.
pub fn try_cast_slice<T: Pod>(bytes: &[u8]) -> Result<&[T]> {
    cast_slice_named(bytes, format_args!("bytes"))
}

pub(crate) fn cast_slice_named<'a, T: Pod>(
    bytes: &'a [u8],
    what: std::fmt::Arguments<'_>,
) -> Result<&'a [T]> {
    let size = size_of::<T>();
    if size == 0 {
        return Err(Error::from_kind(
            ErrorKind::RecordSize,
            format!("{what}: cannot view bytes as a zero-sized type"),
        ));
    }
    if !bytes.len().is_multiple_of(size) {
        return Err(Error::from_kind(
            ErrorKind::RecordSize,
            format!(
                "{what}: {} bytes are not a whole number of {} ({size} bytes) (checked by the Rust binding)",
                bytes.len(),
                std::any::type_name::<T>()
            ),
        ));
    }
    if bytes.is_empty() {
        return Ok(&[]); // an empty view has no address to check (`&[]` of u8 is at 0x1)
    }
    check_aligned::<T>(bytes.as_ptr(), what)?;
    // SAFETY: length and alignment checked; T: Pod accepts every bit pattern; the lifetime is the
    // input's.
    Ok(unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<T>(), bytes.len() / size) })
}

/// Views one record's bytes as `&T` if the sizes are equal and the bytes are aligned for `T`.
pub(crate) fn cast_record<'a, T: Pod>(
    bytes: &'a [u8],
    what: std::fmt::Arguments<'_>,
) -> Result<&'a T> {
    if bytes.len() != size_of::<T>() {
        return Err(record_size_error::<T>(bytes.len(), what));
    }
    check_aligned::<T>(bytes.as_ptr(), what)?;
    // SAFETY: size and alignment checked; T: Pod accepts every bit pattern.
    Ok(unsafe { &*bytes.as_ptr().cast::<T>() })
}

pub(crate) fn record_size_error<T>(record_size: usize, what: std::fmt::Arguments<'_>) -> Error {
    Error::from_kind(
        ErrorKind::RecordSize,
        format!(
            "{what}: record size is {record_size} bytes but {} is {} bytes (checked by the Rust binding)",
            std::any::type_name::<T>(),
            size_of::<T>()
        ),
    )
}

fn check_aligned<T>(p: *const u8, what: std::fmt::Arguments<'_>) -> Result<()> {
    if !(p as usize).is_multiple_of(align_of::<T>()) {
        return Err(Error::from_kind(
            ErrorKind::InvalidArgument,
            format!(
                "{what}: address {p:p} is not aligned for {} (alignment {}) (checked by the Rust \
                 binding; declare the table with an alignment of at least {} and keep frames \
                 64-byte aligned, e.g. in a frame::FrameBuf)",
                std::any::type_name::<T>(),
                align_of::<T>(),
                align_of::<T>()
            ),
        ));
    }
    Ok(())
}
