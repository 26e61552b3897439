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
            // `try_with`: a destructor may call into the plugin while this thread's locals are
            // being destroyed (a store kept in a thread local, dropped at thread exit).
            if CATCHING.try_with(Cell::get).unwrap_or(0) > 0 {
                let place = info
                    .location()
                    .map(|location| format!("{}:{}", location.file(), location.line()));
                let _ = PLACE.try_with(|slot| slot.replace(place));
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `body`, turning a panic into its message and place (`… at src/lib.rs:116`).
pub(super) fn catch<T>(body: impl FnOnce() -> T) -> Result<T, String> {
    install_hook();
    let _ = CATCHING.try_with(|depth| depth.set(depth.get() + 1));
    let _ = PLACE.try_with(|slot| slot.replace(None));
    let outcome = panic::catch_unwind(AssertUnwindSafe(body));
    let _ = CATCHING.try_with(|depth| depth.set(depth.get().saturating_sub(1)));
    outcome.map_err(|payload| {
        let message = message(payload.as_ref());
        match PLACE.try_with(|slot| slot.take()).ok().flatten() {
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

    /// Found by the `load_rdf` fuzz target, which keeps its store in a thread local: at exit,
    /// dropping the store called into the plugin after this module's thread locals were
    /// destroyed, and the access aborted the process.
    #[test]
    fn catching_works_while_thread_locals_are_destroyed() {
        struct CatchOnDrop;
        impl Drop for CatchOnDrop {
            fn drop(&mut self) {
                assert_eq!(catch(|| 1), Ok(1));
                assert!(catch(|| panic!("in a destructor")).is_err());
            }
        }
        thread_local! {
            static HOLDER: CatchOnDrop = const { CatchOnDrop };
        }
        std::thread::spawn(|| {
            // The holder first, this module's locals second: destroyed the other way round.
            HOLDER.with(|_| ());
            assert_eq!(catch(|| 2), Ok(2));
        })
        .join()
        .expect("the thread ends without a panic");
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
