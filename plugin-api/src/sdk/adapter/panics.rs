//! Catching a plugin's panics at the boundary, quietly: a panic inside a call becomes an error
//! whose message says where it happened, instead of a report printed on the host's stderr.
//!
//! The plugin's copy of the standard library has its own panic hook. The SDK installs one,
//! once, that keeps the message and place of a panic in a caught call for [`catch`] and hands
//! every other panic (a plugin's own thread, say) to the hook it replaced.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    /// Calls in progress on this thread that catch panics.
    static CATCHING: Cell<u32> = const { Cell::new(0) };
    /// Where the last caught panic on this thread happened.
    static PLACE: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn install_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if CATCHING.with(Cell::get) > 0 {
                let place = info
                    .location()
                    .map(|location| format!("{}:{}", location.file(), location.line()));
                PLACE.with_borrow_mut(|slot| *slot = place);
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `body`, turning a panic into its message and place (`… at src/lib.rs:116`).
pub(super) fn catch<T>(body: impl FnOnce() -> T) -> Result<T, String> {
    install_hook();
    CATCHING.with(|depth| depth.set(depth.get() + 1));
    PLACE.with_borrow_mut(|slot| *slot = None);
    let outcome = panic::catch_unwind(AssertUnwindSafe(body));
    CATCHING.with(|depth| depth.set(depth.get() - 1));
    outcome.map_err(|payload| {
        let message = message(payload.as_ref());
        match PLACE.with_borrow_mut(Option::take) {
            Some(place) => format!("{message} (at {place})"),
            None => message,
        }
    })
}

fn message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic with a non-text payload".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caught_panic_gives_its_message_and_place() {
        let error = catch(|| panic!("boom {}", 7)).unwrap_err();
        assert!(error.starts_with("boom 7 (at "), "{error}");
        assert!(error.contains("panics.rs:"), "{error}");
        assert_eq!(catch(|| 5), Ok(5));
    }

    #[test]
    fn nested_catches_each_get_their_own_panic() {
        let outer = catch(|| {
            let inner = catch(|| panic!("inner")).unwrap_err();
            assert!(inner.starts_with("inner"));
            panic!("outer");
        })
        .unwrap_err();
        assert!(outer.starts_with("outer"), "{outer}");
    }
}
