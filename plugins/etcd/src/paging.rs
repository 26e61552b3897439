//! Paged reads of a key range, in windows.
//!
//! etcd 3.4 answers a ranged read with a limit by walking its in-memory index over the whole
//! range asked, to count it: a page of `[start, end)` costs the size of `[start, end)`, not of
//! the page, and paging through a table of n keys would cost n² / page rows. So each page is
//! asked of a window `[start, w)`: the keys whose first `depth` bytes, read as a number, are
//! at most `span - 1` above `start`'s. A range whose keys share all but their last bytes (a
//! look-up's prefix) fits in the first window whole. The count etcd reports for each window
//! sets the next one: narrower while a window holds many pages, wider while it holds less
//! than half of one, and the whole rest of the range once a window as wide as it comes back
//! nearly empty.

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

/// The pages a window is sized to hold, from the keys per byte value the last one held.
const PAGES_PER_WINDOW: f64 = 4.0;
/// A window holding more pages than this is resized (narrower).
const MOST_PAGES_PER_WINDOW: f64 = 8.0;
/// A window holding fewer pages than this is resized (wider).
const FEWEST_PAGES_PER_WINDOW: f64 = 0.5;

/// How one scan's pages are windowed.
#[derive(Debug)]
pub(crate) struct Windows {
    /// The window: `None` for the whole rest of the range, else its depth and span.
    window: Option<(usize, u16)>,
    /// The shallowest depth: a window never ends inside the bytes every key of the scan
    /// starts with (its table's prefix), so each window end is a key of the table's.
    shallowest: usize,
    /// Whether the first window is still to be chosen.
    first: bool,
}

impl Windows {
    /// The windows of a scan whose keys all start with the same `prefix_len` bytes.
    pub(crate) fn new(prefix_len: usize) -> Self {
        Self {
            window: None,
            shallowest: prefix_len + 1,
            first: true,
        }
    }

    /// The depth of the widest windows of `[start, end)`: one byte below their common prefix.
    fn floor(&self, start: &[u8], end: &[u8]) -> usize {
        (common_prefix_len(start, end) + 1).max(self.shallowest)
    }

    /// The end of the window starting at `start` within `[start, end)`.
    fn window_end(&mut self, start: &[u8], end: &[u8]) -> Vec<u8> {
        if std::mem::take(&mut self.first) {
            self.window = Some((self.floor(start, end), 1));
        }
        let Some((depth, span)) = self.window else {
            return end.to_vec();
        };
        let mut prefix = start[..start.len().min(depth)].to_vec();
        prefix.resize(depth, 0);
        match add_to_prefix(prefix, span) {
            Some(window_end) if window_end.as_slice() < end => window_end,
            _ => end.to_vec(),
        }
    }

    /// Adapts the window to `count`, the keys of the window just read (`limit` rows asked):
    /// a window holding from half a page to 8 pages stays; another is resized to hold about
    /// 4 pages at the density (keys per byte value) the last one had.
    fn adapt(&mut self, count: i64, limit: u32, start: &[u8], end: &[u8]) {
        let page = f64::from(limit.max(1));
        let pages = count as f64 / page;
        if (FEWEST_PAGES_PER_WINDOW..=MOST_PAGES_PER_WINDOW).contains(&pages) {
            return;
        }
        let floor = self.floor(start, end);
        let Some((mut depth, span)) = self.window else {
            // The whole rest of the range: windows again once it proves large.
            if pages > MOST_PAGES_PER_WINDOW {
                self.window = Some((floor, 1));
            }
            return;
        };
        // Keys per byte value at `depth` (an empty window counts as one key).
        let density = (count.max(1) as f64) / f64::from(span);
        let mut values = PAGES_PER_WINDOW * page / density;
        while values < 1.0 {
            depth += 1;
            values *= 256.0;
        }
        while values > 256.0 && depth > floor {
            depth -= 1;
            values /= 256.0;
        }
        self.window = if values > 256.0 {
            // Wider than the widest window: the whole rest of the range.
            None
        } else {
            Some((depth, values as u16))
        };
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

/// `prefix` read as a big-endian number plus `span`, or `None` when that overflows its bytes:
/// the first key after the keys whose first `prefix.len()` bytes are `span` values from
/// `prefix` on.
fn add_to_prefix(mut prefix: Vec<u8>, span: u16) -> Option<Vec<u8>> {
    let mut carry = u32::from(span);
    for byte in prefix.iter_mut().rev() {
        if carry == 0 {
            break;
        }
        let sum = u32::from(*byte) + carry;
        *byte = (sum & 0xff) as u8;
        carry = sum >> 8;
    }
    (carry == 0).then_some(prefix)
}

fn common_prefix_len(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_to_a_prefix_carries() {
        assert_eq!(add_to_prefix(b"ab".to_vec(), 1), Some(b"ac".to_vec()));
        assert_eq!(add_to_prefix(vec![1, 0xff], 1), Some(vec![2, 0]));
        assert_eq!(add_to_prefix(vec![1, 0xf0], 0x20), Some(vec![2, 0x10]));
        assert_eq!(add_to_prefix(vec![0xff, 0xff], 1), None);
        assert_eq!(add_to_prefix(vec![0xff, 0x10], 256), None);
    }

    #[test]
    fn windows_stay_in_the_range_and_its_table() {
        let mut windows = Windows::new(2);
        // A look-up's prefix range is one window.
        assert_eq!(
            windows.window_end(b"t/a\x05", b"t/a\x06"),
            b"t/a\x06".to_vec()
        );
        // A wide range starts with windows of one byte value below the common prefix.
        let mut windows = Windows::new(2);
        assert_eq!(windows.window_end(b"t/a7", b"t0"), b"t/b".to_vec());
        // A start shorter than the depth is padded with zero bytes.
        let mut windows = Windows::new(2);
        assert_eq!(windows.window_end(b"t/", b"t0"), b"t/\x01".to_vec());
        // Never shallower than the table's prefix, never past the range's end.
        let mut windows = Windows::new(5);
        assert_eq!(windows.window_end(b"t/abc", b"u"), b"t/abc\x01".to_vec());
        assert_eq!(
            windows.window_end(b"t/abc", b"t/abc\x01"),
            b"t/abc\x01".to_vec()
        );
    }

    #[test]
    fn windows_follow_the_counts() {
        let mut windows = Windows::new(2);
        let _ = windows.window_end(b"t/a", b"t0");
        assert_eq!(windows.window, Some((3, 1)));
        // 100,000 keys in one byte value, pages of 100: 400 keys are 1/250 of it, a byte
        // deeper and about a value wide.
        windows.adapt(100_000, 100, b"t/a", b"t0");
        assert_eq!(windows.window, Some((4, 1)));
        // Windows of half a page to 8 pages stay as they are.
        for count in [50, 400, 800] {
            windows.adapt(count, 100, b"t/b", b"t0");
            assert_eq!(windows.window, Some((4, 1)));
        }
        // 10 keys in one value: 40 values make 4 pages.
        windows.adapt(10, 100, b"t/b", b"t0");
        assert_eq!(windows.window, Some((4, 40)));
        // Empty: 400 keys at one key per 40 values are 16,000 values, a byte shallower.
        windows.adapt(0, 100, b"t/c", b"t0");
        assert_eq!(windows.window, Some((3, 62)));
        // Sparse beyond the widest window: the whole rest of the range, until it proves large.
        windows.adapt(0, 100, b"t/c", b"t0");
        assert_eq!(windows.window, None);
        windows.adapt(5_000, 100, b"t/c", b"t0");
        assert_eq!(windows.window, Some((3, 1)));
        // Dense: as many bytes deeper as it takes (400 keys of 10^8: 67 values 3 bytes deeper).
        windows.adapt(100_000_000, 100, b"t/c", b"t0");
        assert_eq!(windows.window, Some((6, 67)));
    }
}
