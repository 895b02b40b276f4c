//! Group commit of the ports' nft changes: the ensures that arrive while a
//! transaction runs are applied together in the next one, so programming
//! many ports costs a few `nft` runs, not one each (every run reads the
//! kernel's rule set first, so one per port is quadratic in the ports).
//!
//! A batch the kernel refuses is applied again port by port, each in a
//! transaction of its own, so one bad rule fails its port only and the
//! others are programmed (the isolation a transaction per port gives,
//! paid for only when something is wrong).

use crate::kernel::Kernel;
use crate::{nft, Error, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex as SyncMutex;
use tokio::sync::{oneshot, Mutex};

struct Pending {
    script: String,
    done: oneshot::Sender<Result<()>>,
}

/// Applies port scripts to one table, batching concurrent ones.
pub(crate) struct Committer {
    kernel: Kernel,
    table: String,
    queue: SyncMutex<Vec<Pending>>,
    running: Mutex<()>,
    /// The base objects were written by this committer and nothing has
    /// failed since: batches can leave them out (re-writing them makes
    /// every transaction slower, the base chains being flushed).
    base_ok: AtomicBool,
}

impl std::fmt::Debug for Committer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Committer")
            .field("table", &self.table)
            .finish()
    }
}

impl Committer {
    pub(crate) fn new(kernel: Kernel, table: String) -> Self {
        Committer {
            kernel,
            table,
            queue: SyncMutex::default(),
            running: Mutex::new(()),
            base_ok: AtomicBool::new(false),
        }
    }

    /// Applies `script` (one port's commands, after the base objects);
    /// returns when the kernel has it or refused it.
    pub(crate) async fn apply(&self, script: String) -> Result<()> {
        let (tx, mut rx) = oneshot::channel();
        self.lock_queue().push(Pending { script, done: tx });
        let dropped = |_| Err(Error::Missing("nft batch dropped".into()));
        // Whoever holds the run lock drains the queue, ours included unless
        // an earlier holder already took it; an answer that arrives while we
        // wait for the lock ends the wait (queueing behind the next batch
        // would make each later arrival a batch of one).
        let run = tokio::select! {
            biased;
            answer = &mut rx => return answer.unwrap_or_else(dropped),
            run = self.running.lock() => run,
        };
        let batch = std::mem::take(&mut *self.lock_queue());
        if !batch.is_empty() {
            self.run(batch).await;
        }
        drop(run);
        rx.await.unwrap_or_else(dropped)
    }

    fn lock_queue(&self) -> std::sync::MutexGuard<'_, Vec<Pending>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn run(&self, batch: Vec<Pending>) {
        let base = nft::base(&self.table);
        let lean = self.base_ok.load(Ordering::Acquire);
        if batch.len() > 1 || lean {
            let mut all = if lean { String::new() } else { base.clone() };
            for p in &batch {
                all.push_str(&p.script);
            }
            if self.kernel.nft(&all).await.is_ok() {
                self.base_ok.store(true, Ordering::Release);
                for p in batch {
                    let _ = p.done.send(Ok(()));
                }
                return;
            }
        }
        // Something failed (or a lone script without the base yet): each
        // port on its own, with the base objects re-written.
        let mut all_ok = true;
        for p in batch {
            let one = format!("{base}{}", p.script);
            let result = self.kernel.nft(&one).await.map(|_| ());
            all_ok &= result.is_ok();
            let _ = p.done.send(result);
        }
        self.base_ok.store(all_ok, Ordering::Release);
    }

    /// Forgets that the base objects are there (they may have been
    /// flushed): the next transaction writes them again.
    pub(crate) fn base_lost(&self) {
        self.base_ok.store(false, Ordering::Release);
    }
}
