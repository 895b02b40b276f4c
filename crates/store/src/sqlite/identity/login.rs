//! Failed password logins (Keystone's lockout), kept apart from the user
//! record: the table is uncached, so a failed login does not move the
//! identity generation (which would empty every controller's token cache),
//! and one upsert per failure counts concurrent failures on several
//! controllers without losing any.

use crate::identity::LoginFailures;
use crate::sql::{params, OptionalExtension};
use crate::{Db, StoreResult};

pub(super) fn record_failure(db: &Db, user_id: &str, at: i64) -> StoreResult<()> {
    db.write(|tx| {
        tx.execute(
            "INSERT INTO user_login_failures(user_id, count, last_at) VALUES (?1, 1, ?2)
             ON CONFLICT (user_id) DO UPDATE
             SET count = user_login_failures.count + 1, last_at = excluded.last_at",
            params![user_id, at],
        )?;
        Ok(())
    })
}

pub(super) fn failures(db: &Db, user_id: &str) -> StoreResult<Option<LoginFailures>> {
    db.read(|c| {
        Ok(
            c.prepare_cached("SELECT count, last_at FROM user_login_failures WHERE user_id = ?1")?
                .query_row([user_id], |r| {
                    Ok(LoginFailures {
                        count: r.get(0)?,
                        last_at: r.get(1)?,
                    })
                })
                .optional()?,
        )
    })
}

pub(super) fn clear(db: &Db, user_id: &str) -> StoreResult<()> {
    // Read first: a login that succeeds (nearly all of them) then costs no
    // write transaction.
    if failures(db, user_id)?.is_none() {
        return Ok(());
    }
    db.write(|tx| {
        tx.execute(
            "DELETE FROM user_login_failures WHERE user_id = ?1",
            [user_id],
        )?;
        Ok(())
    })
}
