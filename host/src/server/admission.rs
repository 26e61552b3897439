//! Admission of work to a bounded pool: a fixed number run at once, a bounded number wait,
//! and the rest are turned away at once (`503` with `Retry-After`) instead of piling up.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A pool of `slots` running places and `queue` waiting places.
pub(super) struct Admission {
    slots: Arc<Semaphore>,
    queue: usize,
    figures: Arc<Figures>,
}

/// How many run and wait now.
#[derive(Default)]
struct Figures {
    running: AtomicUsize,
    waiting: AtomicUsize,
}

/// The pool and its queue are full.
#[derive(Debug, Clone, Copy)]
pub(super) struct Busy;

/// A running place, held until the work ends (move it into the blocking task).
pub(super) struct Ticket {
    _permit: OwnedSemaphorePermit,
    figures: Arc<Figures>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.figures.running.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counts a waiter until it is admitted or gives up (its request dropped).
struct Waiting<'a>(&'a Figures);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Admission {
    pub fn new(slots: usize, queue: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(slots)),
            queue,
            figures: Arc::default(),
        }
    }

    /// A running place: at once if one is free, after waiting in the queue if it has room;
    /// [`Busy`] when it has none.
    pub async fn enter(&self) -> Result<Ticket, Busy> {
        let permit = match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if self.figures.waiting.fetch_add(1, Ordering::Relaxed) >= self.queue {
                    self.figures.waiting.fetch_sub(1, Ordering::Relaxed);
                    return Err(Busy);
                }
                let _waiting = Waiting(&self.figures);
                Arc::clone(&self.slots)
                    .acquire_owned()
                    .await
                    .map_err(|_| Busy)?
            }
        };
        self.figures.running.fetch_add(1, Ordering::Relaxed);
        Ok(Ticket {
            _permit: permit,
            figures: Arc::clone(&self.figures),
        })
    }

    /// Requests running now.
    pub fn running(&self) -> usize {
        self.figures.running.load(Ordering::Relaxed)
    }

    /// Requests waiting now.
    pub fn waiting(&self) -> usize {
        self.figures.waiting.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::Admission;

    #[tokio::test]
    async fn past_the_slots_and_the_queue_work_is_turned_away() {
        let admission = std::sync::Arc::new(Admission::new(1, 1));
        let first = admission.enter().await.expect("a free slot");
        let queued = {
            let admission = std::sync::Arc::clone(&admission);
            tokio::spawn(async move { admission.enter().await.map(drop).is_ok() })
        };
        while admission.waiting() == 0 {
            tokio::task::yield_now().await;
        }
        assert!(admission.enter().await.is_err(), "slot and queue are full");
        assert_eq!((admission.running(), admission.waiting()), (1, 1));
        drop(first);
        assert!(queued.await.unwrap(), "the waiter gets the slot");
        assert_eq!((admission.running(), admission.waiting()), (0, 0));
    }
}
