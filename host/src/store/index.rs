//! The quad index orderings and the choice of ordering for each pattern shape.
//!
//! Nine orderings, each a table of its own, keys only (empty values): `spo`, `pos`, `osp`
//! hold the default graph; `spog`, `posg`, `ospg`, `gspo`, `gpos`, `gosp` hold the named
//! graphs. For every one of the 16 bound/unbound shapes of (subject, predicate, object,
//! graph) [`plan`] picks orderings whose key starts with exactly the bound terms, so each
//! pattern is answered by prefix scans only, never by filtering a larger scan.

use super::encoding::{read_ids, write_id, TermId};
use super::error::StoreError;

/// One index ordering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ordering {
    /// Default graph: subject, predicate, object.
    Spo,
    /// Default graph: predicate, object, subject.
    Pos,
    /// Default graph: object, subject, predicate.
    Osp,
    /// Named graphs: subject, predicate, object, graph.
    Spog,
    /// Named graphs: predicate, object, subject, graph.
    Posg,
    /// Named graphs: object, subject, predicate, graph.
    Ospg,
    /// Named graphs: graph, subject, predicate, object.
    Gspo,
    /// Named graphs: graph, predicate, object, subject.
    Gpos,
    /// Named graphs: graph, object, subject, predicate.
    Gosp,
}

/// Positions in a quad: subject, predicate, object, graph.
const S: usize = 0;
const P: usize = 1;
const O: usize = 2;
const G: usize = 3;

impl Ordering {
    /// Every ordering, default-graph ones first.
    pub const ALL: [Self; 9] = [
        Self::Spo,
        Self::Pos,
        Self::Osp,
        Self::Spog,
        Self::Posg,
        Self::Ospg,
        Self::Gspo,
        Self::Gpos,
        Self::Gosp,
    ];

    /// The orderings of the default graph.
    pub const DEFAULT_GRAPH: [Self; 3] = [Self::Spo, Self::Pos, Self::Osp];

    /// The orderings of the named graphs.
    pub const NAMED_GRAPHS: [Self; 6] = [
        Self::Spog,
        Self::Posg,
        Self::Ospg,
        Self::Gspo,
        Self::Gpos,
        Self::Gosp,
    ];

    /// The ordering every other one is checked against, for a graph kind.
    #[must_use]
    pub fn primary(named: bool) -> Self {
        if named {
            Self::Gspo
        } else {
            Self::Spo
        }
    }

    /// Its position in [`Ordering::ALL`] (the declaration order).
    #[must_use]
    pub fn index(self) -> usize {
        self as usize
    }

    /// Its short name (`spo`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Spo => "spo",
            Self::Pos => "pos",
            Self::Osp => "osp",
            Self::Spog => "spog",
            Self::Posg => "posg",
            Self::Ospg => "ospg",
            Self::Gspo => "gspo",
            Self::Gpos => "gpos",
            Self::Gosp => "gosp",
        }
    }

    /// The backend table that holds it.
    #[must_use]
    pub fn table_name(self) -> String {
        format!("quads.{}", self.name())
    }

    /// Whether it holds named-graph quads.
    #[must_use]
    pub fn is_named(self) -> bool {
        !matches!(self, Self::Spo | Self::Pos | Self::Osp)
    }

    /// The quad positions in key order.
    #[must_use]
    pub fn positions(self) -> &'static [usize] {
        match self {
            Self::Spo => &[S, P, O],
            Self::Pos => &[P, O, S],
            Self::Osp => &[O, S, P],
            Self::Spog => &[S, P, O, G],
            Self::Posg => &[P, O, S, G],
            Self::Ospg => &[O, S, P, G],
            Self::Gspo => &[G, S, P, O],
            Self::Gpos => &[G, P, O, S],
            Self::Gosp => &[G, O, S, P],
        }
    }

    /// The key of `quad` in this ordering.
    #[must_use]
    pub fn key(self, quad: &EncodedQuad) -> Vec<u8> {
        let ids = quad.positions();
        let mut key = Vec::with_capacity(16);
        for &position in self.positions() {
            write_id(&mut key, ids[position]);
        }
        key
    }

    /// The quad a key of this ordering stands for.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] for a malformed key.
    pub fn decode(self, key: &[u8]) -> Result<EncodedQuad, StoreError> {
        let mut ids = [TermId(0); 4];
        if self.is_named() {
            for (position, id) in self.positions().iter().zip(read_ids::<4>(key)?) {
                ids[*position] = id;
            }
        } else {
            for (position, id) in self.positions().iter().zip(read_ids::<3>(key)?) {
                ids[*position] = id;
            }
        }
        Ok(EncodedQuad {
            subject: ids[S],
            predicate: ids[P],
            object: ids[O],
            graph: self.is_named().then_some(ids[G]),
        })
    }
}

/// A quad as ids; `graph` is `None` for the default graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EncodedQuad {
    /// Subject id.
    pub subject: TermId,
    /// Predicate id.
    pub predicate: TermId,
    /// Object id.
    pub object: TermId,
    /// Graph id, `None` for the default graph.
    pub graph: Option<TermId>,
}

impl EncodedQuad {
    fn positions(&self) -> [TermId; 4] {
        [
            self.subject,
            self.predicate,
            self.object,
            self.graph.unwrap_or(TermId(0)),
        ]
    }

    /// The orderings that hold this quad.
    #[must_use]
    pub fn orderings(&self) -> &'static [Ordering] {
        if self.graph.is_some() {
            &Ordering::NAMED_GRAPHS
        } else {
            &Ordering::DEFAULT_GRAPH
        }
    }

    /// The key identifying the quad in the load journal: graph (0 for the default graph),
    /// subject, predicate, object.
    #[must_use]
    pub fn journal_key(&self) -> Vec<u8> {
        let mut key = Vec::with_capacity(16);
        write_id(&mut key, self.graph.unwrap_or(TermId(0)));
        for id in [self.subject, self.predicate, self.object] {
            write_id(&mut key, id);
        }
        key
    }

    /// Reads a key written by [`EncodedQuad::journal_key`].
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] for a malformed key.
    pub fn from_journal_key(key: &[u8]) -> Result<Self, StoreError> {
        let [graph, subject, predicate, object] = read_ids::<4>(key)?;
        Ok(Self {
            subject,
            predicate,
            object,
            graph: (graph.0 != 0).then_some(graph),
        })
    }
}

/// Which graphs a pattern covers, as ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphIds {
    /// Every graph, default and named.
    Any,
    /// The default graph only.
    Default,
    /// Every named graph, not the default graph.
    AnyNamed,
    /// One named graph.
    Named(TermId),
}

/// A pattern as ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdPattern {
    /// Bound subject.
    pub subject: Option<TermId>,
    /// Bound predicate.
    pub predicate: Option<TermId>,
    /// Bound object.
    pub object: Option<TermId>,
    /// Graphs covered.
    pub graph: GraphIds,
}

/// One prefix scan of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// The ordering scanned.
    pub ordering: Ordering,
    /// The key prefix: the bound terms, in the ordering's order.
    pub prefix: Vec<u8>,
    /// How many terms the prefix fixes.
    pub prefix_terms: usize,
}

/// The prefix scans that answer `pattern`, in output order: for "any graph" the default
/// graph's scan first, then the named graphs'.
#[must_use]
pub fn plan(pattern: &IdPattern) -> Vec<Scan> {
    let triple_order = |named: bool| -> Ordering {
        let (s, p, o) = (
            pattern.subject.is_some(),
            pattern.predicate.is_some(),
            pattern.object.is_some(),
        );
        match (named, s, p, o) {
            (false, true, false, true) | (false, false, false, true) => Ordering::Osp,
            (false, false, true, _) => Ordering::Pos,
            (false, _, _, _) => Ordering::Spo,
            (true, true, false, true) | (true, false, false, true) => Ordering::Ospg,
            (true, false, true, _) => Ordering::Posg,
            (true, _, _, _) => Ordering::Spog,
        }
    };
    let graph_order = |ordering: Ordering| -> Ordering {
        match ordering {
            Ordering::Spog => Ordering::Gspo,
            Ordering::Posg => Ordering::Gpos,
            Ordering::Ospg => Ordering::Gosp,
            other => other,
        }
    };
    let ids = [
        pattern.subject,
        pattern.predicate,
        pattern.object,
        match pattern.graph {
            GraphIds::Named(id) => Some(id),
            _ => None,
        },
    ];
    let scan = |ordering: Ordering| {
        let mut prefix = Vec::new();
        let mut prefix_terms = 0;
        for &position in ordering.positions() {
            match ids[position] {
                Some(id) => {
                    write_id(&mut prefix, id);
                    prefix_terms += 1;
                }
                None => break,
            }
        }
        Scan {
            ordering,
            prefix,
            prefix_terms,
        }
    };
    let unbound = ids[..3].iter().all(Option::is_none);
    match pattern.graph {
        GraphIds::Default => vec![scan(triple_order(false))],
        GraphIds::Named(_) => vec![scan(graph_order(triple_order(true)))],
        GraphIds::AnyNamed => vec![scan(if unbound {
            Ordering::Gspo
        } else {
            triple_order(true)
        })],
        GraphIds::Any => vec![
            scan(triple_order(false)),
            // The whole store: read the named graphs graph by graph.
            scan(if unbound {
                Ordering::Gspo
            } else {
                triple_order(true)
            }),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quad(graph: Option<u64>) -> EncodedQuad {
        EncodedQuad {
            subject: TermId(5),
            predicate: TermId(40),
            object: TermId(9_000),
            graph: graph.map(TermId),
        }
    }

    #[test]
    fn index_is_the_position_in_all() {
        for (position, ordering) in Ordering::ALL.into_iter().enumerate() {
            assert_eq!(ordering.index(), position);
        }
    }

    #[test]
    fn keys_decode_to_the_same_quad_in_every_ordering() {
        for quad in [quad(None), quad(Some(3_000_000))] {
            for ordering in quad.orderings() {
                assert_eq!(ordering.decode(&ordering.key(&quad)).unwrap(), quad);
            }
            assert_eq!(
                EncodedQuad::from_journal_key(&quad.journal_key()).unwrap(),
                quad
            );
        }
    }

    /// Every one of the 16 shapes, for each graph kind, is served by scans whose prefix fixes
    /// every bound term: nothing is filtered after the scan.
    #[test]
    fn all_sixteen_shapes_use_prefix_scans_only() {
        let mut seen = Vec::new();
        for shape in 0u8..16 {
            let bound = |bit: u8| shape & (1 << bit) != 0;
            let id = |bit: u8, value: u64| bound(bit).then_some(TermId(value));
            let graphs: Vec<GraphIds> = if bound(3) {
                vec![GraphIds::Default, GraphIds::Named(TermId(7))]
            } else {
                vec![GraphIds::Any, GraphIds::AnyNamed]
            };
            for graph in graphs {
                let pattern = IdPattern {
                    subject: id(0, 1),
                    predicate: id(1, 2),
                    object: id(2, 3),
                    graph,
                };
                let triple_terms = (0..3).filter(|bit| bound(*bit)).count();
                let scans = plan(&pattern);
                let expected_named = match graph {
                    GraphIds::Default => vec![false],
                    GraphIds::Named(_) => vec![true],
                    GraphIds::Any => vec![false, true],
                    GraphIds::AnyNamed => vec![true],
                };
                let named: Vec<bool> = scans.iter().map(|scan| scan.ordering.is_named()).collect();
                assert_eq!(named, expected_named, "{pattern:?}");
                for scan in &scans {
                    let graph_terms = usize::from(matches!(graph, GraphIds::Named(_)));
                    assert_eq!(
                        scan.prefix_terms,
                        triple_terms + graph_terms,
                        "{pattern:?} on {}",
                        scan.ordering.name()
                    );
                    seen.push((shape, scan.ordering.name(), scan.prefix_terms));
                }
            }
        }
        // Spot checks of the chosen ordering for shapes that have a choice.
        let pick = |s: bool, p: bool, o: bool, graph: GraphIds| {
            plan(&IdPattern {
                subject: s.then_some(TermId(1)),
                predicate: p.then_some(TermId(2)),
                object: o.then_some(TermId(3)),
                graph,
            })
            .iter()
            .map(|scan| scan.ordering.name())
            .collect::<Vec<_>>()
        };
        assert_eq!(pick(true, false, true, GraphIds::Default), ["osp"]);
        assert_eq!(
            pick(true, false, true, GraphIds::Named(TermId(9))),
            ["gosp"]
        );
        assert_eq!(pick(false, true, true, GraphIds::Any), ["pos", "posg"]);
        assert_eq!(pick(false, false, false, GraphIds::Any), ["spo", "gspo"]);
        assert_eq!(pick(false, false, false, GraphIds::AnyNamed), ["gspo"]);
        assert_eq!(pick(false, true, false, GraphIds::AnyNamed), ["posg"]);
        assert_eq!(
            pick(false, false, true, GraphIds::Named(TermId(9))),
            ["gosp"]
        );
        assert_eq!(seen.len(), 40);
    }
}
