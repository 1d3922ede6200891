// Copyright (c) Microsoft Corporation.
// Licensed under the MIT License.

//! Resumable, self-owned cursor over an [`Object`]'s entries.

use core::ops::Bound;

use super::{Object, Repr};
use crate::value::Value;

impl Object {
    /// Create a resumable cursor over entries in implementation-defined
    /// order. Stable for the lifetime of `&self`. O(1).
    #[inline]
    pub const fn cursor(&self) -> ObjectCursor {
        ObjectCursor {
            inner: ObjectCursorInner::Start,
        }
    }

    /// Advance `cursor` and yield the next entry.
    pub fn next<'a>(&'a self, cursor: &mut ObjectCursor) -> Option<(&'a Value, &'a Value)> {
        match (&self.repr, &mut cursor.inner) {
            (Repr::Empty, _) => None,
            (Repr::Frozen(v), ObjectCursorInner::Start) => {
                if let Some((k, val)) = v.first() {
                    cursor.inner = ObjectCursorInner::FrozenAt(k.clone(), 0);
                    Some((k, val))
                } else {
                    None
                }
            }
            (
                Repr::Frozen(v),
                inner @ (ObjectCursorInner::Key(_) | ObjectCursorInner::FrozenAt(..)),
            ) => {
                // release-gate: the entry yielded last is usually still at the index it was
                // yielded from (a shared object does not change under its iteration), so the
                // next entry follows it without a binary search; the key still decides.
                let i = match inner {
                    ObjectCursorInner::FrozenAt(prev, h)
                        if v.get(*h).is_some_and(|(k, _)| k == prev) =>
                    {
                        h.saturating_add(1)
                    }
                    ObjectCursorInner::Key(prev) | ObjectCursorInner::FrozenAt(prev, _) => {
                        match v.binary_search_by(|(k, _)| k.cmp(prev)) {
                            Ok(i) => i.saturating_add(1),
                            Err(i) => i,
                        }
                    }
                    ObjectCursorInner::Start => 0,
                };
                if let Some((k, val)) = v.get(i) {
                    *inner = ObjectCursorInner::FrozenAt(k.clone(), i);
                    Some((k, val))
                } else {
                    None
                }
            }
            (Repr::BTree(m), ObjectCursorInner::Start) => {
                let (k, val) = m.iter().next()?;
                cursor.inner = ObjectCursorInner::Key(k.clone());
                Some((k, val))
            }
            (
                Repr::BTree(m),
                ObjectCursorInner::Key(prev) | ObjectCursorInner::FrozenAt(prev, _),
            ) => {
                let (k, val) = m
                    .range((Bound::Excluded(prev.clone()), Bound::Unbounded))
                    .next()?;
                cursor.inner = ObjectCursorInner::Key(k.clone());
                Some((k, val))
            }
        }
    }
}

/// Opaque resumable cursor over an [`Object`]'s entries in
/// implementation-defined order.
///
/// Self-owned: holds no borrow on the `Object`, so it can be stored as a
/// field of a long-lived state struct (e.g. an RVM iteration frame).
#[derive(Debug, Clone)]
pub struct ObjectCursor {
    inner: ObjectCursorInner,
}

#[derive(Debug, Clone)]
enum ObjectCursorInner {
    Start,
    Key(Value),
    /// The key yielded last and its index in frozen storage (a hint, checked before use).
    FrozenAt(Value, usize),
}
