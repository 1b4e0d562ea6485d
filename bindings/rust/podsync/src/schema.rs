//! [`Schema`]: the tables a writer and its replicas agree on.

use std::ffi::CString;
use std::fmt;
use std::mem::{align_of, size_of};
use std::ptr::{self, NonNull};

use podsync_sys as sys;

use crate::error::{Error, ErrorKind, Result, copy_message};
use crate::pod::Pod;

/// Element type of a [`Field`] (`PODSYNC_TYPE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum FieldType {
    /// `u8` elements (`PODSYNC_TYPE_U8`).
    U8 = sys::PODSYNC_TYPE_U8,
    /// `u16` elements (`PODSYNC_TYPE_U16`).
    U16 = sys::PODSYNC_TYPE_U16,
    /// `u32` elements (`PODSYNC_TYPE_U32`).
    U32 = sys::PODSYNC_TYPE_U32,
    /// `u64` elements (`PODSYNC_TYPE_U64`).
    U64 = sys::PODSYNC_TYPE_U64,
    /// `i8` elements (`PODSYNC_TYPE_I8`).
    I8 = sys::PODSYNC_TYPE_I8,
    /// `i16` elements (`PODSYNC_TYPE_I16`).
    I16 = sys::PODSYNC_TYPE_I16,
    /// `i32` elements (`PODSYNC_TYPE_I32`).
    I32 = sys::PODSYNC_TYPE_I32,
    /// `i64` elements (`PODSYNC_TYPE_I64`).
    I64 = sys::PODSYNC_TYPE_I64,
    /// `f32` elements (`PODSYNC_TYPE_F32`).
    F32 = sys::PODSYNC_TYPE_F32,
    /// `f64` elements (`PODSYNC_TYPE_F64`).
    F64 = sys::PODSYNC_TYPE_F64,
    /// Opaque bytes; the field's count is the length in bytes.
    Bytes = sys::PODSYNC_TYPE_BYTES,
}

impl FieldType {
    /// The `PODSYNC_TYPE_*` value.
    pub fn raw(self) -> u32 {
        self as u32
    }

    /// The type of a `PODSYNC_TYPE_*` value.
    pub fn from_raw(value: u32) -> Option<FieldType> {
        use FieldType::*;
        Some(match value {
            sys::PODSYNC_TYPE_U8 => U8,
            sys::PODSYNC_TYPE_U16 => U16,
            sys::PODSYNC_TYPE_U32 => U32,
            sys::PODSYNC_TYPE_U64 => U64,
            sys::PODSYNC_TYPE_I8 => I8,
            sys::PODSYNC_TYPE_I16 => I16,
            sys::PODSYNC_TYPE_I32 => I32,
            sys::PODSYNC_TYPE_I64 => I64,
            sys::PODSYNC_TYPE_F32 => F32,
            sys::PODSYNC_TYPE_F64 => F64,
            sys::PODSYNC_TYPE_BYTES => Bytes,
            _ => return None,
        })
    }

    /// Size of one element in bytes (1 for `Bytes`).
    pub fn element_size(self) -> u32 {
        use FieldType::*;
        match self {
            U8 | I8 | Bytes => 1,
            U16 | I16 => 2,
            U32 | I32 | F32 => 4,
            U64 | I64 | F64 => 8,
        }
    }
}

/// One field of a record: `count` elements of `ty` starting at byte `offset`. Fields document the
/// record layout and enter the schema hash; the engine copies records verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Field {
    /// 1..=255 bytes, unique in its table, no NUL.
    pub name: String,
    /// Element type.
    pub ty: FieldType,
    /// Bytes from the start of the record.
    pub offset: u32,
    /// Number of elements, at least 1 (for `Bytes`, the length in bytes).
    pub count: u32,
}

impl Field {
    /// `Field::new("pos", FieldType::F32, 8, 3)`: three `f32` at byte 8.
    pub fn new(name: impl Into<String>, ty: FieldType, offset: u32, count: u32) -> Field {
        Field { name: name.into(), ty, offset, count }
    }
}

/// A table of a schema, as read back from the canonical encoding ([`Schema::tables`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableDef {
    /// The table id.
    pub id: u32,
    /// Bytes per record.
    pub record_size: u32,
    /// Alignment of the records in a store's memory (a power of two).
    pub alignment: u32,
    /// In ascending offset (the canonical order).
    pub fields: Vec<Field>,
}

/// A set of tables (`podsync_schema`). Build it with [`Schema::new`] and [`Schema::table`], or
/// receive it from the writer's process with [`Schema::from_bytes`]. Stores copy the schema, so
/// it may be dropped once they are created.
///
/// ```
/// use podsync::{Field, FieldType, Schema};
/// # fn main() -> podsync::Result<()> {
/// let schema = Schema::new()
///     .table(1, 40, 8, &[
///         Field::new("id", FieldType::U64, 0, 1),
///         Field::new("pos", FieldType::F32, 8, 3),
///         Field::new("rot", FieldType::F32, 20, 4),
///         Field::new("flags", FieldType::U32, 36, 1),
///     ])?
///     .table(2, 16, 16, &[])?; // an opaque 16-byte record
///
/// // The canonical encoding travels to other processes; equal schemas have equal hashes.
/// let bytes = schema.to_bytes()?;
/// let copy = Schema::from_bytes(&bytes)?;
/// assert_eq!(copy.hash()?, schema.hash()?);
/// assert_eq!(copy.tables()?.len(), 2);
/// # Ok(()) }
/// ```
pub struct Schema {
    ptr: NonNull<sys::podsync_schema>,
}

// SAFETY: the library has no thread affinity and no global mutable state; a schema handle may be
// used from any thread, one at a time. `&Schema` methods record error messages on the handle, so
// the type is not Sync.
unsafe impl Send for Schema {}

impl Schema {
    /// An empty schema.
    ///
    /// # Panics
    ///
    /// If the library cannot allocate the schema (`PODSYNC_E_NO_MEMORY`), like other allocating
    /// constructors of std; or if the loaded library implements another ABI version than this
    /// binding (see [`check_abi`](crate::check_abi)). Use [`Schema::try_new`] to get the error.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Schema {
        match Schema::try_new() {
            Ok(s) => s,
            Err(e) => panic!("podsync_schema_create failed: {e}"),
        }
    }

    /// An empty schema, or the constructor's status.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoMemory`] if the library cannot allocate the schema.
    ///
    /// # Panics
    ///
    /// If the loaded library implements another ABI version than this binding (checked once per
    /// process; see [`check_abi`](crate::check_abi)).
    pub fn try_new() -> Result<Schema> {
        crate::ensure_abi();
        let mut out: *mut sys::podsync_schema = ptr::null_mut();
        // SAFETY: out is a valid out-pointer.
        let st = unsafe { sys::podsync_schema_create(&mut out) };
        match NonNull::new(out) {
            Some(ptr) if st >= 0 => Ok(Schema { ptr }),
            _ => Err(Error::new(
                if st < 0 { st } else { sys::PODSYNC_E_INTERNAL },
                "podsync_schema_create failed",
            )),
        }
    }

    /// Builder form of [`add_table`](Schema::add_table): consumes the schema and returns it with
    /// the table added (on error the schema is dropped; use `add_table` to keep it).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::SchemaInvalid`], with a message naming the offending part: the id is already
    /// in the schema; `record_size` is 0, over 1 MiB or not a multiple of `alignment`;
    /// `alignment` is not a power of two up to 64; a field is empty, overlaps another or lies
    /// outside the record; a field name is empty, longer than 255 bytes, repeated or contains a
    /// NUL byte (checked by this binding); too many tables or fields.
    pub fn table(
        mut self,
        id: u32,
        record_size: u32,
        alignment: u32,
        fields: &[Field],
    ) -> Result<Schema> {
        self.add_table(id, record_size, alignment, fields)?;
        Ok(self)
    }

    /// Builder: adds table `id` whose records are `T` (record size `size_of::<T>()`, alignment
    /// `align_of::<T>()`). On error the schema is dropped.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::SchemaInvalid`], with a message naming the offending part: the id is already
    /// in the schema; `record_size` is 0, over 1 MiB or not a multiple of `alignment`;
    /// `alignment` is not a power of two up to 64; a field is empty, overlaps another or lies
    /// outside the record; a field name is empty, longer than 255 bytes, repeated or contains a
    /// NUL byte (checked by this binding); too many tables or fields. `T` larger than 1 MiB
    /// or aligned to more than 64 bytes is `SchemaInvalid` too.
    pub fn table_of<T: Pod>(self, id: u32, fields: &[Field]) -> Result<Schema> {
        let (size, align) = (size_of::<T>(), align_of::<T>());
        let (Ok(size), Ok(align)) = (u32::try_from(size), u32::try_from(align)) else {
            return Err(Error::from_kind(ErrorKind::SchemaInvalid, "record type too large"));
        };
        self.table(id, size, align, fields)
    }

    /// Adds a table (`podsync_schema_add_table`). `record_size`: 1..=1 MiB, a multiple of
    /// `alignment`; `alignment`: a power of two up to 64; `fields` may be empty (an opaque record).
    /// On error the schema is unchanged.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::SchemaInvalid`], with a message naming the offending part: the id is already
    /// in the schema; `record_size` is 0, over 1 MiB or not a multiple of `alignment`;
    /// `alignment` is not a power of two up to 64; a field is empty, overlaps another or lies
    /// outside the record; a field name is empty, longer than 255 bytes, repeated or contains a
    /// NUL byte (checked by this binding); too many tables or fields.
    pub fn add_table(
        &mut self,
        id: u32,
        record_size: u32,
        alignment: u32,
        fields: &[Field],
    ) -> Result<()> {
        let mut names = Vec::with_capacity(fields.len());
        for f in fields {
            match CString::new(f.name.as_str()) {
                Ok(c) => names.push(c),
                Err(_) => {
                    return Err(Error::from_kind(
                        ErrorKind::SchemaInvalid,
                        format!(
                            "table {id}: field name {:?} contains a NUL byte (checked by the Rust binding)",
                            f.name
                        ),
                    ));
                }
            }
        }
        let raw: Vec<sys::podsync_field> = fields
            .iter()
            .zip(&names)
            .map(|(f, n)| sys::podsync_field {
                name: n.as_ptr(),
                r#type: f.ty.raw(),
                offset: f.offset,
                count: f.count,
                reserved: 0,
            })
            .collect();
        let fields_ptr = if raw.is_empty() { ptr::null() } else { raw.as_ptr() };
        // SAFETY: valid handle; raw and the names it points to outlive the call (the library
        // copies the names).
        let st = unsafe {
            sys::podsync_schema_add_table(
                self.ptr.as_ptr(),
                id,
                record_size,
                alignment,
                fields_ptr,
                raw.len(),
            )
        };
        self.check(st).map(|_| ())
    }

    /// The schema hash (XXH3-64 of the canonical encoding), carried by every frame.
    ///
    /// # Errors
    ///
    /// None in practice: the library refuses this call only for a NULL handle or out-pointer,
    /// which this crate never passes; an error it returned would be passed on.
    pub fn hash(&self) -> Result<u64> {
        let mut h = 0u64;
        // SAFETY: valid handle and out-pointer.
        let st = unsafe { sys::podsync_schema_hash(self.ptr.as_ptr(), &mut h) };
        self.check(st)?;
        Ok(h)
    }

    /// The canonical encoding (`docs/FORMAT.md`), to rebuild the schema in another process with
    /// [`Schema::from_bytes`].
    ///
    /// # Errors
    ///
    /// None in practice: the library refuses this call only for NULL pointers, which this crate
    /// never passes (it asks for the size first); an error it returned would be passed on.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut size = 0usize;
        // SAFETY: capacity 0 with a NULL buffer queries the size.
        let st =
            unsafe { sys::podsync_schema_encode(self.ptr.as_ptr(), ptr::null_mut(), 0, &mut size) };
        if st < 0 && st != sys::PODSYNC_E_BUFFER_TOO_SMALL {
            return Err(self.error(st));
        }
        let mut buf = vec![0u8; size];
        let mut written = 0usize;
        // SAFETY: buf has `size` writable bytes.
        let st = unsafe {
            sys::podsync_schema_encode(
                self.ptr.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut written,
            )
        };
        self.check(st)?;
        buf.truncate(written);
        Ok(buf)
    }

    /// Builds a schema from its canonical encoding (`podsync_schema_decode`); every byte is
    /// validated.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::SchemaInvalid`] if `bytes` is not a canonical encoding (the message, from
    /// `podsync_last_errmsg`, says where it is wrong); [`ErrorKind::NoMemory`].
    ///
    /// # Panics
    ///
    /// If the loaded library implements another ABI version than this binding (checked once per
    /// process; see [`check_abi`](crate::check_abi)).
    pub fn from_bytes(bytes: &[u8]) -> Result<Schema> {
        crate::ensure_abi();
        let mut out: *mut sys::podsync_schema = ptr::null_mut();
        // SAFETY: bytes is valid for its length; out is a valid out-pointer.
        let st =
            unsafe { sys::podsync_schema_decode(bytes.as_ptr().cast(), bytes.len(), &mut out) };
        match NonNull::new(out) {
            Some(ptr) if st >= 0 => Ok(Schema { ptr }),
            Some(ptr) => {
                // Not expected (the header says *out is NULL on failure); do not leak it.
                // SAFETY: the library returned this handle to us; nothing else refers to it.
                unsafe { sys::podsync_schema_free(ptr.as_ptr()) };
                Err(Error::new(st, "podsync_schema_decode failed"))
            }
            None => {
                // No handle: the message is the thread's last error (library 0.4.0).
                let message = if st < 0 { crate::error::last_message() } else { String::new() };
                Err(Error::new(
                    if st < 0 { st } else { sys::PODSYNC_E_INTERNAL },
                    if message.is_empty() {
                        format!("podsync_schema_decode: {} bytes rejected", bytes.len())
                    } else {
                        format!("podsync_schema_decode: {message}")
                    },
                ))
            }
        }
    }

    /// A new handle holding the same schema (through the canonical encoding).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NoMemory`] if the copy cannot be allocated.
    ///
    /// # Panics
    ///
    /// If the loaded library implements another ABI version than this binding (checked once per
    /// process; see [`check_abi`](crate::check_abi)).
    pub fn try_clone(&self) -> Result<Schema> {
        Schema::from_bytes(&self.to_bytes()?)
    }

    /// The tables, in ascending id, read back from the canonical encoding. Field names that are
    /// not UTF-8 are converted lossily.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Internal`] if the library's encoding does not follow `docs/FORMAT.md` (a
    /// bug); otherwise none in practice.
    pub fn tables(&self) -> Result<Vec<TableDef>> {
        let bytes = self.to_bytes()?;
        parse_encoding(&bytes).ok_or_else(|| {
            Error::from_kind(
                ErrorKind::Internal,
                "the library's schema encoding could not be parsed",
            )
        })
    }

    /// The raw handle, for calls through `podsync_sys`. It stays owned by this `Schema`.
    pub fn as_ptr(&self) -> *const sys::podsync_schema {
        self.ptr.as_ptr()
    }

    fn check(&self, st: i32) -> Result<i32> {
        if st < 0 { Err(self.error(st)) } else { Ok(st) }
    }

    fn error(&self, st: i32) -> Error {
        // SAFETY: valid handle; the message is copied before any other call.
        Error::new(st, copy_message(unsafe { sys::podsync_schema_errmsg(self.ptr.as_ptr()) }))
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        // SAFETY: the handle is owned and freed once.
        unsafe { sys::podsync_schema_free(self.ptr.as_ptr()) }
    }
}

impl fmt::Debug for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Schema");
        if let Ok(h) = self.hash() {
            d.field("hash", &format_args!("{h:016x}"));
        }
        if let Ok(t) = self.tables() {
            d.field("tables", &t);
        }
        d.finish()
    }
}

/// Table id, record size and alignment of every table, sorted by id (what a store needs to turn
/// the library's record pointers into slices).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TableMeta {
    pub id: u32,
    pub record_size: usize,
    pub alignment: usize,
}

pub(crate) fn table_metas(schema: &Schema) -> Result<Box<[TableMeta]>> {
    Ok(schema
        .tables()?
        .into_iter()
        .map(|t| TableMeta {
            id: t.id,
            record_size: t.record_size as usize,
            alignment: t.alignment as usize,
        })
        .collect())
}

/// Parses a canonical schema encoding produced by the library (docs/FORMAT.md, "Schema canonical
/// encoding"). Returns None if the bytes do not follow the layout.
fn parse_encoding(b: &[u8]) -> Option<Vec<TableDef>> {
    struct R<'a>(&'a [u8]);
    impl<'a> R<'a> {
        fn take(&mut self, n: usize) -> Option<&'a [u8]> {
            if self.0.len() < n {
                return None;
            }
            let (a, rest) = self.0.split_at(n);
            self.0 = rest;
            Some(a)
        }
        fn u32(&mut self) -> Option<u32> {
            Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
        }
    }
    let mut r = R(b);
    if r.take(8)? != b"PSYNSCH1" {
        return None;
    }
    let table_count = r.u32()?;
    let mut tables = Vec::with_capacity(table_count.min(sys::PODSYNC_MAX_TABLES) as usize);
    for _ in 0..table_count {
        let id = r.u32()?;
        let record_size = r.u32()?;
        let alignment = r.u32()?;
        let field_count = r.u32()?;
        let mut fields = Vec::with_capacity(field_count.min(sys::PODSYNC_MAX_FIELDS) as usize);
        for _ in 0..field_count {
            let ty = FieldType::from_raw(r.u32()?)?;
            let offset = r.u32()?;
            let count = r.u32()?;
            let name_len = r.u32()? as usize;
            let name = String::from_utf8_lossy(r.take(name_len)?).into_owned();
            fields.push(Field { name, ty, offset, count });
        }
        tables.push(TableDef { id, record_size, alignment, fields });
    }
    if !r.0.is_empty() {
        return None;
    }
    Some(tables)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_encoding_follows_the_layout() {
        let mut b = b"PSYNSCH1".to_vec();
        assert_eq!(parse_encoding(&b), None, "table_count missing");
        b.extend_from_slice(&0u32.to_le_bytes());
        assert_eq!(parse_encoding(&b), Some(vec![]));
        b.push(0);
        assert_eq!(parse_encoding(&b), None, "trailing byte");
        b.pop();
        b[8] = 1; // one table, absent
        assert_eq!(parse_encoding(&b), None);
        for v in [5u32, 24, 8, 1, 4, 16, 1, 2] {
            b.extend_from_slice(&v.to_le_bytes()); // id 5, size 24, align 8, 1 field: U64 @16 x1, name "ab"
        }
        b.extend_from_slice(b"ab");
        let t = parse_encoding(&b).unwrap();
        assert_eq!(
            t,
            vec![TableDef {
                id: 5,
                record_size: 24,
                alignment: 8,
                fields: vec![Field::new("ab", FieldType::U64, 16, 1)]
            }]
        );
        b[12 + 16] = 12; // type 12 does not exist
        assert_eq!(parse_encoding(&b), None);
    }
}
