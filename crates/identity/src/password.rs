//! Password and secret hashing: Argon2id in PHC string form.
//!
//! Argon2id with the crate's defaults (19 MiB, 2 passes) costs tens of
//! milliseconds, which is the point: a stolen database resists guessing.
//! Verification reads the parameters from the stored hash, so they can be
//! raised later without invalidating existing passwords.
//!
//! At most one hash runs per CPU core at a time (see [`Gate`]): each one
//! is memory-hard, and fifty of them at once on two cores thrash the
//! caches until every login waits for all the others. Queued callers are
//! on blocking threads already, so waiting there costs no async worker.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::sync::{Condvar, Mutex, OnceLock};

/// A counting gate: at most `limit` holders at once.
struct Gate {
    in_use: Mutex<usize>,
    freed: Condvar,
    limit: usize,
}

impl Gate {
    fn global() -> &'static Gate {
        static GATE: OnceLock<Gate> = OnceLock::new();
        GATE.get_or_init(|| Gate {
            in_use: Mutex::new(0),
            freed: Condvar::new(),
            limit: std::thread::available_parallelism().map_or(2, |n| n.get()),
        })
    }

    fn run<R>(&self, work: impl FnOnce() -> R) -> R {
        {
            let mut n = self.in_use.lock().unwrap_or_else(|p| p.into_inner());
            while *n >= self.limit {
                n = self.freed.wait(n).unwrap_or_else(|p| p.into_inner());
            }
            *n += 1;
        }
        let out = work();
        *self.in_use.lock().unwrap_or_else(|p| p.into_inner()) -= 1;
        self.freed.notify_one();
        out
    }
}

/// Hash a password or secret for storage.
pub fn hash(secret: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Gate::global().run(|| {
        Ok(Argon2::default()
            .hash_password(secret.as_bytes(), &salt)?
            .to_string())
    })
}

/// Check a password against a stored hash. A malformed hash never verifies.
pub fn verify(secret: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Gate::global().run(|| {
            Argon2::default()
                .verify_password(secret.as_bytes(), &parsed)
                .is_ok()
        }),
        Err(_) => false,
    }
}

/// Spend the time a real verification takes, when there is nothing to
/// verify against (no such user, or a user without a password): a login
/// for a name that does not exist must not come back sooner than one with
/// a wrong password, or the timing tells an attacker which names exist.
/// The dummy hash is made once, with the same parameters as real ones.
pub fn verify_nothing(secret: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash("ferrostack: no such user").unwrap_or_default());
    let _ = verify(secret, dummy);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn right_password_verifies_wrong_one_does_not() {
        let h = hash("s3cret").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("s3cret", &h));
        assert!(!verify("s3cret ", &h));
        assert!(!verify("s3cret", "not a hash"));
    }

    #[test]
    fn the_gate_never_admits_more_than_its_limit() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        let gate = Arc::new(Gate {
            in_use: Mutex::new(0),
            freed: Condvar::new(),
            limit: 2,
        });
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (gate, running, peak) = (gate.clone(), running.clone(), peak.clone());
                std::thread::spawn(move || {
                    gate.run(|| {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(5));
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
    }
}
