//! Rate limits: GCRA token buckets (the `governor` crate) on requests and bytes per
//! second, separately for reads and writes, per tenant, per access key, and per source
//! address for anonymous requests.
//!
//! Requests are admitted (or refused with `SlowDown`) in the access check, after
//! authentication; bytes are charged as bodies stream through [`MeteredBody`], so a large
//! upload already admitted is slowed, never cut off. Limits come from the config and from
//! per-tenant / per-key overrides stored in the metadata store, changed at run time.
//!
//! Memory is bounded: a bucket idle for longer than it takes to refill is the same as a
//! new one, so such entries are dropped whenever the table reaches `max_tracked`.

mod body;
pub mod xml_body;

pub use body::MeteredBody;

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::StateInformationMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use serde::{Deserialize, Serialize};

use crate::auth::Principal;
pub use crate::meta::Rates;
use crate::meta::Store;

/// Which way a request moves data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// GET, HEAD and list requests: charged to the read rates, their response bodies to `read_bytes`.
    Read,
    /// Every other request: charged to the write rates, its request body to `write_bytes`.
    Write,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    ReadRequests = 0,
    WriteRequests = 1,
    ReadBytes = 2,
    WriteBytes = 3,
    /// Refused unauthenticated requests of a source address.
    Failures = 4,
}

impl Kind {
    /// This kind's limit in `rates`.
    fn limit_in(self, rates: &Rates) -> u64 {
        match self {
            Self::ReadRequests => u64::from(rates.read_requests),
            Self::WriteRequests => u64::from(rates.write_requests),
            Self::ReadBytes => rates.read_bytes,
            Self::WriteBytes => rates.write_bytes,
            // Not a rate of a subject's: configured for every address alike.
            Self::Failures => 0,
        }
    }
}

impl Class {
    fn requests(self) -> Kind {
        match self {
            Self::Read => Kind::ReadRequests,
            Self::Write => Kind::WriteRequests,
        }
    }
    fn bytes(self) -> Kind {
        match self {
            Self::Read => Kind::ReadBytes,
            Self::Write => Kind::WriteBytes,
        }
    }
}

/// Who a limit applies to. Overrides are stored under [`Subject::id`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    /// Every key of a tenant together.
    Tenant(String),
    /// One access key, by id.
    Key(String),
    /// An anonymous caller, by its peer address.
    Address(IpAddr),
}

impl Subject {
    /// The stored form: `tenant:NAME`, `key:ACCESSKEY`, `address:IP`.
    #[must_use]
    pub fn id(&self) -> String {
        match self {
            Self::Tenant(t) => format!("tenant:{t}"),
            Self::Key(k) => format!("key:{k}"),
            Self::Address(a) => format!("address:{a}"),
        }
    }

    /// Parses the stored form (only tenants and keys take overrides).
    pub fn parse(id: &str) -> Option<Self> {
        match id.split_once(':')? {
            ("tenant", t) if !t.is_empty() => Some(Self::Tenant(t.to_owned())),
            ("key", k) if !k.is_empty() => Some(Self::Key(k.to_owned())),
            _ => None,
        }
    }
}

/// The `[limits]` section of the config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Off: no limiter at all (no headers, no state).
    pub enabled: bool,
    /// Default limits of each tenant (all its keys together).
    pub tenant: Rates,
    /// Default limits of each access key.
    pub key: Rates,
    /// Limits of anonymous requests, per source address.
    pub anonymous: Rates,
    /// Refused unauthenticated requests (anonymous denials, bad signatures, unknown keys)
    /// per second per source address; past it, the address's requests are answered
    /// `503 SlowDown` before authentication until its budget refills. 0: no limit.
    pub unauthenticated_failures: u32,
    /// Token buckets kept in memory before idle ones are evicted.
    pub max_tracked: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self { enabled: true, tenant: Rates::default(), key: Rates::default(), anonymous: Rates::default(), unauthenticated_failures: 20, max_tracked: 100_000 }
    }
}

/// governor's clock on tokio's: real time in service, controllable in tests
/// (`tokio::time::pause`).
#[derive(Debug, Clone)]
struct TokioClock {
    origin: tokio::time::Instant,
}

impl Clock for TokioClock {
    type Instant = Duration;
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

type Gcra = RateLimiter<NotKeyed, InMemoryState, TokioClock, StateInformationMiddleware>;

/// One token bucket and the rate it was built for.
struct Bucket {
    gcra: Arc<Gcra>,
    rate: u64,
}

/// A subject's buckets, one per [`Kind`], made on first use.
#[derive(Default)]
struct SubjectBuckets {
    kinds: [Option<Bucket>; 5],
    last_used: Duration,
    /// A source address that spent its failure budget is refused before authentication
    /// until then.
    blocked_until: Duration,
}

/// A byte bucket handed to a streaming body.
#[derive(Clone)]
pub struct ByteBucket {
    gcra: Arc<Gcra>,
    clock: TokioClock,
    burst: u32,
}

impl std::fmt::Debug for ByteBucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ByteBucket").field("bytes_per_sec", &self.burst).finish_non_exhaustive()
    }
}

impl ByteBucket {
    /// Takes up to `want` bytes' worth of tokens: how many were taken, or how long to
    /// wait before trying again.
    fn take(&self, want: u64) -> Result<u64, Duration> {
        let n = u32::try_from(want).unwrap_or(u32::MAX).min(self.burst).max(1);
        let cells = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        match self.gcra.check_n(cells) {
            Ok(Ok(_)) => Ok(u64::from(n)),
            Ok(Err(not_until)) => Err(not_until.wait_time_from(self.clock.now()).max(Duration::from_millis(1))),
            // n never exceeds the burst; treat the impossible as "wait a second".
            Err(_) => Err(Duration::from_secs(1)),
        }
    }
}

/// What an admitted request carries: its rate-limit headers and the byte buckets its
/// body is charged to.
#[derive(Debug, Clone, Default)]
pub struct Admission {
    /// `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` of the tightest
    /// request bucket, if any applies.
    pub headers: Option<(u64, u64, u64)>,
    /// One per subject (tenant, then key) with a byte rate for the class; empty: bytes are not limited.
    pub bytes: Vec<ByteBucket>,
}

impl Admission {
    /// Pays for `n` bytes already read, waiting as a metered body would have: a form
    /// upload's file, which s3s reads whole before the access check admits the request.
    pub async fn charge(&self, n: u64) {
        for bucket in &self.bytes {
            let mut owed = n;
            while owed > 0 {
                match bucket.take(owed) {
                    Ok(taken) => owed = owed.saturating_sub(taken),
                    Err(wait) => tokio::time::sleep(wait).await,
                }
            }
        }
    }
}

/// A refused request: when to retry, and the headers to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// How long to wait before retrying (`Retry-After`).
    pub retry_after: Duration,
    /// The rate of the bucket that refused (`RateLimit-Limit`).
    pub limit: u64,
}

/// Per-subject token buckets for requests and body bytes, with the stored overrides of the configured rates.
pub struct Limiter {
    config: LimitsConfig,
    clock: TokioClock,
    overrides: RwLock<HashMap<Subject, Rates>>,
    buckets: Mutex<HashMap<Subject, SubjectBuckets>>,
    /// The live instances of this gateway's cluster (1 alone): each enforces its share of
    /// every rate, so that the cluster's total is the configured rate.
    instances: std::sync::atomic::AtomicU32,
}

impl Limiter {
    /// A limiter with the overrides currently stored.
    pub fn new(config: LimitsConfig, store: &dyn Store) -> crate::meta::Result<Self> {
        let overrides = store.limits_all()?.into_iter().filter_map(|(id, r)| Some((Subject::parse(&id)?, r))).collect();
        Ok(Self {
            config,
            clock: TokioClock { origin: tokio::time::Instant::now() },
            overrides: RwLock::new(overrides),
            buckets: Mutex::new(HashMap::new()),
            instances: std::sync::atomic::AtomicU32::new(1),
        })
    }

    /// Whether rate limiting is configured on (off: every request is admitted, no headers).
    #[must_use]
    pub fn enabled(&self) -> bool {
        self.config.enabled
    }

    /// Replaces (or with `None` removes) the override of `subject`, effective for the next
    /// request. The caller has stored it (see the [`crate::meta::ControlListener`]).
    pub fn set_override(&self, subject: &Subject, rates: Option<Rates>) {
        let mut map = self.overrides.write().unwrap_or_else(PoisonError::into_inner);
        match rates {
            Some(r) => map.insert(subject.clone(), r),
            None => map.remove(subject),
        };
    }

    /// Shares every rate among `live` instances from now on (the cluster's heartbeats
    /// tell how many; 0 counts as 1). A bucket whose share changed is remade full.
    pub fn set_instances(&self, live: u32) {
        self.instances.store(live.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    /// This instance's share of a cluster-wide `rate` (rounded up: a rate is never shared
    /// down to nothing).
    fn share(&self, rate: u64) -> u64 {
        rate.div_ceil(u64::from(self.instances.load(std::sync::atomic::Ordering::Relaxed).max(1)))
    }

    /// The limits in force for `subject`: its override, else the configured default.
    #[must_use]
    pub fn effective(&self, subject: &Subject) -> Rates {
        if let Some(r) = self.overrides.read().unwrap_or_else(PoisonError::into_inner).get(subject) {
            return *r;
        }
        match subject {
            Subject::Tenant(_) => self.config.tenant,
            Subject::Key(_) => self.config.key,
            Subject::Address(_) => self.config.anonymous,
        }
    }

    fn subjects(principal: &Principal, peer: IpAddr) -> Vec<Subject> {
        match principal.identity() {
            None => vec![Subject::Address(peer)],
            // Root is the operator: never limited.
            Some(i) if i.root => Vec::new(),
            Some(i) => vec![Subject::Tenant(i.tenant.clone()), Subject::Key(i.access_key.clone())],
        }
    }

    /// Admits one request of `class`, or says when to retry.
    pub fn admit(&self, principal: &Principal, peer: IpAddr, class: Class) -> Result<Admission, Throttled> {
        let mut admission = Admission::default();
        if !self.config.enabled {
            return Ok(admission);
        }
        let subjects = Self::subjects(principal, peer);
        let rates: Vec<(Subject, Rates)> = subjects
            .into_iter()
            .map(|s| {
                let r = self.effective(&s);
                (s, r)
            })
            .collect();
        if rates.iter().all(|(_, r)| class.requests().limit_in(r) == 0 && class.bytes().limit_in(r) == 0) {
            return Ok(admission);
        }
        let now = self.clock.now();
        let mut table = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        for (subject, r) in &rates {
            let rate = self.share(class.requests().limit_in(r));
            if rate == 0 {
                continue;
            }
            let gcra = self.bucket(&mut table, subject, class.requests(), rate, now);
            match gcra.check() {
                Ok(snapshot) => {
                    let remaining = u64::from(snapshot.remaining_burst_capacity());
                    // The reset: time until the bucket is full again.
                    let reset = (rate - remaining.min(rate)).div_ceil(rate.max(1));
                    if admission.headers.is_none_or(|(_, rem, _)| remaining < rem) {
                        admission.headers = Some((rate, remaining, reset));
                    }
                }
                Err(not_until) => {
                    return Err(Throttled { retry_after: not_until.wait_time_from(now), limit: rate });
                }
            }
        }
        for (subject, r) in &rates {
            let rate = self.share(class.bytes().limit_in(r));
            if rate > 0 {
                let gcra = self.bucket(&mut table, subject, class.bytes(), rate, now);
                admission.bytes.push(ByteBucket { gcra, clock: self.clock.clone(), burst: burst(rate).get() });
            }
        }
        Ok(admission)
    }

    /// The bucket of `(subject, kind)` for `rate`, made (or remade, if the rate changed)
    /// as needed; evicts idle subjects when the table is full.
    fn bucket(&self, table: &mut HashMap<Subject, SubjectBuckets>, subject: &Subject, kind: Kind, rate: u64, now: Duration) -> Arc<Gcra> {
        if !table.contains_key(subject) && table.len() >= self.config.max_tracked.max(1) {
            Self::evict(table, now, self.config.max_tracked.max(1));
        }
        let entry = match table.get_mut(subject) {
            Some(e) => e,
            None => table.entry(subject.clone()).or_default(),
        };
        entry.last_used = now;
        let slot = &mut entry.kinds[kind as usize];
        match slot {
            Some(b) if b.rate == rate => b.gcra.clone(),
            _ => {
                let quota = Quota::per_second(burst(rate));
                let gcra = Arc::new(RateLimiter::direct_with_clock(quota, self.clock.clone()).with_middleware::<StateInformationMiddleware>());
                *slot = Some(Bucket { gcra: gcra.clone(), rate });
                gcra
            }
        }
    }

    /// Drops subjects idle for a full refill (fresh buckets behave the same); if a flood
    /// of new subjects leaves the table still full, drops the least recently used half.
    fn evict(table: &mut HashMap<Subject, SubjectBuckets>, now: Duration, max: usize) {
        const REFILL: Duration = Duration::from_secs(1);
        table.retain(|_, b| now.saturating_sub(b.last_used) < REFILL);
        if table.len() >= max {
            let mut ages: Vec<Duration> = table.values().map(|b| b.last_used).collect();
            ages.sort_unstable();
            let cutoff = ages[ages.len() / 2];
            table.retain(|_, b| b.last_used > cutoff);
        }
    }

    /// How long `peer` is still refused before authentication, if it spent its budget of
    /// unauthenticated failures.
    #[must_use]
    pub fn blocked(&self, peer: IpAddr) -> Option<Throttled> {
        let rate = u64::from(self.config.unauthenticated_failures);
        if !self.config.enabled || rate == 0 {
            return None;
        }
        let now = self.clock.now();
        let table = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let until = table.get(&Subject::Address(peer))?.blocked_until;
        (until > now).then(|| Throttled { retry_after: until - now, limit: rate })
    }

    /// Charges an unauthenticated refusal to `peer`'s failure budget; once it is spent,
    /// [`Limiter::blocked`] refuses the address until the budget refills.
    pub fn charge_failure(&self, peer: IpAddr) {
        let rate = u64::from(self.config.unauthenticated_failures);
        if !self.config.enabled || rate == 0 {
            return;
        }
        let now = self.clock.now();
        let subject = Subject::Address(peer);
        let mut table = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let gcra = self.bucket(&mut table, &subject, Kind::Failures, rate, now);
        if let Err(not_until) = gcra.check()
            && let Some(entry) = table.get_mut(&subject)
        {
            entry.blocked_until = now + not_until.wait_time_from(now).max(Duration::from_millis(1));
        }
    }

    /// Subjects whose buckets are held (for tests and metrics).
    #[must_use]
    pub fn tracked(&self) -> usize {
        self.buckets.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

/// A burst of one second's worth (at least 1, at most `u32::MAX` cells).
fn burst(rate: u64) -> NonZeroU32 {
    NonZeroU32::new(u32::try_from(rate).unwrap_or(u32::MAX)).unwrap_or(NonZeroU32::MIN)
}

impl crate::meta::ControlListener for Limiter {
    fn applied(&self, change: &crate::meta::ControlChange, _: &crate::meta::Applied) {
        if let crate::meta::ControlChange::Limits { subject, rates } = change
            && let Some(subject) = Subject::parse(subject)
        {
            self.set_override(&subject, *rates);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Identity, Role};

    fn limiter(config: LimitsConfig) -> Limiter {
        Limiter {
            config,
            clock: TokioClock { origin: tokio::time::Instant::now() },
            overrides: RwLock::new(HashMap::new()),
            buckets: Mutex::new(HashMap::new()),
            instances: std::sync::atomic::AtomicU32::new(1),
        }
    }

    fn user(tenant: &str, key: &str) -> Principal {
        Principal::Key(identity(tenant, key))
    }

    fn identity(tenant: &str, key: &str) -> Identity {
        Identity { tenant: tenant.into(), user: "u".into(), access_key: key.into(), role: Role::Writer, root: false }
    }

    const PEER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn per_key(read_requests: u32) -> LimitsConfig {
        LimitsConfig { key: Rates { read_requests, ..Rates::default() }, ..LimitsConfig::default() }
    }

    #[tokio::test(start_paused = true)]
    async fn an_address_that_spends_its_failure_budget_is_refused_until_it_refills() {
        let l = limiter(LimitsConfig { unauthenticated_failures: 5, ..LimitsConfig::default() });
        let other: IpAddr = "10.1.1.1".parse().unwrap();
        for _ in 0..5 {
            assert!(l.blocked(PEER).is_none());
            l.charge_failure(PEER);
        }
        assert!(l.blocked(PEER).is_none(), "the burst itself is allowed");
        l.charge_failure(PEER);
        let t = l.blocked(PEER).expect("the sixth failure in an instant blocks the address");
        assert_eq!(t.limit, 5);
        assert!(t.retry_after <= Duration::from_millis(200), "{:?}", t.retry_after);
        assert!(l.blocked(other).is_none(), "other addresses are not affected");
        tokio::time::advance(Duration::from_millis(250)).await;
        assert!(l.blocked(PEER).is_none(), "unblocked once a failure's worth refilled");
        let off = limiter(LimitsConfig { unauthenticated_failures: 0, ..LimitsConfig::default() });
        for _ in 0..100 {
            off.charge_failure(PEER);
        }
        assert!(off.blocked(PEER).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn burst_then_refill_at_the_rate() {
        let l = limiter(per_key(10));
        let p = user("a", "K1");
        for i in 0..10 {
            let a = l.admit(&p, PEER, Class::Read).unwrap_or_else(|_| panic!("request {i} of the burst refused"));
            assert_eq!(a.headers.unwrap().1, 9 - i, "remaining after request {i}");
        }
        let t = l.admit(&p, PEER, Class::Read).expect_err("the 11th request in the same instant is throttled");
        assert_eq!(t.limit, 10);
        assert!(t.retry_after > Duration::ZERO && t.retry_after <= Duration::from_millis(100), "{:?}", t.retry_after);
        // One token every 100 ms.
        tokio::time::advance(Duration::from_millis(100)).await;
        l.admit(&p, PEER, Class::Read).unwrap();
        assert!(l.admit(&p, PEER, Class::Read).is_err());
        // A full second refills the whole burst, and no more.
        tokio::time::advance(Duration::from_secs(5)).await;
        for _ in 0..10 {
            l.admit(&p, PEER, Class::Read).unwrap();
        }
        assert!(l.admit(&p, PEER, Class::Read).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn each_live_instance_enforces_its_share_of_the_rate() {
        let l = limiter(per_key(10));
        let p = user("a", "K1");
        l.set_instances(3);
        for _ in 0..4 {
            assert_eq!(l.admit(&p, PEER, Class::Read).unwrap().headers.unwrap().0, 4, "10 shared by 3, rounded up");
        }
        assert_eq!(l.admit(&p, PEER, Class::Read).unwrap_err().limit, 4);
        l.set_instances(0);
        for _ in 0..10 {
            l.admit(&p, PEER, Class::Read).unwrap();
        }
        assert!(l.admit(&p, PEER, Class::Read).is_err(), "alone again: the whole rate, no more");
    }

    #[tokio::test(start_paused = true)]
    async fn reads_and_writes_keys_and_tenants_are_separate() {
        let l = limiter(LimitsConfig { tenant: Rates { write_requests: 3, ..Rates::default() }, ..per_key(2) });
        let (k1, k2, other) = (user("a", "K1"), user("a", "K2"), user("b", "K3"));
        l.admit(&k1, PEER, Class::Read).unwrap();
        l.admit(&k1, PEER, Class::Read).unwrap();
        assert!(l.admit(&k1, PEER, Class::Read).is_err(), "K1's reads are spent");
        l.admit(&k2, PEER, Class::Read).unwrap();
        // Writes have their own buckets; the tenant's write limit covers its keys together.
        l.admit(&k1, PEER, Class::Write).unwrap();
        l.admit(&k1, PEER, Class::Write).unwrap();
        l.admit(&k2, PEER, Class::Write).unwrap();
        assert!(l.admit(&k2, PEER, Class::Write).is_err(), "tenant a's 3 writes are spent");
        l.admit(&other, PEER, Class::Write).unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn overrides_apply_at_once_and_root_is_never_limited() {
        let l = limiter(per_key(1));
        let p = user("a", "K1");
        l.admit(&p, PEER, Class::Read).unwrap();
        assert!(l.admit(&p, PEER, Class::Read).is_err());
        l.set_override(&Subject::Key("K1".into()), Some(Rates { read_requests: 100, ..Rates::default() }));
        for _ in 0..50 {
            l.admit(&p, PEER, Class::Read).unwrap();
        }
        l.set_override(&Subject::Key("K1".into()), Some(Rates::default()));
        for _ in 0..500 {
            l.admit(&p, PEER, Class::Read).unwrap();
        }
        let root = Principal::Key(Identity { root: true, ..identity("", "ROOT") });
        let l = limiter(LimitsConfig { tenant: Rates { read_requests: 1, ..Rates::default() }, ..per_key(1) });
        for _ in 0..100 {
            l.admit(&root, PEER, Class::Read).unwrap();
        }
    }

    #[tokio::test(start_paused = true)]
    async fn anonymous_requests_are_limited_per_address() {
        let l = limiter(LimitsConfig { anonymous: Rates { read_requests: 1, ..Rates::default() }, ..LimitsConfig::default() });
        let anon = Principal::Anonymous;
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        l.admit(&anon, PEER, Class::Read).unwrap();
        assert!(l.admit(&anon, PEER, Class::Read).is_err());
        l.admit(&anon, other, Class::Read).unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn state_stays_bounded_under_a_flood_of_addresses() {
        let max = 1000;
        let l = limiter(LimitsConfig { anonymous: Rates { read_requests: 5, ..Rates::default() }, max_tracked: max, ..LimitsConfig::default() });
        let anon = Principal::Anonymous;
        for i in 0..50_000u32 {
            let addr = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            l.admit(&anon, addr, Class::Read).unwrap();
            assert!(l.tracked() <= max, "{} buckets after {i} addresses", l.tracked());
            if i % 5000 == 0 {
                tokio::time::advance(Duration::from_millis(300)).await;
            }
        }
        // A flooding address that keeps coming back is still limited after the evictions.
        let hot: IpAddr = "10.255.255.255".parse().unwrap();
        for _ in 0..5 {
            l.admit(&anon, hot, Class::Read).unwrap();
        }
        assert!(l.admit(&anon, hot, Class::Read).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn byte_buckets_pace_a_stream() {
        let l = limiter(LimitsConfig { key: Rates { write_bytes: 1000, ..Rates::default() }, ..LimitsConfig::default() });
        let a = l.admit(&user("a", "K1"), PEER, Class::Write).unwrap();
        assert!(a.headers.is_none(), "no request limit, no request headers");
        let b = &a.bytes[0];
        assert_eq!(b.take(5000), Ok(1000), "at most one burst at a time");
        let wait = b.take(500).unwrap_err();
        assert!(wait >= Duration::from_millis(400) && wait <= Duration::from_millis(500), "{wait:?}");
        tokio::time::advance(wait).await;
        assert_eq!(b.take(500), Ok(500));
    }
}
