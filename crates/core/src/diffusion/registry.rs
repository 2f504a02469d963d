//! The generations the image front knows (`GenerationRegistry`): created `pending`, updated by the
//! manager, dropped once terminal and older than the max age.
//!
//! Upstream drops expired entries on a timer (`cleanupIntervalMs`), so a finished result stays
//! readable up to one interval past its TTL. Here the TTL is **enforced on read**: `get`, `update`,
//! `ids` and `len` never see an expired entry, and `create` sweeps, so the front answers 404 as
//! soon as the TTL has passed and no timer is needed. `cleanup(max_age)` stays for callers of the
//! exported class.

use super::{GenerationState, GenerationStatus, ImageRequest};
use indexmap::IndexMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the epoch (`Date.now()`); tests inject their own.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// `Date.now()`.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Thread-safe: every method takes `&self`.
pub struct Registry {
    /// In creation order, as upstream's `Map` (`ids()` lists them so).
    entries: Mutex<IndexMap<String, GenerationState>>,
    max_age_ms: u64,
    clock: Clock,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("max_age_ms", &self.max_age_ms)
            .field("len", &self.lock().len())
            .finish()
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Upstream's rule: terminal, and last updated more than `max_age_ms` ago.
fn expired(state: &GenerationState, now: u64, max_age_ms: u64) -> bool {
    state.status.is_terminal() && now.saturating_sub(state.updated_at) > max_age_ms
}

impl Registry {
    /// Finished generations are kept `max_age` after their last update
    /// (`constants::IMAGE_RESULT_TTL` by default upstream).
    pub fn new(max_age: Duration) -> Self {
        Self::with_clock(max_age, Arc::new(now_ms))
    }

    pub fn with_clock(max_age: Duration, clock: Clock) -> Self {
        Registry {
            entries: Mutex::new(IndexMap::new()),
            max_age_ms: ms(max_age),
            clock,
        }
    }

    pub fn max_age(&self) -> Duration {
        Duration::from_millis(self.max_age_ms)
    }

    /// The registry's clock (ms since the epoch).
    pub fn now(&self) -> u64 {
        (self.clock)()
    }

    /// A poisoned lock still holds consistent entries (updates are single assignments).
    fn lock(&self) -> MutexGuard<'_, IndexMap<String, GenerationState>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The entries with the expired ones dropped.
    fn live(&self) -> MutexGuard<'_, IndexMap<String, GenerationState>> {
        let now = self.now();
        let mut entries = self.lock();
        entries.retain(|_, s| !expired(s, now, self.max_age_ms));
        entries
    }

    /// A new `pending` generation; its id (`gen_<ms>_<9 base-36 characters>`).
    pub fn create(&self, config: ImageRequest) -> String {
        let id = crate::ids::generate_id();
        let now = self.now();
        let state = GenerationState {
            id: id.clone(),
            status: GenerationStatus::Pending,
            created_at: now,
            updated_at: now,
            config,
            progress: None,
            result: None,
            error: None,
        };
        self.live().insert(id.clone(), state);
        id
    }

    /// A copy of the generation; `None` when unknown or expired.
    pub fn get(&self, id: &str) -> Option<GenerationState> {
        let now = self.now();
        let mut entries = self.lock();
        match entries.get(id) {
            Some(s) if expired(s, now, self.max_age_ms) => {
                entries.shift_remove(id);
                None
            }
            other => other.cloned(),
        }
    }

    /// Changes a generation in place and bumps its `updatedAt`; nothing for an unknown or
    /// expired id. `f` runs under the registry's lock: it must not call the registry.
    pub fn update(&self, id: &str, f: impl FnOnce(&mut GenerationState)) {
        let now = self.now();
        let mut entries = self.lock();
        if entries
            .get(id)
            .is_some_and(|s| expired(s, now, self.max_age_ms))
        {
            entries.shift_remove(id);
            return;
        }
        if let Some(state) = entries.get_mut(id) {
            f(state);
            state.id = id.to_string(); // the key and the id stay one
            state.updated_at = now;
        }
    }

    /// `GenerationRegistry.update(id, updates)` from JavaScript: the given fields replace the
    /// entry's (`Object.assign`), checked against `GenerationState`; a bad value changes
    /// nothing. An unknown id is a no-op, as upstream.
    pub fn merge(
        &self,
        id: &str,
        updates: serde_json::Map<String, serde_json::Value>,
    ) -> crate::Result<()> {
        let Some(current) = self.get(id) else {
            return Ok(());
        };
        let mut value = serde_json::to_value(&current).unwrap_or_default();
        if let Some(fields) = value.as_object_mut() {
            fields.extend(updates);
        }
        let next: GenerationState = serde_json::from_value(value).map_err(|e| {
            crate::Error::server(
                format!("Invalid generation update: {e}"),
                Some(serde_json::json!({ "code": "INVALID_REQUEST", "id": id })),
            )
        })?;
        self.update(id, |state| *state = next);
        Ok(())
    }

    pub fn delete(&self, id: &str) {
        self.lock().shift_remove(id);
    }

    /// The ids, oldest first (`getAllIds()`).
    pub fn ids(&self) -> Vec<String> {
        self.live().keys().cloned().collect()
    }

    /// `size()`.
    pub fn len(&self) -> usize {
        self.live().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops the terminal generations last updated more than `max_age` ago; how many.
    pub fn cleanup(&self, max_age: Duration) -> usize {
        let now = self.now();
        let max_age_ms = ms(max_age);
        let mut entries = self.lock();
        let before = entries.len();
        entries.retain(|_, s| !expired(s, now, max_age_ms));
        before - entries.len()
    }

    pub fn clear(&self) {
        self.lock().clear();
    }
}

#[cfg(test)]
mod merge_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_replaces_given_fields_and_refuses_bad_values() {
        let r = Registry::new(Duration::from_secs(60));
        let id = r.create(ImageRequest {
            prompt: "p".into(),
            ..Default::default()
        });
        let updates = json!({ "status": "in_progress", "progress": { "currentStep": 1, "totalSteps": 2, "stage": "diffusion", "percentage": 40 } });
        r.merge(&id, updates.as_object().cloned().unwrap()).unwrap();
        let g = r.get(&id).unwrap();
        assert_eq!(g.status, GenerationStatus::InProgress);
        assert_eq!(g.progress.unwrap().current_step, 1);
        let bad = json!({ "status": "sleeping" });
        assert!(r.merge(&id, bad.as_object().cloned().unwrap()).is_err());
        assert_eq!(r.get(&id).unwrap().status, GenerationStatus::InProgress);
        assert!(r.merge("nope", serde_json::Map::new()).is_ok());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A registry on a clock the test moves.
    fn registry(max_age_ms: u64) -> (Registry, Arc<AtomicU64>) {
        let now = Arc::new(AtomicU64::new(1_000_000));
        let clock = now.clone();
        let reg = Registry::with_clock(
            Duration::from_millis(max_age_ms),
            Arc::new(move || clock.load(Ordering::SeqCst)),
        );
        (reg, now)
    }

    fn request(prompt: &str) -> ImageRequest {
        ImageRequest {
            prompt: prompt.into(),
            ..Default::default()
        }
    }

    fn finish(reg: &Registry, id: &str, status: GenerationStatus) {
        reg.update(id, |s| s.status = status);
    }

    #[test]
    fn create_get_update_delete() {
        let (reg, now) = registry(1000);
        let id = reg.create(request("a"));
        assert!(id.starts_with("gen_"));
        let s = reg.get(&id).unwrap();
        assert_eq!(
            (s.status, s.created_at, s.updated_at),
            (GenerationStatus::Pending, 1_000_000, 1_000_000)
        );
        assert_eq!(s.config.prompt, "a");
        now.store(1_000_050, Ordering::SeqCst);
        reg.update(&id, |s| {
            s.status = GenerationStatus::InProgress;
            s.id = "other".into();
        });
        let s = reg.get(&id).unwrap();
        assert_eq!(
            (s.status, s.updated_at, s.id.as_str()),
            (GenerationStatus::InProgress, 1_000_050, id.as_str())
        );
        reg.update("gen_unknown", |_| panic!("not called for an unknown id"));
        let second = reg.create(request("b"));
        assert_eq!(reg.ids(), vec![id.clone(), second.clone()]);
        assert_eq!(reg.len(), 2);
        reg.delete(&id);
        assert!(reg.get(&id).is_none());
        assert_eq!(reg.ids(), vec![second]);
        reg.clear();
        assert!(reg.is_empty());
    }

    #[test]
    fn ttl_is_enforced_on_read() {
        let (reg, now) = registry(1000);
        let done = reg.create(request("done"));
        let running = reg.create(request("running"));
        finish(&reg, &done, GenerationStatus::Complete);
        reg.update(&running, |s| s.status = GenerationStatus::InProgress);
        now.fetch_add(1000, Ordering::SeqCst);
        assert!(reg.get(&done).is_some(), "exactly max age: still kept");
        now.fetch_add(1, Ordering::SeqCst);
        assert!(reg.get(&done).is_none(), "expired before any cleanup ran");
        assert!(
            reg.get(&running).is_some(),
            "never expires while not terminal"
        );
        assert_eq!(reg.ids(), vec![running.clone()]);
        assert_eq!(reg.len(), 1);
    }

    #[test]
    fn every_terminal_status_expires_and_create_sweeps() {
        let (reg, now) = registry(10);
        let ids: Vec<String> = [
            GenerationStatus::Complete,
            GenerationStatus::Error,
            GenerationStatus::Cancelled,
        ]
        .iter()
        .map(|st| {
            let id = reg.create(request("x"));
            finish(&reg, &id, *st);
            id
        })
        .collect();
        now.fetch_add(11, Ordering::SeqCst);
        reg.create(request("new"));
        assert_eq!(reg.lock().len(), 1, "create dropped the expired entries");
        for id in &ids {
            assert!(reg.get(id).is_none());
        }
        // An update of an expired entry does not bring it back.
        let late = reg.create(request("late"));
        finish(&reg, &late, GenerationStatus::Complete);
        now.fetch_add(11, Ordering::SeqCst);
        reg.update(&late, |s| s.status = GenerationStatus::Pending);
        assert!(reg.get(&late).is_none());
    }

    #[test]
    fn cleanup_takes_its_own_max_age() {
        let (reg, now) = registry(1_000_000);
        let a = reg.create(request("a"));
        let b = reg.create(request("b"));
        let c = reg.create(request("c"));
        finish(&reg, &a, GenerationStatus::Complete);
        finish(&reg, &b, GenerationStatus::Error);
        now.fetch_add(100, Ordering::SeqCst);
        assert_eq!(reg.cleanup(Duration::from_millis(100)), 0);
        assert_eq!(reg.cleanup(Duration::from_millis(99)), 2);
        assert_eq!(reg.ids(), vec![c]);
    }

    #[test]
    fn shared_between_threads() {
        let reg = Arc::new(Registry::new(Duration::from_secs(60)));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let reg = reg.clone();
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        let id = reg.create(request("t"));
                        reg.update(&id, |s| s.status = GenerationStatus::Complete);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(reg.len(), 200);
    }
}
