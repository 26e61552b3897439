//! How much one commit may carry, for a backend whose engine bounds it.

use abi_stable::StableAbi;

/// The most one commit of an open instance may carry: writes beyond it fail with `FULL`
/// before anything is written. A backend whose commits are bounded (a request-size limit of a
/// networked engine, say) answers these through the `kgdb.write-limits.v1` extension, so that
/// callers split large work into commits that fit; one that answers nothing has no bound.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteLimits {
    /// The most write operations (puts, deletes, range deletes) of one commit.
    pub max_ops: u64,
    /// The most bytes of keys and values of one commit.
    pub max_bytes: u64,
}

impl WriteLimits {
    /// Whether `ops` operations of `bytes` bytes fit one commit.
    #[must_use]
    pub const fn fits(&self, ops: u64, bytes: u64) -> bool {
        ops <= self.max_ops && bytes <= self.max_bytes
    }
}
