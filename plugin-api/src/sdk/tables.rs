//! A table registry: what every plugin keeps to map table names to [`TableId`]s and ids to
//! its own table handles (a column family name, a database handle, a map). Ids are handed out
//! in order and never reused within an instance, so an id of a dropped table stays invalid.

use std::collections::BTreeMap;

use crate::{PluginError, TableId};

/// Table names and ids, each id with the plugin's handle `T`.
#[derive(Debug, Clone)]
pub struct TableRegistry<T> {
    names: BTreeMap<String, TableId>,
    entries: Vec<Option<(String, T)>>,
}

impl<T> Default for TableRegistry<T> {
    fn default() -> Self {
        Self {
            names: BTreeMap::new(),
            entries: Vec::new(),
        }
    }
}

/// `NOT_FOUND` for a table id that was never handed out or whose table was dropped.
#[must_use]
pub fn unknown_table(table: TableId) -> PluginError {
    PluginError::not_found(format!(
        "table #{} does not exist (it was never opened or has been dropped)",
        table.0
    ))
    .with_key("table")
}

/// `NOT_FOUND` for `open_table(name, create = false)` of a table that does not exist.
#[must_use]
pub fn no_table_named(name: &str) -> PluginError {
    PluginError::not_found(format!("no table named `{name}`")).with_key("name")
}

impl<T> TableRegistry<T> {
    /// An empty registry.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The id of table `name`, if it is registered.
    #[must_use]
    pub fn id(&self, name: &str) -> Option<TableId> {
        self.names.get(name).copied()
    }

    /// The handle of `table`.
    ///
    /// # Errors
    /// `NOT_FOUND` (key `table`) for an id never handed out or of a dropped table.
    pub fn get(&self, table: TableId) -> Result<&T, PluginError> {
        self.entries
            .get(table.0 as usize)
            .and_then(Option::as_ref)
            .map(|(_, handle)| handle)
            .ok_or_else(|| unknown_table(table))
    }

    /// The name of `table`, if it is registered.
    #[must_use]
    pub fn name(&self, table: TableId) -> Option<&str> {
        self.entries
            .get(table.0 as usize)
            .and_then(Option::as_ref)
            .map(|(name, _)| name.as_str())
    }

    /// Registers table `name` with `handle` under a new id (a name registered already keeps
    /// its id; call [`TableRegistry::id`] first).
    pub fn insert(&mut self, name: &str, handle: T) -> TableId {
        if let Some(id) = self.id(name) {
            return id;
        }
        let id = TableId(u32::try_from(self.entries.len()).unwrap_or(u32::MAX));
        self.entries.push(Some((name.to_owned(), handle)));
        self.names.insert(name.to_owned(), id);
        id
    }

    /// Forgets table `name`: its id is never handed out again. Returns its id and handle.
    pub fn remove(&mut self, name: &str) -> Option<(TableId, T)> {
        let id = self.names.remove(name)?;
        let (_, handle) = self.entries.get_mut(id.0 as usize)?.take()?;
        Some((id, handle))
    }

    /// The registered names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.keys().map(String::as_str)
    }

    /// Every registered table: name, id and handle, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, TableId, &T)> {
        self.names.iter().filter_map(|(name, id)| {
            let (_, handle) = self.entries.get(id.0 as usize)?.as_ref()?;
            Some((name.as_str(), *id, handle))
        })
    }

    /// How many tables are registered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether no table is registered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn ids_are_never_reused_and_unknown_ids_say_so() {
        let mut tables = TableRegistry::new();
        let a = tables.insert("a", 'a');
        let b = tables.insert("b", 'b');
        assert_eq!(tables.insert("a", 'x'), a);
        assert_eq!(tables.get(a).copied().unwrap(), 'a');
        assert_eq!(tables.remove("a"), Some((a, 'a')));
        let error = tables.get(a).unwrap_err();
        assert_eq!(error.code, ErrorCode::NOT_FOUND);
        assert_eq!(error.key.as_str(), "table");
        let c = tables.insert("a", 'c');
        assert_ne!(c, a);
        assert_eq!(tables.names().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(
            tables
                .iter()
                .map(|(n, id, h)| (n, id, *h))
                .collect::<Vec<_>>(),
            [("a", c, 'c'), ("b", b, 'b')]
        );
        assert_eq!(tables.len(), 2);
        assert_eq!(no_table_named("z").key.as_str(), "name");
    }
}
