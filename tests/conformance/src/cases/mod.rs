//! The cases, one module per [`Category`](crate::Category). Each module ends with its
//! registration: the list of its cases in report order.

mod batch;
mod concurrency;
mod crud;
mod damage;
mod durability;
mod errors;
mod prefix;
mod range;
mod transaction;

/// Declares a module's `CASES`: `register!(Category: case_a, case_b (exclusive), …)`.
macro_rules! register {
    ($category:ident: $($name:ident $(($exclusive:ident))?),* $(,)?) => {
        /// This module's cases, in report order.
        pub(crate) const CASES: &[crate::Case] = &[$(
            crate::Case {
                name: stringify!($name),
                category: crate::Category::$category,
                exclusive: register!(@exclusive $($exclusive)?),
                run: $name,
            }
        ),*];
    };
    (@exclusive) => { false };
    (@exclusive exclusive) => { true };
}
use register;

/// Every category's cases, in [`Category::ALL`](crate::Category::ALL) order.
pub(crate) const ALL: [&[crate::Case]; 9] = [
    crud::CASES,
    range::CASES,
    prefix::CASES,
    batch::CASES,
    transaction::CASES,
    durability::CASES,
    concurrency::CASES,
    errors::CASES,
    damage::CASES,
];
