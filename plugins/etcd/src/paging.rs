//! Paged reads of a key range, in windows.
//!
//! etcd 3.4 answers a ranged read with a limit by walking its in-memory index over the whole
//! range asked, to count it: a page of `[start, end)` costs the size of `[start, end)`, not of
//! the page, and paging through a table of n keys would cost n² / page rows. So once a range
//! turns out to be large, each page is asked of a window `[start, w)`, where `w` ends the keys
//! that share their first `depth` bytes with `start`. The count etcd reports for each window
//! sets the next window's depth: deeper while a window holds many pages, shallower while it
//! holds less than one. A small range (a look-up) is read whole, in one request.

use etcd_client::GetOptions;
use kgdb_plugin_api::PluginError;

use crate::cluster::is_response_too_large;
use crate::shared::Shared;

/// A page of a range read.
pub(crate) struct Page {
    /// Rows: etcd key, value.
    pub(crate) rows: Vec<(Vec<u8>, Vec<u8>)>,
    /// Where the range goes on (the rows before it were all read), or `None` at its end.
    pub(crate) resume: Option<Vec<u8>>,
}

/// A window holding more than this many pages is split: the next one goes a byte deeper.
const MOST_PAGES_PER_WINDOW: i64 = 8;

/// How one scan's pages are windowed.
#[derive(Debug)]
pub(crate) struct Windows {
    /// The window's depth in bytes of the key; `None` while the range is read whole.
    depth: Option<usize>,
    /// The shallowest depth: a window never ends inside the bytes every key of the scan
    /// starts with (its table's prefix), so each window end is a key of the table's.
    shallowest: usize,
}

impl Windows {
    /// The windows of a scan whose keys all start with the same `prefix_len` bytes.
    pub(crate) fn new(prefix_len: usize) -> Self {
        Self {
            depth: None,
            shallowest: prefix_len + 1,
        }
    }

    /// The end of the window starting at `start` within `[start, end)`.
    fn window_end(&self, start: &[u8], end: &[u8]) -> Vec<u8> {
        let Some(depth) = self.depth else {
            return end.to_vec();
        };
        let mut prefix = start[..start.len().min(depth)].to_vec();
        prefix.resize(depth, 0);
        match prefix_successor(prefix) {
            Some(window_end) if window_end.as_slice() < end => window_end,
            _ => end.to_vec(),
        }
    }

    /// Adapts the depth to `count`, the keys of the window just read (`limit` rows asked).
    fn adapt(&mut self, count: i64, limit: u32, start: &[u8], end: &[u8]) {
        let page = i64::from(limit.max(1));
        let shallowest = (common_prefix_len(start, end) + 1).max(self.shallowest);
        if count > MOST_PAGES_PER_WINDOW * page {
            self.depth = Some(self.depth.map_or(shallowest, |depth| depth + 1));
        } else if count < page / 2 {
            self.depth = match self.depth {
                Some(depth) if depth > shallowest => Some(depth - 1),
                _ => None,
            };
        }
    }
}

impl Shared {
    /// Up to `limit` rows of `[start, end)` at `revision` in key order, from the window
    /// `windows` gives (fewer rows when that many would make an answer too large to take;
    /// none when the window holds none): one request.
    pub(crate) fn read_page(
        &self,
        windows: &mut Windows,
        start: &[u8],
        end: &[u8],
        revision: i64,
        mut limit: u32,
    ) -> Result<Page, PluginError> {
        let window_end = windows.window_end(start, end);
        let (rows, more, count) = loop {
            match self.read_window(start, &window_end, revision, limit) {
                Err(error) if is_response_too_large(&error) && limit > 1 => limit /= 2,
                other => break other?,
            }
        };
        windows.adapt(count, limit, start, end);
        let resume = match rows.last() {
            Some((last, _)) if more => Some(crate::writes::successor(last)),
            _ if window_end.as_slice() < end => Some(window_end),
            _ => None,
        };
        Ok(Page { rows, resume })
    }

    /// One request: the rows, whether the window holds more, and how many keys it holds.
    #[allow(clippy::type_complexity)]
    fn read_window(
        &self,
        start: &[u8],
        end: &[u8],
        revision: i64,
        limit: u32,
    ) -> Result<(Vec<(Vec<u8>, Vec<u8>)>, bool, i64), PluginError> {
        let response = self.cluster.run("reading a range", |mut client| {
            let (start, end) = (start.to_vec(), end.to_vec());
            let options = GetOptions::new()
                .with_range(end)
                .with_revision(revision)
                .with_limit(i64::from(limit));
            async move { client.kv.get(start, Some(options)).await }
        })?;
        let rows = response
            .kvs()
            .iter()
            .map(|kv| (kv.key().to_vec(), kv.value().to_vec()))
            .collect();
        Ok((rows, response.more(), response.count()))
    }
}

/// The first key after every key that starts with `prefix`, or `None` when there is none
/// (the prefix is all `0xff`).
fn prefix_successor(mut prefix: Vec<u8>) -> Option<Vec<u8>> {
    while let Some(last) = prefix.pop() {
        if last < u8::MAX {
            prefix.push(last + 1);
            return Some(prefix);
        }
    }
    None
}

fn common_prefix_len(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_successors_skip_every_key_with_the_prefix() {
        assert_eq!(prefix_successor(b"ab".to_vec()), Some(b"ac".to_vec()));
        assert_eq!(prefix_successor(vec![1, 0xff, 0xff]), Some(vec![2]));
        assert_eq!(prefix_successor(vec![0xff, 0xff]), None);
    }

    #[test]
    fn windows_end_the_keys_sharing_the_depth_and_stay_in_the_range() {
        let mut windows = Windows::new(2);
        assert_eq!(windows.window_end(b"t/a", b"t0"), b"t0".to_vec());
        windows.depth = Some(3);
        // Keys starting `t/a`: up to `t/b`.
        assert_eq!(windows.window_end(b"t/a7", b"t0"), b"t/b".to_vec());
        // A start shorter than the depth is padded with zero bytes.
        assert_eq!(windows.window_end(b"t/", b"t0"), b"t/\x01".to_vec());
        // Never past the range's end.
        assert_eq!(windows.window_end(b"t/a", b"t/a\x05"), b"t/a\x05".to_vec());
    }

    #[test]
    fn depth_follows_the_counts() {
        let mut windows = Windows::new(1);
        // A small range stays whole.
        windows.adapt(100, 64, b"t/", b"t0");
        assert_eq!(windows.depth, None);
        // A large one is windowed from the first byte below the range's common prefix.
        windows.adapt(1_000_000, 64, b"t/", b"t0");
        assert_eq!(windows.depth, Some(2));
        windows.adapt(1_000_000, 64, b"t/a", b"t0");
        assert_eq!(windows.depth, Some(3));
        // Windows of a few pages keep their depth; nearly empty ones widen.
        windows.adapt(200, 64, b"t/b", b"t0");
        assert_eq!(windows.depth, Some(3));
        windows.adapt(3, 64, b"t/c", b"t0");
        assert_eq!(windows.depth, Some(2));
        windows.adapt(3, 64, b"t/d", b"t0");
        assert_eq!(windows.depth, None);
        // Never shallower than the scan's common prefix.
        let mut windows = Windows::new(5);
        windows.adapt(1_000_000, 64, b"t/", b"t0");
        assert_eq!(windows.depth, Some(6));
    }
}
