//! Scans: pages of the snapshot read from etcd in key order, merged with the transaction's own
//! writes in the range (copied when the scan began).

use std::ops::Bound;
use std::sync::Arc;

use kgdb_plugin_api::sdk::{RangeScan, StorageCursor};
use kgdb_plugin_api::{ErrorCode, KvBatch, PluginError, ScanSpec};

use crate::paging::Windows;
use crate::shared::Shared;
use crate::txn::etcd_range;
use crate::writes::TableWrites;

/// A cursor over one table at a transaction's snapshot.
pub struct EtcdCursor {
    shared: Arc<Shared>,
    table: u32,
    revision: i64,
    own: TableWrites,
    scan: RangeScan,
    /// Rows asked of the next page: sized from the rows seen so far to answers of about
    /// `PAGE_BYTES`, at most `scan_page_rows`.
    page_rows: u32,
    /// The windows pages are read in.
    windows: Windows,
}

/// The size of a page's answer the page size aims at.
const PAGE_BYTES: u64 = 2 << 20;
/// Rows asked of a scan's first page, before any row size is known.
const FIRST_PAGE_ROWS: u32 = 64;

impl EtcdCursor {
    pub(crate) fn new(
        shared: Arc<Shared>,
        table: u32,
        revision: i64,
        own: TableWrites,
        range: ScanSpec,
    ) -> Self {
        let page_rows = FIRST_PAGE_ROWS.min(shared.config.scan_page_rows);
        let prefix_len = shared.keys.data_prefix(table).len();
        Self {
            shared,
            table,
            revision,
            scan: RangeScan::new(range),
            page_rows,
            windows: Windows::new(prefix_len),
            own,
        }
    }
}

impl StorageCursor for EtcdCursor {
    fn next_batch(
        &mut self,
        max_rows: u32,
        max_bytes: u64,
        out: &mut KvBatch,
    ) -> Result<(), PluginError> {
        let (shared, table, revision, own) = (&self.shared, self.table, self.revision, &self.own);
        let prefix_len = shared.keys.data_prefix(table).len();
        let most_rows = shared.config.scan_page_rows;
        let page_rows = &mut self.page_rows;
        let windows = &mut self.windows;
        self.scan.next_batch(out, |range, out| {
            let (mut start, end) = etcd_range(shared, table, range);
            // Rows of this transaction's writes from here on (table keys).
            let mut from: Bound<Vec<u8>> = range.start_bound().map(<[u8]>::to_vec);
            loop {
                let asked = (*page_rows).min(max_rows.saturating_add(1)).max(1);
                let page = shared.read_page(windows, &start, &end, revision, asked)?;
                let bytes: u64 = page
                    .rows
                    .iter()
                    .map(|(key, value)| (key.len() + value.len()) as u64)
                    .sum();
                if !page.rows.is_empty() {
                    let average = (bytes / page.rows.len() as u64).max(1);
                    *page_rows = u32::try_from(PAGE_BYTES / average)
                        .unwrap_or(u32::MAX)
                        .clamp(1, most_rows);
                }
                let remote: Vec<(&[u8], &[u8])> = page
                    .rows
                    .iter()
                    .map(|(key, value)| (&key[prefix_len..], value.as_slice()))
                    .collect();
                // This transaction's rows up to where the range goes on.
                let resume = match &page.resume {
                    Some(resume) => Some(resume.get(prefix_len..).ok_or_else(|| {
                        PluginError::new(
                            ErrorCode::INTERNAL,
                            "a scan would go on outside its table",
                        )
                    })?),
                    None => None,
                };
                let upto: Bound<&[u8]> = match resume {
                    Some(resume) => Bound::Excluded(resume),
                    None => range.end_bound(),
                };
                let local = own
                    .rows
                    .range::<[u8], _>((from.as_ref().map(Vec::as_slice), upto));
                let mut local = local.peekable();
                let mut remote_rows = remote.iter().peekable();
                loop {
                    let take_local = match (local.peek(), remote_rows.peek()) {
                        (None, None) => break,
                        (Some(_), None) => true,
                        (None, Some(_)) => false,
                        (Some((local_key, _)), Some((remote_key, _))) => {
                            local_key.as_slice() <= *remote_key
                        }
                    };
                    if take_local {
                        let (key, value) = local.next().expect("peeked");
                        if remote_rows
                            .peek()
                            .is_some_and(|(remote_key, _)| *remote_key == key.as_slice())
                        {
                            remote_rows.next();
                        }
                        if let Some(value) = value {
                            if !out.push_within(key, value, max_rows, max_bytes)? {
                                return Ok(false);
                            }
                        }
                    } else {
                        let (key, value) = remote_rows.next().expect("peeked");
                        if own.in_deleted_range(key) {
                            continue;
                        }
                        if !out.push_within(key, value, max_rows, max_bytes)? {
                            return Ok(false);
                        }
                    }
                }
                match page.resume {
                    Some(next) => {
                        // Checked above to lie past the table's prefix.
                        from = Bound::Included(next[prefix_len..].to_vec());
                        start = next;
                    }
                    None => return Ok(true),
                }
            }
        })
    }
}
