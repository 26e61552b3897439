//! What a backend can do, declared up front so callers never guess.

use std::fmt;

use abi_stable::StableAbi;

/// The capability set of a plugin (static, from `info`) or of one open instance.
///
/// `flags` is a bit set of the `Capabilities::*` constants. An operation whose bit is clear
/// answers [`ErrorCode::UNSUPPORTED`](crate::ErrorCode::UNSUPPORTED); the conformance kit checks
/// both directions.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Capabilities {
    /// Bit set of the capability constants below.
    pub flags: u64,
    /// Largest key in bytes that `put` accepts; one byte more is `INVALID_ARGUMENT`.
    pub max_key_size: u32,
    /// Largest value in bytes that `put` accepts; one byte more is `INVALID_ARGUMENT`.
    pub max_value_size: u32,
}

macro_rules! capability_bits {
    ($($(#[doc = $doc:literal])* $name:ident = $bit:literal, $label:literal;)*) => {
        impl Capabilities {
            $(
                $(#[doc = $doc])*
                pub const $name: u64 = 1 << $bit;
            )*

            /// Every known capability bit with its stable kebab-case label.
            pub const NAMED_BITS: &'static [(u64, &'static str)] = &[$((Self::$name, $label)),*];
        }
    };
}

capability_bits! {
    /// `begin` opens transactions that commit atomically.
    TRANSACTIONS = 0, "transactions";
    /// A transaction reads one consistent snapshot taken when it began.
    SNAPSHOT_READS = 1, "snapshot-reads";
    /// A transaction sees its own uncommitted writes in `get` and `scan`.
    READ_YOUR_WRITES = 2, "read-your-writes";
    /// Concurrent writers are allowed; a write-write conflict fails the later commit with a
    /// retryable `CONFLICT`.
    CONFLICT_DETECTION = 3, "conflict-detection";
    /// Writers are serialised: a second write transaction waits in `begin` until the first ends.
    SERIALIZED_WRITERS = 4, "serialized-writers";
    /// Data outlives the process in `data_dir`.
    PERSISTENT = 5, "persistent";
    /// A commit with `SyncMode::SYNC` survives power loss once it returns.
    DURABLE_SYNC = 6, "durable-sync";
    /// `Backend::write_batch` applies many writes atomically outside a transaction.
    ATOMIC_BATCH = 7, "atomic-batch";
    /// `Backend::ingest_sorted` bulk-loads sorted runs.
    BULK_INGEST = 8, "bulk-ingest";
    /// `Backend::flush` writes buffered data to stable storage.
    FLUSH = 9, "flush";
    /// `Backend::compact` reclaims space and reorganises storage.
    COMPACT = 10, "compact";
    /// `Backend::checkpoint` writes a consistent copy into a directory.
    CHECKPOINT = 11, "checkpoint";
    /// `Backend::stats` returns engine-native statistics.
    NATIVE_STATS = 12, "native-stats";
    /// Scans can run in descending key order.
    REVERSE_SCAN = 13, "reverse-scan";
    /// `Txn::delete_range` removes a key range.
    DELETE_RANGE = 14, "delete-range";
    /// `OpenRequest::read_only` opens an existing data directory without writing to it.
    READ_ONLY_OPEN = 15, "read-only-open";
    /// A transaction may be used from another thread than the one that began it.
    SEND_TXN = 16, "send-txn";
    /// Every run of one `ingest_sorted` call becomes visible atomically, all or none.
    ATOMIC_MULTI_INGEST = 17, "atomic-multi-ingest";
    /// Every block of data read from disk is checked against a checksum: bytes changed on
    /// disk are reported as `CORRUPTION`, never returned as data (API 1.2).
    CHECKSUMS = 18, "checksums";
}

impl Capabilities {
    /// An empty set with the given size limits.
    #[must_use]
    pub const fn new(flags: u64, max_key_size: u32, max_value_size: u32) -> Self {
        Self {
            flags,
            max_key_size,
            max_value_size,
        }
    }

    /// Whether every bit of `bits` is set.
    #[must_use]
    pub const fn has(&self, bits: u64) -> bool {
        self.flags & bits == bits
    }

    /// The bits that promise a write outside transactions or a change to the stored files.
    pub const WRITES_OUTSIDE_TRANSACTIONS: u64 = Self::ATOMIC_BATCH
        | Self::BULK_INGEST
        | Self::ATOMIC_MULTI_INGEST
        | Self::DELETE_RANGE
        | Self::FLUSH
        | Self::COMPACT;

    /// What an instance opened read-only can do: these capabilities without
    /// [`Capabilities::WRITES_OUTSIDE_TRANSACTIONS`] (so the SDK answers `UNSUPPORTED` for
    /// them; the instance still refuses write transactions itself, with `READ_ONLY`).
    #[must_use]
    pub const fn read_only(self) -> Self {
        Self {
            flags: self.flags & !Self::WRITES_OUTSIDE_TRANSACTIONS,
            ..self
        }
    }

    /// The labels of the set bits; unknown bits (from a newer plugin) appear as `bit-N`.
    #[must_use]
    pub fn labels(&self) -> Vec<String> {
        let mut labels = Vec::new();
        for bit in 0..64 {
            let mask = 1u64 << bit;
            if self.flags & mask == 0 {
                continue;
            }
            match Self::NAMED_BITS.iter().find(|(b, _)| *b == mask) {
                Some((_, label)) => labels.push((*label).to_owned()),
                None => labels.push(format!("bit-{bit}")),
            }
        }
        labels
    }
}

impl fmt::Debug for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Capabilities")
            .field("flags", &self.labels())
            .field("max_key_size", &self.max_key_size)
            .field("max_value_size", &self.max_value_size)
            .finish()
    }
}
