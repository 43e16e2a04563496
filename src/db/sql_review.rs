//! The staff console's SQL (`crate::review`): staff sessions, the one
//! transaction that decides a review case with its corrections and audit,
//! evidence rows, and the time-range reads of the back office. Inherent
//! methods of [`SqlStore`]; the `Storage` impl in `sql.rs` delegates here.

use super::{Pool, SqlStore, map_err, now_ms};
use crate::db::*;
use crate::ids::StaffId;

impl SqlStore {
    pub(super) async fn review_get_staff(&self, id: &StaffId) -> Result<Option<Staff>, DbError> {
        let sql = "SELECT * FROM staff WHERE id = $1";
        on_pool!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await).map_err(map_err)
    }

    pub(super) async fn review_create_session(&self, x: &StaffSession) -> Result<(), DbError> {
        let sql = "INSERT INTO staff_sessions (token_hash, staff_id, csrf_token, created_at, expires_at)
                   VALUES ($1, $2, $3, $4, $5)";
        on_pool!(self, pool => sqlx::query(sql).bind(&x.token_hash).bind(&x.staff_id).bind(&x.csrf_token)
            .bind(x.created_at).bind(x.expires_at).execute(pool).await.map(|_| ()))
        .map_err(map_err)
    }

    pub(super) async fn review_session(&self, token_hash: &str) -> Result<Option<StaffSession>, DbError> {
        let sql = "SELECT * FROM staff_sessions WHERE token_hash = $1";
        on_pool!(self, pool => sqlx::query_as(sql).bind(token_hash).fetch_optional(pool).await).map_err(map_err)
    }

    pub(super) async fn review_delete_session(&self, token_hash: &str) -> Result<(), DbError> {
        on_pool!(self, pool => sqlx::query("DELETE FROM staff_sessions WHERE token_hash = $1").bind(token_hash)
            .execute(pool).await.map(|_| ()))
        .map_err(map_err)
    }

    pub(super) async fn review_decide(&self, d: &ReviewDecision) -> Result<ReviewCase, DbError> {
        let decide = "UPDATE review_cases SET status = 'decided', decided_by = $2, decided_at = $3, decision = $4,
                          comment = $5
                      WHERE id = $1 AND status = 'claimed' AND claimed_by = $2 RETURNING *";
        let insert_event = "INSERT INTO cart_events (id, store_id, visit_id, kind, sku, quantity, confidence, source,
                                evidence_ref, shopper_id, track_id, at, recorded_at)
                            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
        let insert_audit =
            "INSERT INTO audit_log (at, actor, action, subject, detail_json) VALUES ($1, $2, $3, $4, $5)";
        let decided: Option<ReviewCase> = on_pool!(self, pool => async {
            let mut tx = pool.begin().await.map_err(map_err)?;
            let decided: Option<ReviewCase> = sqlx::query_as(decide)
                .bind(&d.case_id).bind(&d.staff).bind(d.at).bind(&d.decision).bind(&d.comment)
                .fetch_optional(&mut *tx).await.map_err(map_err)?;
            if decided.is_none() {
                return Ok::<_, DbError>(None); // dropped: rolled back
            }
            for e in &d.corrections {
                sqlx::query(insert_event)
                    .bind(&e.id).bind(&e.store_id).bind(&e.visit_id).bind(e.kind.as_str()).bind(&e.sku)
                    .bind(e.quantity).bind(e.confidence).bind(&e.source).bind(&e.evidence_ref)
                    .bind(&e.shopper_id).bind(&e.track_id).bind(e.at).bind(now_ms())
                    .execute(&mut *tx).await.map_err(map_err)?;
            }
            for a in &d.audit {
                sqlx::query(insert_audit).bind(a.at).bind(&a.actor).bind(&a.action).bind(&a.subject)
                    .bind(&a.detail_json).execute(&mut *tx).await.map_err(map_err)?;
            }
            tx.commit().await.map_err(map_err)?;
            Ok(decided)
        }.await)?;
        match decided {
            Some(case) => Ok(case),
            None => match self.get_review_case(&d.case_id).await? {
                None => Err(DbError::NotFound { what: "review case", id: d.case_id.to_string() }),
                Some(c) if c.status == "decided" => {
                    Err(DbError::State(format!("review case {} is already decided", d.case_id)))
                }
                Some(_) => Err(DbError::State(format!("review case {} is not claimed by {}", d.case_id, d.staff))),
            },
        }
    }

    pub(super) async fn review_cases_in(
        &self,
        store: &StoreId,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<ReviewCase>, DbError> {
        let sql = "SELECT * FROM review_cases WHERE store_id = $1 AND created_at >= $2 AND created_at < $3
                   ORDER BY created_at, id";
        on_pool!(self, pool => sqlx::query_as(sql).bind(store).bind(from).bind(to).fetch_all(pool).await)
            .map_err(map_err)
    }

    pub(super) async fn review_receipts_between(
        &self,
        store: &StoreId,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<Receipt>, DbError> {
        let sql = "SELECT * FROM receipts WHERE store_id = $1 AND issued_at >= $2 AND issued_at < $3
                   ORDER BY receipt_no";
        on_pool!(self, pool => sqlx::query_as(sql).bind(store).bind(from).bind(to).fetch_all(pool).await)
            .map_err(map_err)
    }

    pub(super) async fn review_visits_exited_between(
        &self,
        store: &StoreId,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<Visit>, DbError> {
        let sql = "SELECT * FROM visits WHERE store_id = $1 AND exited_at >= $2 AND exited_at < $3
                   ORDER BY exited_at, id";
        on_pool!(self, pool => sqlx::query_as(sql).bind(store).bind(from).bind(to).fetch_all(pool).await)
            .map_err(map_err)
    }

    pub(super) async fn review_audit_by_action(
        &self,
        action: &str,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<AuditEntry>, DbError> {
        let sql = "SELECT * FROM audit_log WHERE action = $1 AND at >= $2 AND at < $3 ORDER BY seq";
        on_pool!(self, pool => sqlx::query_as(sql).bind(action).bind(from).bind(to).fetch_all(pool).await)
            .map_err(map_err)
    }

    pub(super) async fn review_add_evidence(&self, e: &Evidence) -> Result<(), DbError> {
        let sql = "INSERT INTO evidence (id, visit_id, event_id, kind, source, path, at, created_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        on_pool!(self, pool => sqlx::query(sql).bind(&e.id).bind(&e.visit_id).bind(&e.event_id).bind(&e.kind)
            .bind(&e.source).bind(&e.path).bind(e.at).bind(e.created_at).execute(pool).await.map(|_| ()))
        .map_err(map_err)
    }

    pub(super) async fn review_get_evidence(&self, id: &str) -> Result<Option<Evidence>, DbError> {
        let sql = "SELECT * FROM evidence WHERE id = $1";
        on_pool!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await).map_err(map_err)
    }

    pub(super) async fn review_evidence_for_visit(&self, visit: &VisitId) -> Result<Vec<Evidence>, DbError> {
        let sql = "SELECT * FROM evidence WHERE visit_id = $1 ORDER BY at, kind, source, id";
        on_pool!(self, pool => sqlx::query_as(sql).bind(visit).fetch_all(pool).await).map_err(map_err)
    }

    pub(super) async fn review_evidence_before(&self, cutoff: Millis, limit: i64) -> Result<Vec<Evidence>, DbError> {
        let sql = "SELECT * FROM evidence WHERE created_at < $1 ORDER BY created_at, id LIMIT $2";
        on_pool!(self, pool => sqlx::query_as(sql).bind(cutoff).bind(limit).fetch_all(pool).await).map_err(map_err)
    }

    pub(super) async fn review_delete_evidence(&self, id: &str) -> Result<bool, DbError> {
        let n = on_pool!(self, pool => sqlx::query("DELETE FROM evidence WHERE id = $1").bind(id)
            .execute(pool).await.map(|r| r.rows_affected()))
        .map_err(map_err)?;
        Ok(n == 1)
    }
}
