//! The byte layout of every etcd key the plugin writes, all under one namespace prefix
//! `kgdb/NAMESPACE/`:
//!
//! | key | value |
//! |---|---|
//! | `c` + table name | the table's number, u32 big-endian (the catalog) |
//! | `n` | the next table number, u32 big-endian (numbers are never reused) |
//! | `d` + number (u32 BE) + key | a row of a table (byte order of keys kept) |
//! | `g` + number (u32 BE) | bumped by every commit that deletes rows of the table |
//! | `l` | the writer lock: the holder, under the holder's lease |
//! | `m` + instance id + sequence (u64 BE) | a commit marker, under the writer's lease |

/// The keys of one namespace.
#[derive(Debug, Clone)]
pub(crate) struct Keyspace {
    prefix: Vec<u8>,
}

impl Keyspace {
    /// The keyspace of `namespace`.
    pub(crate) fn new(namespace: &str) -> Self {
        Self {
            prefix: format!("kgdb/{namespace}/").into_bytes(),
        }
    }

    fn key(&self, tag: u8, rest: &[&[u8]]) -> Vec<u8> {
        let len = self.prefix.len() + 1 + rest.iter().map(|part| part.len()).sum::<usize>();
        let mut key = Vec::with_capacity(len);
        key.extend_from_slice(&self.prefix);
        key.push(tag);
        for part in rest {
            key.extend_from_slice(part);
        }
        key
    }

    /// Every key of the namespace: `[start, end)`.
    pub(crate) fn all(&self) -> (Vec<u8>, Vec<u8>) {
        let start = self.prefix.clone();
        let mut end = self.prefix.clone();
        // The prefix ends in `/`, which is below 0xFF: incrementing it is the successor.
        *end.last_mut().expect("the prefix is never empty") += 1;
        (start, end)
    }

    /// The rows of every table: `[start, end)`.
    pub(crate) fn all_data(&self) -> (Vec<u8>, Vec<u8>) {
        (self.key(b'd', &[]), self.key(b'e', &[]))
    }

    /// The catalog entry of table `name`.
    pub(crate) fn catalog(&self, name: &str) -> Vec<u8> {
        self.key(b'c', &[name.as_bytes()])
    }

    /// Every catalog entry: `[start, end)`.
    pub(crate) fn catalog_range(&self) -> (Vec<u8>, Vec<u8>) {
        (self.key(b'c', &[]), self.key(b'd', &[]))
    }

    /// The table name of a catalog key.
    pub(crate) fn table_name<'a>(&self, catalog_key: &'a [u8]) -> Option<&'a [u8]> {
        catalog_key.strip_prefix(self.catalog("").as_slice())
    }

    /// The next-table-number counter.
    pub(crate) fn next_table(&self) -> Vec<u8> {
        self.key(b'n', &[])
    }

    /// The prefix of every row of table `number`.
    pub(crate) fn data_prefix(&self, number: u32) -> Vec<u8> {
        self.key(b'd', &[&number.to_be_bytes()])
    }

    /// The rows of table `number`: `[start, end)`.
    pub(crate) fn data_range(&self, number: u32) -> (Vec<u8>, Vec<u8>) {
        let end = match number.checked_add(1) {
            Some(next) => self.key(b'd', &[&next.to_be_bytes()]),
            None => self.key(b'e', &[]),
        };
        (self.data_prefix(number), end)
    }

    /// The delete generation of table `number`.
    pub(crate) fn generation(&self, number: u32) -> Vec<u8> {
        self.key(b'g', &[&number.to_be_bytes()])
    }

    /// The writer lock.
    pub(crate) fn lock(&self) -> Vec<u8> {
        self.key(b'l', &[])
    }

    /// The marker of commit `sequence` of instance `instance`.
    pub(crate) fn marker(&self, instance: &[u8; 16], sequence: u64) -> Vec<u8> {
        self.key(b'm', &[instance, &sequence.to_be_bytes()])
    }
}

/// The first table number handed out.
pub(crate) const FIRST_TABLE: u32 = 1;

/// A u32 from 4 big-endian bytes.
pub(crate) fn decode_number(bytes: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_sort_apart_and_ranges_hold_only_their_table() {
        let keys = Keyspace::new("ns");
        let (start, end) = keys.data_range(1);
        let row = [keys.data_prefix(1), vec![0xFF; 8]].concat();
        assert!(start <= row && row < end);
        assert!(keys.data_prefix(2) >= end);
        assert_eq!(keys.data_range(u32::MAX).1, keys.key(b'e', &[]));
        let (all_start, all_end) = keys.all();
        assert!(all_start <= keys.lock() && keys.lock() < all_end);
        assert_eq!(keys.table_name(&keys.catalog("t")), Some(&b"t"[..]));
        assert!(Keyspace::new("ns2").lock() >= all_end || Keyspace::new("ns2").lock() < all_start);
    }
}
